package filter

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Bound is a filter resolved against a schema, ready to evaluate. It is
// immutable, and safe for concurrent use.
type Bound struct {
	root node
	cols []boundCol
	expr Expr // the filter with columns spelled as in the schema
}

// boundCol is a column the filter reads; nodes refer to it by its slot (its
// index in Bound.cols). A struct field (meta.a) is read from its top-level
// column through path; some types are read through a view (view.go).
type boundCol struct {
	name  string         // the top-level column, as in the schema
	label string         // name, or the field's dotted path
	index int            // field index in the bind schema
	top   arrow.DataType // the top-level column's type
	path  []int          // struct child indexes from the top-level column
	src   arrow.DataType // the type at the end of path
	typ   arrow.DataType // the type the nodes compare: src's view
}

// Columns returns the names of the columns the filter reads, in order of
// first use.
func (b *Bound) Columns() []string {
	out := []string{}
	seen := map[string]bool{}
	for _, c := range b.cols {
		if !seen[c.name] {
			seen[c.name] = true
			out = append(out, c.name)
		}
	}
	return out
}

// String renders the bound filter as filter text, with columns spelled as
// in the schema.
func (b *Bound) String() string { return b.expr.String() }

// Bind resolves e's columns in schema, type-checks it and coerces literals
// to the types of the columns they meet. Errors wrap ErrUnknownColumn,
// ErrAmbiguousColumn or ErrType.
func Bind(e Expr, schema *arrow.Schema) (*Bound, error) {
	bd := &binder{schema: schema, slots: map[string]int{}, goMem: memory.NewGoAllocator()}
	expr, err := bd.resolve(e)
	if err != nil {
		return nil, err
	}
	root, err := bd.bind(expr)
	if err != nil {
		return nil, err
	}
	return &Bound{root: root, cols: bd.cols, expr: expr}, nil
}

type binder struct {
	schema *arrow.Schema
	cols   []boundCol
	slots  map[string]int   // field index and path (slotKey) → slot
	goMem  memory.Allocator // for IN value sets, owned by the Bound
}

