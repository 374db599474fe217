//go:build duckdb_arrow

package sqlexec

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/lsm/filter"
)

// The fast path answers SELECT <* or columns> FROM <table> [WHERE
// <filter>] [LIMIT n] from its words alone, when the WHERE is written in
// the filter language: no DuckDB connection, no syntax tree, one lsm
// read (a point lookup for pk = v and pk IN (...)). Anything else, or
// anything lsm refuses, takes the engine's path, which says what is wrong
// in DuckDB's words.

// simpleSelect is a statement the fast path may answer.
type simpleSelect struct {
	table   []string // candidate stored names: as written, then folded
	columns []string // nil: *
	where   string
	limit   *int64
}

// parseSimpleSelect recognizes a simple select, or fails.
func parseSimpleSelect(sql string) (*simpleSelect, bool) {
	if strings.ContainsRune(sql, '\\') {
		return nil, false // LIKE escapes differ: DuckDB has none by default
	}
	sql = trimStatement(sql)
	toks := lex(sql)
	if len(toks) < 4 || !toks[0].is("SELECT") {
		return nil, false
	}
	s := &simpleSelect{}
	i := 1
	if toks[i].punct == '*' {
		i++
	} else {
		for {
			if i >= len(toks) || toks[i].word == "" || isKeyword(toks[i]) {
				return nil, false
			}
			s.columns = append(s.columns, toks[i].word)
			i++
			if i < len(toks) && toks[i].punct == ',' {
				i++
				continue
			}
			break
		}
	}
	if i >= len(toks) || !toks[i].is("FROM") {
		return nil, false
	}
	i++
	var chain []token
	for i < len(toks) && toks[i].word != "" {
		chain = append(chain, toks[i])
		i++
		if i < len(toks) && toks[i].punct == '.' {
			i++
			continue
		}
		break
	}
	switch {
	case len(chain) == 1:
	case len(chain) == 2 && !chain[0].quoted && strings.EqualFold(chain[0].word, Schema):
	case len(chain) == 3 && !chain[0].quoted && strings.EqualFold(chain[0].word, Catalog) && !chain[1].quoted && strings.EqualFold(chain[1].word, Schema):
	default:
		return nil, false
	}
	name := chain[len(chain)-1]
	if isKeyword(name) {
		return nil, false
	}
	s.table = []string{name.word}
	if !name.quoted && strings.ToLower(name.word) != name.word {
		s.table = append(s.table, strings.ToLower(name.word))
	}
	end := len(sql)
	limitAt := -1
	for j := i; j < len(toks); j++ {
		if toks[j].is("LIMIT") {
			limitAt = j
			end = toks[j].start
			break
		}
	}
	if i < len(toks) && i != limitAt {
		if !toks[i].is("WHERE") {
			return nil, false
		}
		s.where = strings.TrimSpace(sql[toks[i].end:end])
		if s.where == "" {
			return nil, false
		}
	}
	if limitAt >= 0 {
		if limitAt+1 < len(toks) {
			return nil, false // LIMIT x OFFSET y, LIMIT a + b
		}
		n, err := strconv.ParseInt(strings.TrimSpace(sql[toks[limitAt].end:]), 10, 64)
		if err != nil || n < 0 {
			return nil, false
		}
		s.limit = &n
	}
	return s, true
}

// isKeyword: words that end or change a simple select.
func isKeyword(t token) bool {
	if t.quoted {
		return false
	}
	switch strings.ToUpper(t.word) {
	case "SELECT", "FROM", "WHERE", "LIMIT", "OFFSET", "ORDER", "GROUP", "HAVING", "QUALIFY", "WINDOW", "UNION", "EXCEPT",
		"INTERSECT", "DISTINCT", "ALL", "AS", "JOIN", "ON", "USING", "NATURAL", "CROSS", "LEFT", "RIGHT", "INNER", "OUTER",
		"FULL", "POSITIONAL", "ASOF", "SEMI", "ANTI", "LATERAL", "TABLESAMPLE", "USING_SAMPLE", "EXCLUDE", "REPLACE", "COLUMNS", "AT":
		return true
	}
	return false
}

