package sqlexec

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flightwal/flightwal/lsm"
)

// The table functions nearest(...) and search(...) (API.md, Flight SQL)
// are read before the engine sees the statement: each call is answered by
// an lsm nearest or search query over the statement's snapshot of its
// table, and the call is replaced by a temporary table holding the k rows
// (the table's columns and _distance or _score), so they compose with
// joins and aggregates like any table.

// fnCall is one nearest or search call of a statement.
type fnCall struct {
	table      string // as written
	query      lsm.Query
	start, end int // byte range of the call in the statement
}

// fnTableName is the temporary table answering the i-th call.
func fnTableName(i int) string { return fmt.Sprintf("__flightwal_fn_%d", i) }

// tableFunctions finds the nearest and search calls of sql and returns
// sql with each replaced by its temporary table's name.
func tableFunctions(sql string) (string, []fnCall, error) {
	var calls []fnCall
	toks := lex(sql)
	for i := 0; i+1 < len(toks); i++ {
		t := toks[i]
		if !(t.is("nearest") || t.is("search")) || toks[i+1].punct != '(' || i > 0 && toks[i-1].punct == '.' {
			continue
		}
		args, end, err := parseFnArgs(sql, toks[i+1].start+1)
		if err != nil {
			return "", nil, fmt.Errorf("%w: %s(...): %v", errInvalid, strings.ToLower(t.word), err)
		}
		c := fnCall{start: t.start, end: end}
		if t.is("nearest") {
			err = c.nearest(args)
		} else {
			err = c.search(args)
		}
		if err != nil {
			return "", nil, fmt.Errorf("%w: %s(...): %v", errInvalid, strings.ToLower(t.word), err)
		}
		calls = append(calls, c)
		for i+1 < len(toks) && toks[i+1].start < end {
			i++
		}
	}
	if len(calls) == 0 {
		return sql, nil, nil
	}
	var b strings.Builder
	at := 0
	for i, c := range calls {
		b.WriteString(sql[at:c.start])
		b.WriteString(fnTableName(i))
		at = c.end
	}
	b.WriteString(sql[at:])
	return b.String(), calls, nil
}

// fnArg is an argument: positional (name "") or named (name := value).
type fnArg struct {
	name  string
	value any // string, json.Number, []any
}

// parseFnArgs reads literal arguments from sql[pos:] up to the closing
// parenthesis; end is the byte after it.
func parseFnArgs(sql string, pos int) (args []fnArg, end int, err error) {
	i := pos
	skip := func() {
		for i < len(sql) && strings.ContainsRune(" \t\r\n", rune(sql[i])) {
			i++
		}
	}
	var value func() (any, error)
	value = func() (any, error) {
		skip()
		if i >= len(sql) {
			return nil, fmt.Errorf("unterminated arguments")
		}
		switch c := sql[i]; {
		case c == '\'':
			var b strings.Builder
			for i++; ; i++ {
				if i >= len(sql) {
					return nil, fmt.Errorf("unterminated string")
				}
				if sql[i] == '\'' {
					if i+1 < len(sql) && sql[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					i++
					return b.String(), nil
				}
				b.WriteByte(sql[i])
			}
		case c == '[':
			i++
			var list []any
			for {
				skip()
				if i < len(sql) && sql[i] == ']' {
					i++
					return list, nil
				}
				v, err := value()
				if err != nil {
					return nil, err
				}
				list = append(list, v)
				skip()
				if i < len(sql) && sql[i] == ',' {
					i++
				}
			}
		case c == '-' || c == '+' || c == '.' || '0' <= c && c <= '9':
			start := i
			i++
			for i < len(sql) && (sql[i] == '.' || sql[i] == 'e' || sql[i] == 'E' || '0' <= sql[i] && sql[i] <= '9' || (sql[i] == '-' || sql[i] == '+') && (sql[i-1] == 'e' || sql[i-1] == 'E')) {
				i++
			}
			n := json.Number(strings.TrimPrefix(sql[start:i], "+"))
			if _, err := n.Float64(); err != nil {
				return nil, fmt.Errorf("%q is not a number", sql[start:i])
			}
			return n, nil
		}
		return nil, fmt.Errorf("arguments are literals: 'strings', numbers, [lists] (at %q)", clip(sql[i:]))
	}
	for {
		skip()
		if i < len(sql) && sql[i] == ')' && len(args) == 0 {
			return nil, i + 1, nil
		}
		var a fnArg
		// name := value (or =>)
		j := i
		for j < len(sql) && isIdentPart(sql[j]) {
			j++
		}
		if j > i && isIdentStart(sql[i]) {
			k := j
			for k < len(sql) && sql[k] == ' ' {
				k++
			}
			if strings.HasPrefix(sql[k:], ":=") || strings.HasPrefix(sql[k:], "=>") {
				a.name = strings.ToLower(sql[i:j])
				i = k + 2
			}
		}
		v, err := value()
		if err != nil {
			return nil, 0, err
		}
		a.value = v
		args = append(args, a)
		skip()
		if i >= len(sql) {
			return nil, 0, fmt.Errorf("unterminated arguments")
		}
		switch sql[i] {
		case ',':
			i++
		case ')':
			return args, i + 1, nil
		default:
			return nil, 0, fmt.Errorf("expected ',' or ')' at %q", clip(sql[i:]))
		}
	}
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// split separates positional and named arguments, checking names.
func split(args []fnArg, names ...string) (pos []any, named map[string]any, err error) {
	named = map[string]any{}
	for _, a := range args {
		if a.name == "" {
			if len(named) > 0 {
				return nil, nil, fmt.Errorf("positional argument after a named one")
			}
			pos = append(pos, a.value)
			continue
		}
		ok := false
		for _, n := range names {
			ok = ok || n == a.name
		}
		if !ok {
			return nil, nil, fmt.Errorf("unknown argument %q (takes %s)", a.name, strings.Join(names, ", "))
		}
		if _, dup := named[a.name]; dup {
			return nil, nil, fmt.Errorf("argument %q given twice", a.name)
		}
		named[a.name] = a.value
	}
	return pos, named, nil
}

func argString(v any, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a 'string'", what)
	}
	return s, nil
}

func argInt(v any, what string) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s must be an integer", what)
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<31 {
		return 0, fmt.Errorf("%s must be a non-negative integer, got %s", what, n)
	}
	return int(i), nil
}