// lookup finds the field a column names: exact match first, then (bare
// names only) the single case-insensitive match.
func (bd *binder) lookup(c *Column) (int, error) {
	fields := bd.schema.Fields()
	var exact, folded []int
	for i, f := range fields {
		if f.Name == c.Name {
			exact = append(exact, i)
		} else if !c.Quoted && strings.EqualFold(f.Name, c.Name) {
			folded = append(folded, i)
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0], nil
	case len(exact) > 1:
		return 0, fmt.Errorf("%w: %q names %d fields of the schema", ErrAmbiguousColumn, c.Name, len(exact))
	case len(folded) == 1:
		return folded[0], nil
	case len(folded) > 1:
		names := make([]string, len(folded))
		for i, f := range folded {
			names[i] = fmt.Sprintf("%q", fields[f].Name)
		}
		return 0, fmt.Errorf("%w: %q matches %s ignoring case; write the exact name in double quotes",
			ErrAmbiguousColumn, c.Name, strings.Join(names, ", "))
	}
	if c.Quoted {
		for _, f := range fields {
			if strings.EqualFold(f.Name, c.Name) {
				return 0, fmt.Errorf("%w: %q (quoted names match exactly; did you mean %q?)", ErrUnknownColumn, c.Name, f.Name)
			}
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownColumn, c.Name)
}

// resolve copies e with every column renamed to its schema spelling, and
// registers the columns read.
func (bd *binder) resolve(e Expr) (Expr, error) {
	var err error
	op := func(o Operand) Operand {
		c, ok := o.(*Column)
		if !ok || err != nil {
			return o
		}
		var out *Column
		out, err = bd.register(c)
		if err != nil {
			return o
		}
		return out
	}
	var walk func(e Expr) Expr
	walk = func(e Expr) Expr {
		switch e := e.(type) {
		case *Logic:
			return &Logic{Op: e.Op, L: walk(e.L), R: walk(e.R)}
		case *Not:
			return &Not{X: walk(e.X)}
		case *Compare:
			return &Compare{Op: e.Op, L: op(e.L), R: op(e.R)}
		case *In:
			return &In{X: op(e.X), List: e.List, Not: e.Not}
		case *Between:
			return &Between{X: op(e.X), Lo: op(e.Lo), Hi: op(e.Hi), Not: e.Not}
		case *IsNull:
			return &IsNull{X: op(e.X), Not: e.Not}
		case *Like:
			return &Like{X: op(e.X), Pattern: e.Pattern, Not: e.Not}
		case Operand:
			return op(e)
		}
		if err == nil {
			err = fmt.Errorf("%w: unsupported expression %T", ErrType, e)
		}
		return e
	}
	out := walk(e)
	return out, err
}

// col is a resolved column operand.
type col struct {
	slot int
	name string
	typ  arrow.DataType
	cls  class
}

func (bd *binder) column(c *Column) col {
	key, _, _, _ := bd.walk(c) // resolved already
	s := bd.slots[key]
	t := bd.cols[s].typ
	return col{slot: s, name: bd.cols[s].label, typ: t, cls: classOf(t)}
}

// walk resolves c: the top-level field, then each struct field of its
// path (exact name, else the only one equal ignoring case). It returns
// the slot key, the top-level index, the child indexes and c spelled as
// in the schema.
func (bd *binder) walk(c *Column) (key string, idx int, path []int, out *Column) {
	idx, err := bd.lookup(c)
	if err != nil {
		return "", -1, nil, nil
	}
	out = &Column{Name: bd.schema.Field(idx).Name, Quoted: c.Quoted}
	key = fmt.Sprint(idx)
	t := bd.schema.Field(idx).Type
	for _, name := range c.Path {
		st, ok := t.(*arrow.StructType)
		if !ok {
			return "", idx, nil, nil
		}
		j := -1
		if js := st.FieldIndices(name); len(js) == 1 {
			j = js[0]
		} else if len(js) == 0 {
			for k, f := range st.Fields() {
				if strings.EqualFold(f.Name, name) {
					if j >= 0 {
						return "", idx, nil, nil
					}
					j = k
				}
			}
		}
		if j < 0 {
			return "", idx, nil, nil
		}
		path = append(path, j)
		key += fmt.Sprintf(".%d", j)
		out.Path = append(out.Path, st.Field(j).Name)
		t = st.Field(j).Type
	}
	return key, idx, path, out
}

// register resolves c and gives it a slot; it returns c spelled as in the
// schema.
func (bd *binder) register(c *Column) (*Column, error) {
	if _, err := bd.lookup(c); err != nil {
		return nil, err
	}
	key, idx, path, out := bd.walk(c)
	if out == nil {
		return nil, fmt.Errorf("%w: %s: no such struct field (fields of a struct column are named column.field)", ErrUnknownColumn, c)
	}
	if _, ok := bd.slots[key]; ok {
		return out, nil
	}
	f := bd.schema.Field(idx)
	src := f.Type
	for _, j := range path {
		src = src.(*arrow.StructType).Field(j).Type
	}
	bd.slots[key] = len(bd.cols)
	bd.cols = append(bd.cols, boundCol{name: f.Name, label: out.String(), index: idx, top: f.Type, path: path, src: src, typ: viewType(src)})
	return out, nil
}

func (c col) String() string { return fmt.Sprintf("column %q (%s)", c.name, c.typ) }

// comparable rejects columns whose type has no ordering or equality here.
func (c col) comparable() error {
	if c.cls == clsOther {
		return fmt.Errorf("%w: %s cannot be compared; only IS [NOT] NULL applies to it", ErrType, c)
	}
	return nil
}

// bind turns a resolved expression into its evaluation tree.
func (bd *binder) bind(e Expr) (node, error) {
	switch e := e.(type) {
	case *Logic:
		l, err := bd.bind(e.L)
		if err != nil {
			return nil, err
		}
		r, err := bd.bind(e.R)
		if err != nil {
			return nil, err
		}
		return logicNode(e.Op, l, r), nil
	case *Not:
		x, err := bd.bind(e.X)
		if err != nil {
			return nil, err
		}
		return notNode(x), nil
	case *Compare:
		return bd.compare(e.Op, e.L, e.R)
	case *Between:
		lo, err := bd.compare(OpGe, e.X, e.Lo)
		if err != nil {
			return nil, err
		}
		hi, err := bd.compare(OpLe, e.X, e.Hi)
		if err != nil {
			return nil, err
		}
		return negate(logicNode(OpAnd, lo, hi), e.Not), nil
	case *In:
		n, err := bd.in(e)
		if err != nil {
			return nil, err
		}
		return negate(n, e.Not), nil
	case *IsNull:
		return bd.isNull(e)
	case *Like:
		n, err := bd.like(e)
		if err != nil {
			return nil, err
		}
		return negate(n, e.Not), nil
	case *Column:
		c := bd.column(e)
		if c.cls != clsBool {
			return nil, fmt.Errorf("%w: %s is not boolean; a condition must compare it, for example %s = 1", ErrType, c, e)
		}
		return &boolColNode{col: c.slot}, nil
	case *Literal:
		switch e.Kind {
		case LitNull:
			return constNode{triNull}, nil
		case LitBool:
			return constNode{triOf(e.Bool)}, nil
		}
		return nil, fmt.Errorf("%w: %s is not a condition", ErrType, e)
	}
	return nil, fmt.Errorf("%w: unsupported expression %T", ErrType, e)
}

func negate(n node, not bool) node {
	if not {
		return notNode(n)
	}
	return n
}

func (bd *binder) isNull(e *IsNull) (node, error) {
	if l, ok := e.X.(*Literal); ok {
		return constNode{triOf((l.Kind == LitNull) != e.Not)}, nil
	}
	return &isNullNode{col: bd.column(e.X.(*Column)).slot, not: e.Not}, nil
}

// like binds X LIKE pattern without its NOT.
func (bd *binder) like(e *Like) (node, error) {
	switch x := e.X.(type) {
	case *Column:
		c := bd.column(x)
		if c.cls != clsString && c.cls != clsBinary {
			return nil, fmt.Errorf("%w: LIKE needs a string or binary column, not %s", ErrType, c)
		}
		return &likeNode{col: c.slot, m: compileLike(e.Pattern, c.cls == clsBinary)}, nil
	case *Literal:
		switch x.Kind {
		case LitNull:
			return constNode{triNull}, nil
		case LitString:
			return constNode{triOf(compileLike(e.Pattern, false).matchString(x.Str))}, nil
		}
		return nil, fmt.Errorf("%w: LIKE needs a string, not %s", ErrType, x)
	}
	return nil, fmt.Errorf("%w: unsupported LIKE operand", ErrType)
}
