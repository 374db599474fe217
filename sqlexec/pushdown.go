//go:build duckdb_arrow

package sqlexec

import (
	"encoding/json"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Pushdown: the engine reads each table a statement names through one
// lsm scan, and asks that scan for no more than the statement needs. The
// statement's syntax tree (DuckDB's json_serialize_sql) says which:
//
//   - projection: only the columns the statement mentions anywhere (every
//     name of every column reference, USING columns; all of them if it
//     has a * or a NATURAL join); a superset is always safe;
//   - filter: the WHERE conjuncts of a SELECT that reads the table
//     directly (its FROM is the table alone, and the table is read
//     nowhere else in the statement) that the filter language expresses
//     with the same meaning: comparisons, IN, BETWEEN, IS [NOT] NULL,
//     LIKE without backslashes, AND, OR, NOT of column references and
//     constants. The engine still applies the whole WHERE: a conjunct
//     pushed down only spares reading rows it would drop;
//   - point lookups: a conjunct pk = v or pk IN (v, ...) of those;
//   - and a statement that is nothing more than SELECT columns-or-* FROM t
//     [WHERE pushed conjuncts] [LIMIT n] does not reach DuckDB at all: the
//     scan is its answer.
//
// A DELETE FROM t WHERE ... is planned as SELECT <pk> FROM t WHERE ...:
// its scan reads the key and the columns the WHERE names, the conjuncts
// it can, and pk = v as a point lookup.
//
// The tables of an inner join (JOIN ... ON, USING, commas), each read once,
// get the conjuncts of the WHERE and of the ON conditions that name only
// their own columns, point lookups included.
//
// Not pushed: conjuncts of outer, natural, ASOF, positional or lateral
// joins (a filter below the null-supplying side would change which rows
// are null-extended), of a table read twice, with casts, functions,
// arithmetic, parameters or subqueries; HAVING, QUALIFY, ORDER BY and
// LIMIT around anything but the plain select.

// tableInfo is what pushdown needs of a table.
type tableInfo struct {
	schema *arrow.Schema
	pk     string
}

// scanRequest is what one table's scan reads.
type scanRequest struct {
	columns []string // nil: all
	filter  []string // conjuncts, filter language
	pk      []any    // point lookup keys (json.Number or string), nil: none
}

// pushdownPlan is the analysis of one statement.
type pushdownPlan struct {
	scans map[string]*scanRequest // by stored table name
	// direct: the statement is a plain select of table direct, which its
	// scan can answer alone with directColumns (nil: all) and
	// directLimit.
	direct        string
	directColumns []string
	directLimit   *int64
}

type jsonNode = map[string]any

// analyze reads DuckDB's serialized syntax tree of a statement. tables
// maps the stored names of the tables the statement reads to their
// schemas; known resolves a name as written. A tree it cannot read gives
// a plan that reads every column of every table.
func analyze(tree []byte, tables map[string]tableInfo, known func(string) string) *pushdownPlan {
	p := &pushdownPlan{scans: map[string]*scanRequest{}}
	for n := range tables {
		p.scans[n] = &scanRequest{}
	}
	var doc struct {
		Error      bool `json:"error"`
		Statements []struct {
			Node jsonNode `json:"node"`
		} `json:"statements"`
	}
	dec := json.NewDecoder(strings.NewReader(string(tree)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc.Error || len(doc.Statements) != 1 {
		return p
	}
	root := doc.Statements[0].Node
	w := &walker{used: map[string]bool{}, baseRefs: map[string]int{}, ctes: map[string]bool{}, resolve: func(n string) string {
		if s := known(n); s != "" {
			return s
		}
		return known(strings.ToLower(n))
	}}
	w.walk(root)
	// Projection.
	if !w.star {
		for n, ti := range tables {
			var cols []string
			for _, f := range ti.schema.Fields() {
				if w.used[strings.ToLower(f.Name)] {
					cols = append(cols, f.Name)
				}
			}
			if len(cols) == 0 {
				// Rows without columns (count(*)): the narrowest one.
				c := ti.pk
				if c == "" {
					c = ti.schema.Field(0).Name
				}
				cols = []string{c}
			}
			p.scans[n].columns = cols
		}
	}
	// Filters: the SELECTs reading a table alone, read once, and the
	// tables of inner joins.
	for i, sel := range w.selects {
		isRoot := i == 0 && root["type"] == "SELECT_NODE" // walk met the root first
		from, _ := sel["from_table"].(jsonNode)
		if leaves, conds, ok := innerJoin(from, w.resolve); ok {
			p.pushJoined(w, tables, leaves, append(conjuncts(sel["where_clause"]), conds...))
			continue
		}
		name, alias, ok := baseTable(from, w.resolve)
		if !ok {
			continue
		}
		tr, ok := w.readOnce(tables, name, alias)
		if !ok {
			continue
		}
		all := p.push(tr, tables[name].pk, conjuncts(sel["where_clause"]))
		if isRoot && all {
			if cols, limit, ok := plainSelect(sel, tr); ok {
				p.direct, p.directColumns, p.directLimit = name, cols, limit
			}
		}
	}
	return p
}

// joinLeaf is one table of a join: its stored name and its alias.
type joinLeaf struct{ name, alias string }

// innerJoin reads a FROM that is a tree of inner joins (JOIN ... ON,
// USING, or a comma) of tables of the main schema: its tables, and the
// conjuncts of its ON conditions. In an inner join the ON conditions and
// the WHERE both hold for every row of the result, so a conjunct over one
// table's columns may be applied to that table's scan first.
func innerJoin(from jsonNode, resolve func(string) string) (leaves []joinLeaf, conds []jsonNode, ok bool) {
	if from == nil || from["type"] != "JOIN" {
		return nil, nil, false
	}
	var visit func(n jsonNode) bool
	visit = func(n jsonNode) bool {
		if n == nil {
			return false
		}
		if n["type"] != "JOIN" {
			name, alias, ok := baseTable(n, resolve)
			leaves = append(leaves, joinLeaf{name, alias})
			return ok
		}
		rt := str(n["ref_type"])
		if str(n["join_type"]) != "INNER" || rt != "REGULAR" && rt != "CROSS" || str(n["alias"]) != "" || n["sample"] != nil {
			return false
		}
		conds = append(conds, conjuncts(n["condition"])...)
		l, _ := n["left"].(jsonNode)
		r, _ := n["right"].(jsonNode)
		return visit(l) && visit(r)
	}
	if !visit(from) {
		return nil, nil, false
	}
	return leaves, conds, true
}

// pushJoined gives each table of an inner join, read once in the
// statement, the conjuncts that name only its columns (qualified by its
// alias or name, or unqualified; an unqualified name both tables have is
// either a USING column, equal on both sides, or an error DuckDB
// reports).
func (p *pushdownPlan) pushJoined(w *walker, tables map[string]tableInfo, leaves []joinLeaf, conds []jsonNode) {
	for _, lf := range leaves {
		if tr, ok := w.readOnce(tables, lf.name, lf.alias); ok {
			p.push(tr, tables[lf.name].pk, conds)
		}
	}
}

// readOnce is the translator for table name (written as alias) if the
// statement reads that table once, and not through a CTE of its name.
func (w *walker) readOnce(tables map[string]tableInfo, name, alias string) (translator, bool) {
	ti, ok := tables[name]
	if !ok || w.baseRefs[name] != 1 || w.ctes[strings.ToLower(name)] {
		return translator{}, false
	}
	return translator{table: name, alias: alias, schema: ti.schema}, true
}

// push adds to tr's table's scan the conjuncts the filter language
// expresses, the first point lookup among them as its keys (pk is the
// table's key column); all reports that every conjunct went.
func (p *pushdownPlan) push(tr translator, pk string, conds []jsonNode) (all bool) {
	req := p.scans[tr.table]
	all = true
	for _, c := range conds {
		text, ok := tr.expr(c)
		if !ok {
			all = false
			continue
		}
		req.filter = append(req.filter, text)
		if req.pk == nil && pk != "" {
			req.pk = tr.keys(c, pk)
		}
	}
	return all
}

// walker collects what the whole tree mentions.
type walker struct {
	used     map[string]bool // every name of every column reference, lower case
	star     bool            // a * (or a NATURAL join): every column
	baseRefs map[string]int  // stored table name: times read
	ctes     map[string]bool // CTE names, lower case
	selects  []jsonNode
	resolve  func(string) string
}

func (w *walker) walk(v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			w.walk(e)
		}
	case jsonNode:
		switch x["class"] {
		case "COLUMN_REF":
			for _, n := range strSlice(x["column_names"]) {
				w.used[strings.ToLower(n)] = true
			}
		case "STAR":
			w.star = true
		}
		switch x["type"] {
		case "SELECT_NODE":
			w.selects = append(w.selects, x)
		case "BASE_TABLE":
			if n := w.resolve(str(x["table_name"])); n != "" {
				w.baseRefs[n]++
			}
		case "JOIN":
			if str(x["ref_type"]) == "NATURAL" {
				w.star = true
			}
			for _, n := range strSlice(x["using_columns"]) {
				w.used[strings.ToLower(n)] = true
			}
		}
		if m, ok := x["cte_map"].(jsonNode); ok {
			if list, ok := m["map"].([]any); ok {
				for _, e := range list {
					if kv, ok := e.(jsonNode); ok {
						w.ctes[strings.ToLower(str(kv["key"]))] = true
					}
				}
			}
		}
		for _, c := range x {
			w.walk(c)
		}
	}
}

func str(v any) string { s, _ := v.(string); return s }

func strSlice(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		out = append(out, str(e))
	}
	return out
}