// nearest reads nearest('<table>', '<column>', [<vector>], <k>,
// filter := , nprobes := , refine_factor := , metric := ).
func (c *fnCall) nearest(args []fnArg) error {
	pos, named, err := split(args, "filter", "nprobes", "refine_factor", "metric")
	if err != nil {
		return err
	}
	if len(pos) != 4 {
		return fmt.Errorf("takes ('<table>', '<column>', [<vector>], <k>), got %d positional arguments", len(pos))
	}
	nq := &lsm.NearestQuery{}
	if c.table, err = argString(pos[0], "the table"); err != nil {
		return err
	}
	if nq.Column, err = argString(pos[1], "the column"); err != nil {
		return err
	}
	list, ok := pos[2].([]any)
	if !ok || len(list) == 0 {
		return fmt.Errorf("the vector must be a [list] of numbers")
	}
	for _, v := range list {
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("the vector must be a [list] of numbers")
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("the vector: %v", err)
		}
		nq.Vector = append(nq.Vector, float32(f))
	}
	if nq.K, err = argInt(pos[3], "k"); err != nil {
		return err
	}
	if v, ok := named["filter"]; ok {
		if c.query.Filter, err = argString(v, "filter"); err != nil {
			return err
		}
	}
	if v, ok := named["nprobes"]; ok {
		if nq.NProbes, err = argInt(v, "nprobes"); err != nil {
			return err
		}
	}
	if v, ok := named["refine_factor"]; ok {
		if nq.RefineFactor, err = argInt(v, "refine_factor"); err != nil {
			return err
		}
	}
	if v, ok := named["metric"]; ok {
		if nq.Metric, err = argString(v, "metric"); err != nil {
			return err
		}
	}
	c.query.Nearest = nq
	return nil
}

// search reads search('<table>', '<query>', <k>, filter := , columns :=
// '<column>' or ['<column>', ...]).
func (c *fnCall) search(args []fnArg) error {
	pos, named, err := split(args, "filter", "columns")
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return fmt.Errorf("takes ('<table>', '<query>', <k>), got %d positional arguments", len(pos))
	}
	sq := &lsm.SearchQuery{}
	if c.table, err = argString(pos[0], "the table"); err != nil {
		return err
	}
	if sq.Query, err = argString(pos[1], "the query"); err != nil {
		return err
	}
	if sq.K, err = argInt(pos[2], "k"); err != nil {
		return err
	}
	if v, ok := named["filter"]; ok {
		if c.query.Filter, err = argString(v, "filter"); err != nil {
			return err
		}
	}
	if v, ok := named["columns"]; ok {
		switch x := v.(type) {
		case string:
			sq.Columns = []string{x}
		case []any:
			for _, e := range x {
				s, err := argString(e, "columns")
				if err != nil {
					return err
				}
				sq.Columns = append(sq.Columns, s)
			}
		default:
			return fmt.Errorf("columns must be a 'string' or a ['list']")
		}
	}
	c.query.Search = sq
	return nil
}