// fastSelect answers query by one lsm read if the fast path may (nil
// otherwise): no rows are read if empty.
func (e *Engine) fastSelect(ctx context.Context, query string, empty bool, args []any) array.RecordReader {
	if len(args) > 0 {
		var ok bool
		if query, ok = bindLiterals(query, args); !ok {
			return nil
		}
	}
	s, ok := parseSimpleSelect(query)
	if !ok {
		return nil
	}
	var t *lsm.Table
	for _, n := range s.table {
		if lsm.CheckTableName(n) != nil {
			continue
		}
		var err error
		if t, err = e.db.Table(ctx, n); err == nil {
			break
		}
	}
	if t == nil {
		return nil
	}
	q := lsm.Query{Filter: s.where, Limit: s.limit}
	if s.columns != nil {
		// Names as the table spells them: DuckDB would name the result's
		// columns as the statement does.
		for _, c := range s.columns {
			if !t.Schema().HasField(c) {
				return nil
			}
		}
		q.Columns = s.columns
	}
	if s.where != "" {
		expr, err := filter.Parse(s.where)
		if err != nil {
			return nil
		}
		if pk := t.PrimaryKey(); pk != "" {
			q.PK = filterKeys(expr, pk)
		}
	}
	plan, err := t.Prepare(q)
	if err != nil && q.PK != nil {
		q.PK = nil
		plan, err = t.Prepare(q)
	}
	if err != nil {
		return nil
	}
	var snap *lsm.Snapshot
	if !empty {
		snap = t.Snapshot()
		defer snap.Release()
	}
	rr, err := directScan(ctx, e.mem, t, snap, plan)
	if err != nil {
		return nil
	}
	return rr
}

// filterKeys reads pk = v or pk IN (v, ...), alone or as a conjunct of
// ANDs, into lookup keys (nil: none).
func filterKeys(e filter.Expr, pk string) []any {
	col := func(o filter.Operand) bool {
		c, ok := o.(*filter.Column)
		return ok && (c.Name == pk || !c.Quoted && strings.EqualFold(c.Name, pk))
	}
	key := func(l *filter.Literal) (any, bool) {
		switch l.Kind {
		case filter.LitNumber:
			return json.Number(l.Num), true
		case filter.LitString:
			return l.Str, true
		}
		return nil, false
	}
	switch x := e.(type) {
	case *filter.Logic:
		if x.Op != filter.OpAnd {
			return nil
		}
		if k := filterKeys(x.L, pk); k != nil {
			return k
		}
		return filterKeys(x.R, pk)
	case *filter.Compare:
		if x.Op != filter.OpEq {
			return nil
		}
		if l, ok := x.R.(*filter.Literal); ok && col(x.L) {
			if k, ok := key(l); ok {
				return []any{k}
			}
		}
		if l, ok := x.L.(*filter.Literal); ok && col(x.R) {
			if k, ok := key(l); ok {
				return []any{k}
			}
		}
	case *filter.In:
		if x.Not || !col(x.X) {
			return nil
		}
		out := make([]any, 0, len(x.List))
		for _, l := range x.List {
			k, ok := key(l)
			if !ok {
				return nil
			}
			out = append(out, k)
		}
		return out
	}
	return nil
}

// bindLiterals writes args into query's ? placeholders as literals (a
// prepared point lookup takes the fast path too); it fails for other
// placeholders, a count that differs, or a value without a literal.
func bindLiterals(query string, args []any) (string, bool) {
	var b strings.Builder
	at, n := 0, 0
	for _, t := range lex(query) {
		if t.punct == '$' {
			return "", false
		}
		if t.punct != '?' {
			continue
		}
		if n >= len(args) {
			return "", false
		}
		var lit string
		switch v := args[n].(type) {
		case int64:
			lit = strconv.FormatInt(v, 10)
		case int32:
			lit = strconv.FormatInt(int64(v), 10)
		case int:
			lit = strconv.Itoa(v)
		case uint64:
			lit = strconv.FormatUint(v, 10)
		case float64:
			lit = strconv.FormatFloat(v, 'g', -1, 64)
		case string:
			lit = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case bool:
			lit = strings.ToUpper(strconv.FormatBool(v))
		default:
			return "", false
		}
		b.WriteString(query[at:t.start])
		b.WriteString(lit)
		at = t.end
		n++
	}
	if n != len(args) {
		return "", false
	}
	b.WriteString(query[at:])
	return b.String(), true
}