// baseTable reads a FROM that is one table of the main schema.
func baseTable(from jsonNode, resolve func(string) string) (name, alias string, ok bool) {
	if from == nil || from["type"] != "BASE_TABLE" || str(from["schema_name"]) != "" || str(from["catalog_name"]) != "" || from["sample"] != nil || from["at_clause"] != nil {
		return "", "", false
	}
	if len(strSlice(from["column_name_alias"])) > 0 {
		return "", "", false // columns renamed: references mean other things
	}
	name = resolve(str(from["table_name"]))
	return name, str(from["alias"]), name != ""
}

// conjuncts splits a WHERE at its top-level ANDs.
func conjuncts(v any) []jsonNode {
	n, ok := v.(jsonNode)
	if !ok {
		return nil
	}
	if n["class"] == "CONJUNCTION" && n["type"] == "CONJUNCTION_AND" {
		var out []jsonNode
		for _, c := range n["children"].([]any) {
			out = append(out, conjuncts(c)...)
		}
		return out
	}
	return []jsonNode{n}
}

// translator renders expressions over one table in the filter language.
type translator struct {
	table, alias string
	schema       *arrow.Schema
}

var cmpOps = map[string]string{
	"COMPARE_EQUAL": "=", "COMPARE_NOTEQUAL": "!=", "COMPARE_LESSTHAN": "<", "COMPARE_GREATERTHAN": ">",
	"COMPARE_LESSTHANOREQUALTO": "<=", "COMPARE_GREATERTHANOREQUALTO": ">=",
}

func (tr translator) expr(n jsonNode) (string, bool) {
	if n == nil || str(n["alias"]) != "" {
		return "", false
	}
	switch n["class"] {
	case "COMPARISON":
		op, ok := cmpOps[str(n["type"])]
		l, ok1 := tr.operand(n["left"])
		r, ok2 := tr.operand(n["right"])
		if !ok || !ok1 || !ok2 || l == "NULL" || r == "NULL" {
			return "", false
		}
		return l + " " + op + " " + r, true
	case "CONJUNCTION":
		op := map[string]string{"CONJUNCTION_AND": " AND ", "CONJUNCTION_OR": " OR "}[str(n["type"])]
		kids, _ := n["children"].([]any)
		if op == "" || len(kids) < 2 {
			return "", false
		}
		parts := make([]string, len(kids))
		for i, k := range kids {
			kn, _ := k.(jsonNode)
			s, ok := tr.expr(kn)
			if !ok {
				return "", false
			}
			parts[i] = "(" + s + ")"
		}
		return strings.Join(parts, op), true
	case "BETWEEN":
		x, ok := tr.column(n["input"])
		lo, ok1 := tr.constant(n["lower"])
		hi, ok2 := tr.constant(n["upper"])
		if !ok || !ok1 || !ok2 || lo == "NULL" || hi == "NULL" {
			return "", false
		}
		return x + " BETWEEN " + lo + " AND " + hi, true
	case "OPERATOR":
		kids, _ := n["children"].([]any)
		switch str(n["type"]) {
		case "OPERATOR_NOT":
			if len(kids) != 1 {
				return "", false
			}
			kn, _ := kids[0].(jsonNode)
			s, ok := tr.expr(kn)
			return "NOT (" + s + ")", ok
		case "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
			if len(kids) != 1 {
				return "", false
			}
			x, ok := tr.column(kids[0])
			if str(n["type"]) == "OPERATOR_IS_NULL" {
				return x + " IS NULL", ok
			}
			return x + " IS NOT NULL", ok
		case "COMPARE_IN", "COMPARE_NOT_IN":
			if len(kids) < 2 {
				return "", false
			}
			x, ok := tr.column(kids[0])
			if !ok {
				return "", false
			}
			vals := make([]string, 0, len(kids)-1)
			for _, k := range kids[1:] {
				v, ok := tr.constant(k)
				if !ok || v == "NULL" {
					return "", false
				}
				vals = append(vals, v)
			}
			not := ""
			if str(n["type"]) == "COMPARE_NOT_IN" {
				not = "NOT "
			}
			return x + " " + not + "IN (" + strings.Join(vals, ", ") + ")", true
		}
	case "FUNCTION":
		// LIKE is the function ~~; DuckDB has no escape character unless
		// ESCAPE is given, the filter language has \: no backslashes.
		name := str(n["function_name"])
		kids, _ := n["children"].([]any)
		if (name != "~~" && name != "!~~") || len(kids) != 2 || n["distinct"] == true || n["filter"] != nil || str(n["schema"]) != "" {
			return "", false
		}
		x, ok := tr.column(kids[0])
		pat, ok2 := kids[1].(jsonNode)
		if !ok || !ok2 || pat["class"] != "CONSTANT" {
			return "", false
		}
		v, ok := constValue(pat)
		s, isStr := v.(string)
		if !ok || !isStr || strings.Contains(s, `\`) {
			return "", false
		}
		not := ""
		if name == "!~~" {
			not = "NOT "
		}
		return x + " " + not + "LIKE " + quoteString(s), true
	}
	return "", false
}

func (tr translator) operand(v any) (string, bool) {
	if s, ok := tr.column(v); ok {
		return s, true
	}
	return tr.constant(v)
}

// column renders a reference to a column of the table, or fails.
func (tr translator) column(v any) (string, bool) {
	n, ok := v.(jsonNode)
	if !ok || n["class"] != "COLUMN_REF" || str(n["alias"]) != "" {
		return "", false
	}
	f, ok := tr.field(n)
	if !ok {
		return "", false
	}
	return `"` + strings.ReplaceAll(f, `"`, `""`) + `"`, true
}

// field is the table column a COLUMN_REF names.
func (tr translator) field(n jsonNode) (string, bool) {
	names := strSlice(n["column_names"])
	switch len(names) {
	case 1:
	case 2:
		q := names[0]
		if tr.alias != "" && !strings.EqualFold(q, tr.alias) || tr.alias == "" && !strings.EqualFold(q, tr.table) {
			return "", false
		}
		names = names[1:]
	default:
		return "", false
	}
	var found string
	for _, f := range tr.schema.Fields() {
		if f.Name == names[0] {
			return f.Name, true
		}
		if strings.EqualFold(f.Name, names[0]) {
			if found != "" {
				return "", false // ambiguous
			}
			found = f.Name
		}
	}
	return found, found != ""
}

// constant renders a constant in the filter language.
func (tr translator) constant(v any) (string, bool) {
	n, ok := v.(jsonNode)
	if !ok || n["class"] != "CONSTANT" {
		return "", false
	}
	c, ok := constValue(n)
	if !ok {
		return "", false
	}
	switch x := c.(type) {
	case nil:
		return "NULL", true
	case bool:
		if x {
			return "TRUE", true
		}
		return "FALSE", true
	case string:
		return quoteString(x), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// constValue is a CONSTANT's value: nil (NULL), bool, string or
// json.Number (exact: decimals scaled).
func constValue(n jsonNode) (any, bool) {
	val, _ := n["value"].(jsonNode)
	if val == nil {
		return nil, false
	}
	if val["is_null"] == true {
		return nil, true
	}
	typ, _ := val["type"].(jsonNode)
	switch id := str(typ["id"]); id {
	case "BOOLEAN":
		b, ok := val["value"].(bool)
		return b, ok
	case "VARCHAR":
		s, ok := val["value"].(string)
		return s, ok
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE":
		num, ok := val["value"].(json.Number)
		return num, ok
	case "DECIMAL":
		info, _ := typ["type_info"].(jsonNode)
		scale, err := info["scale"].(json.Number).Int64()
		num, ok := val["value"].(json.Number)
		if err != nil || !ok {
			return nil, false
		}
		i, ok := new(big.Int).SetString(num.String(), 10)
		if !ok {
			return nil, false
		}
		r := new(big.Rat).SetFrac(i, new(big.Int).Exp(big.NewInt(10), big.NewInt(scale), nil))
		return json.Number(r.FloatString(int(scale))), true
	}
	return nil, false
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// keys reads pk = v or pk IN (v, ...) into lookup keys.
func (tr translator) keys(n jsonNode, pk string) []any {
	isPK := func(v any) bool {
		c, ok := v.(jsonNode)
		if !ok || c["class"] != "COLUMN_REF" {
			return false
		}
		f, ok := tr.field(c)
		return ok && f == pk
	}
	key := func(v any) (any, bool) {
		c, ok := v.(jsonNode)
		if !ok || c["class"] != "CONSTANT" {
			return nil, false
		}
		k, ok := constValue(c)
		switch k.(type) {
		case json.Number, string:
			return k, ok
		}
		return nil, false
	}
	switch {
	case n["class"] == "COMPARISON" && n["type"] == "COMPARE_EQUAL":
		if isPK(n["left"]) {
			if k, ok := key(n["right"]); ok {
				return []any{k}
			}
		}
		if isPK(n["right"]) {
			if k, ok := key(n["left"]); ok {
				return []any{k}
			}
		}
	case n["class"] == "OPERATOR" && n["type"] == "COMPARE_IN":
		kids, _ := n["children"].([]any)
		if len(kids) < 2 || !isPK(kids[0]) {
			return nil
		}
		out := make([]any, 0, len(kids)-1)
		for _, k := range kids[1:] {
			v, ok := key(k)
			if !ok {
				return nil
			}
			out = append(out, v)
		}
		return out
	}
	return nil
}

// plainSelect reads SELECT <columns or *> FROM t [WHERE] [LIMIT n]: the
// columns (nil: all) and limit, or fails.
func plainSelect(sel jsonNode, tr translator) (cols []string, limit *int64, ok bool) {
	for _, k := range []string{"group_expressions", "group_sets"} {
		if l, _ := sel[k].([]any); len(l) > 0 {
			return nil, nil, false
		}
	}
	for _, k := range []string{"having", "sample", "qualify"} {
		if sel[k] != nil {
			return nil, nil, false
		}
	}
	if str(sel["aggregate_handling"]) != "STANDARD_HANDLING" {
		return nil, nil, false
	}
	if m, ok := sel["cte_map"].(jsonNode); ok {
		if l, _ := m["map"].([]any); len(l) > 0 {
			return nil, nil, false
		}
	}
	mods, _ := sel["modifiers"].([]any)
	for _, m := range mods {
		mn, _ := m.(jsonNode)
		if mn["type"] != "LIMIT_MODIFIER" || mn["offset"] != nil || limit != nil {
			return nil, nil, false
		}
		c, _ := mn["limit"].(jsonNode)
		if c == nil || c["class"] != "CONSTANT" {
			return nil, nil, false
		}
		v, ok := constValue(c)
		num, isNum := v.(json.Number)
		if !ok || !isNum {
			return nil, nil, false
		}
		n, err := num.Int64()
		if err != nil || n < 0 {
			return nil, nil, false
		}
		limit = &n
	}
	list, _ := sel["select_list"].([]any)
	if len(list) == 1 {
		if s, _ := list[0].(jsonNode); s["class"] == "STAR" {
			if str(s["relation_name"]) != "" || s["columns"] == true || s["expr"] != nil || len(asList(s["exclude_list"])) > 0 || len(asMap(s["replace_list"])) > 0 || len(asList(s["replace_list"])) > 0 || len(asList(s["rename_list"])) > 0 || str(s["alias"]) != "" {
				return nil, nil, false
			}
			return nil, limit, true
		}
	}
	if len(list) == 0 {
		return nil, nil, false
	}
	seen := map[string]bool{}
	for _, e := range list {
		c, _ := e.(jsonNode)
		if c == nil || c["class"] != "COLUMN_REF" {
			return nil, nil, false
		}
		f, ok := tr.field(c)
		names := strSlice(c["column_names"])
		if !ok || names[len(names)-1] != f || seen[f] || (str(c["alias"]) != "" && str(c["alias"]) != f) {
			return nil, nil, false // renamed, recased or repeated: DuckDB names it
		}
		seen[f] = true
		cols = append(cols, f)
	}
	return cols, limit, true
}

func asList(v any) []any         { l, _ := v.([]any); return l }
func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// filterText joins conjuncts into one filter.
func filterText(conj []string) string {
	if len(conj) == 1 {
		return conj[0]
	}
	parts := make([]string, len(conj))
	for i, c := range conj {
		parts[i] = "(" + c + ")"
	}
	return strings.Join(parts, " AND ")
}

// deleteAsSelect is the SELECT that reads what DELETE FROM t [alias]
// WHERE ... deletes (the key of the matching rows), for pushdown; a
// statement of another shape (WITH, USING, no key) is returned as it is,
// and analyze reads no tree from it.
func deleteAsSelect(sql string, tables map[string]tableInfo, known func(string) string) string {
	toks := lex(sql)
	if len(toks) < 3 || !toks[0].is("DELETE") || !toks[1].is("FROM") {
		return sql
	}
	for _, t := range toks {
		if t.is("USING") || t.is("RETURNING") {
			return sql
		}
	}
	written, err := dmlTarget(sql, KindDelete)
	if err != nil {
		return sql
	}
	ti, ok := tables[known(written)]
	if !ok || ti.pk == "" {
		return sql
	}
	return "SELECT " + quoteIdent(ti.pk) + " FROM" + sql[toks[1].end:]
}
