package filter

import (
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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
// index in Bound.cols).
type boundCol struct {
	name  string
	index int // field index in the bind schema
	typ   arrow.DataType
}

// Columns returns the names of the columns the filter reads, in order of
// first use.
func (b *Bound) Columns() []string {
	out := make([]string, len(b.cols))
	for i, c := range b.cols {
		out[i] = c.name
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
	bd := &binder{schema: schema, slots: map[int]int{}, goMem: memory.NewGoAllocator()}
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
	slots  map[int]int      // field index → slot
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
		var idx int
		idx, err = bd.lookup(c)
		if err != nil {
			return o
		}
		f := bd.schema.Field(idx)
		if _, ok := bd.slots[idx]; !ok {
			bd.slots[idx] = len(bd.cols)
			bd.cols = append(bd.cols, boundCol{name: f.Name, index: idx, typ: f.Type})
		}
		return &Column{Name: f.Name, Quoted: c.Quoted}
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
	idx, _ := bd.lookup(c) // resolved already
	s := bd.slots[idx]
	t := bd.cols[s].typ
	return col{slot: s, name: bd.cols[s].name, typ: t, cls: classOf(t)}
}

func (c col) String() string { return fmt.Sprintf("column %q (%s)", c.name, c.typ) }

// comparable rejects columns whose type has no ordering or equality here.
func (c col) comparable() error {
	if c.cls == clsOther {
		return fmt.Errorf("%w: %s cannot be compared; only IS [NOT] NULL applies to it", ErrType, c)
	}
	return nil
}

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
			return nil, fmt.Errorf("%w: %s is not boolean; a condition must compare it, e.g. %s = ...", ErrType, c, e)
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

// compare binds l op r.
func (bd *binder) compare(op CmpOp, l, r Operand) (node, error) {
	lc, lIsCol := l.(*Column)
	rc, rIsCol := r.(*Column)
	switch {
	case lIsCol && rIsCol:
		return bd.colCol(op, bd.column(lc), bd.column(rc))
	case lIsCol:
		return bd.colLit(op, bd.column(lc), r.(*Literal))
	case rIsCol:
		return bd.colLit(op.flip(), bd.column(rc), l.(*Literal))
	}
	v, err := foldCompare(op, l.(*Literal), r.(*Literal))
	return constNode{v}, err
}

// foldCompare evaluates a comparison of two literals.
func foldCompare(op CmpOp, a, b *Literal) (tri, error) {
	if a.Kind == LitNull || b.Kind == LitNull {
		return triNull, nil
	}
	if a.Kind != b.Kind {
		return triNull, fmt.Errorf("%w: cannot compare %s with %s", ErrType, a, b)
	}
	var c int
	switch a.Kind {
	case LitBool:
		c = boolCmp(a.Bool, b.Bool)
	case LitString:
		c = strings.Compare(a.Str, b.Str)
	case LitNumber:
		x, err := numberRat(a.Num)
		if err != nil {
			return triNull, err
		}
		y, err := numberRat(b.Num)
		if err != nil {
			return triNull, err
		}
		c = x.Cmp(y)
	}
	return triOf(op.holds(c)), nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// colLit binds column op literal.
func (bd *binder) colLit(op CmpOp, c col, lit *Literal) (node, error) {
	if err := c.comparable(); err != nil {
		return nil, err
	}
	if lit.Kind == LitNull {
		return constNode{triNull}, nil // x op NULL is NULL
	}
	mismatch := func() error {
		return fmt.Errorf("%w: cannot compare %s with %s", ErrType, c, lit)
	}
	switch c.cls {
	case clsBool:
		if lit.Kind != LitBool {
			return nil, mismatch()
		}
		// Which of x = false, x = true satisfy x op lit?
		f, t := op.holds(boolCmp(false, lit.Bool)), op.holds(boolCmp(true, lit.Bool))
		if f == t {
			return &validConstNode{col: c.slot, v: f}, nil
		}
		return &cmpLitNode{col: c.slot, op: OpEq, lit: boolScalar(t)}, nil
	case clsInt, clsDate, clsTime:
		v, err := bd.exactValue(c, lit)
		if err != nil {
			return nil, err
		}
		lo, hi := intRange(c.typ)
		op2, k, constant, isConst := intCmp(op, v, lo, hi)
		if isConst {
			return &validConstNode{col: c.slot, v: constant}, nil
		}
		return &cmpLitNode{col: c.slot, op: op2, lit: intScalar(c.typ, k)}, nil
	case clsFloat:
		if lit.Kind != LitNumber {
			return nil, mismatch()
		}
		v, err := numberRat(lit.Num)
		if err != nil {
			return nil, err
		}
		return &cmpLitNode{col: c.slot, op: op, lit: floatScalar(c.typ, v)}, nil
	case clsString, clsBinary:
		if lit.Kind != LitString {
			return nil, mismatch()
		}
		return &cmpLitNode{col: c.slot, op: op, lit: bytesScalar(c.typ, lit.Str)}, nil
	}
	return nil, mismatch()
}

// exactValue reads a literal for an integer-valued column (integers: a
// number; date32 and timestamp: a date/time string) as an exact count of
// the column's units.
func (bd *binder) exactValue(c col, lit *Literal) (*big.Rat, error) {
	if c.cls == clsInt {
		if lit.Kind != LitNumber {
			return nil, fmt.Errorf("%w: cannot compare %s with %s", ErrType, c, lit)
		}
		return numberRat(lit.Num)
	}
	if lit.Kind != LitString {
		return nil, fmt.Errorf("%w: cannot compare %s with %s; write dates and times as strings, e.g. '2024-05-01'", ErrType, c, lit)
	}
	v, err := temporalRat(c.typ, lit.Str)
	if err != nil {
		return nil, fmt.Errorf("%w (comparing %s)", err, c)
	}
	return v, nil
}

// colCol binds column op column.
func (bd *binder) colCol(op CmpOp, l, r col) (node, error) {
	if err := l.comparable(); err != nil {
		return nil, err
	}
	if err := r.comparable(); err != nil {
		return nil, err
	}
	mismatch := fmt.Errorf("%w: cannot compare %s with %s", ErrType, l, r)
	bytesLike := func(c class) bool { return c == clsString || c == clsBinary }
	temporal := func(c class) bool { return c == clsDate || c == clsTime }
	numeric := func(c class) bool { return c == clsInt || c == clsFloat }
	same := arrow.TypeEqual(l.typ, r.typ)
	switch {
	case l.cls == clsBool && r.cls == clsBool:
		if op == OpEq || op == OpNe {
			return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
		}
		return &boolOrderNode{l: l.slot, r: r.slot, op: op}, nil
	case bytesLike(l.cls) && bytesLike(r.cls):
		return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil // the kernel widens offsets
	case numeric(l.cls) && numeric(r.cls):
		if same {
			return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
		}
		if t := losslessCommon(l.typ, r.typ); t != nil {
			return &cmpColNode{l: l.slot, r: r.slot, op: op, cast: t}, nil
		}
		return &numLoopNode{l: l.slot, r: r.slot, op: op}, nil
	case temporal(l.cls) && temporal(r.cls):
		// A date is midnight UTC; timestamps must agree on having a zone,
		// as arrow requires.
		if l.cls == clsTime && r.cls == clsTime && zoned(l.typ) != zoned(r.typ) {
			return nil, fmt.Errorf("%w: cannot compare %s with %s: one has a time zone and the other not", ErrType, l, r)
		}
		if l.typ.ID() == r.typ.ID() && nanosPer(l.typ) == nanosPer(r.typ) {
			return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
		}
		return &timeLoopNode{l: l.slot, r: r.slot, op: op, lmul: nanosPer(l.typ), rmul: nanosPer(r.typ)}, nil
	}
	return nil, mismatch
}

func zoned(t arrow.DataType) bool {
	ts, ok := t.(*arrow.TimestampType)
	return ok && ts.TimeZone != ""
}

// losslessCommon is a numeric type both a and b convert to exactly, or nil
// (then the comparison runs in a loop). arrow's own promotion would compare
// int64 with float64 as float64 and uint64 with int64 as int64, losing
// values.
func losslessCommon(a, b arrow.DataType) arrow.DataType {
	type info struct {
		float    bool
		signed   bool
		bits     int
		mantissa int // exactly representable integer bits
	}
	get := func(t arrow.DataType) info {
		bits := t.(arrow.FixedWidthDataType).BitWidth()
		switch t.ID() {
		case arrow.FLOAT32:
			return info{float: true, signed: true, bits: 32, mantissa: 24}
		case arrow.FLOAT64:
			return info{float: true, signed: true, bits: 64, mantissa: 53}
		case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			return info{bits: bits, mantissa: bits}
		}
		return info{signed: true, bits: bits, mantissa: bits - 1}
	}
	x, y := get(a), get(b)
	if x.float && y.float {
		return arrow.PrimitiveTypes.Float64
	}
	if x.float || y.float {
		f, i := x, y
		if y.float {
			f, i = y, x
		}
		switch {
		case i.mantissa <= 24 && f.bits == 32:
			return arrow.PrimitiveTypes.Float32
		case i.mantissa <= 53:
			return arrow.PrimitiveTypes.Float64
		}
		return nil
	}
	// Two integer types.
	signed := x.signed || y.signed
	need := max(x.mantissa, y.mantissa) + 1 // value bits + sign
	if !signed {
		need = max(x.bits, y.bits)
	}
	switch {
	case need <= 8:
		return pick(signed, arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint8)
	case need <= 16:
		return pick(signed, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Uint16)
	case need <= 32:
		return pick(signed, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32)
	case need <= 64:
		return pick(signed, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint64)
	}
	return nil
}

func pick(signed bool, s, u arrow.DataType) arrow.DataType {
	if signed {
		return s
	}
	return u
}

// in binds X IN (list) without its NOT.
func (bd *binder) in(e *In) (node, error) {
	x, isCol := e.X.(*Column)
	if !isCol {
		// Literal IN (literals): x = a OR x = b ...
		acc := triFalse
		for _, l := range e.List {
			v, err := foldCompare(OpEq, e.X.(*Literal), l)
			if err != nil {
				return nil, err
			}
			acc = acc.or(v)
		}
		return constNode{acc}, nil
	}
	c := bd.column(x)
	if err := c.comparable(); err != nil {
		return nil, err
	}
	if c.cls == clsBool {
		// arrow's is_in mishandles booleans; x IN (a, b) is x = a OR x = b.
		var n node = constNode{triFalse}
		for _, l := range e.List {
			eq, err := bd.colLit(OpEq, c, l)
			if err != nil {
				return nil, err
			}
			n = logicNode(OpOr, n, eq)
		}
		return n, nil
	}
	b := array.NewBuilder(bd.goMem, c.typ)
	defer b.Release()
	hasNull := false
	for _, l := range e.List {
		if l.Kind == LitNull {
			hasNull = true
			continue
		}
		if err := bd.appendMember(b, c, l); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		if hasNull {
			return constNode{triNull}, nil
		}
		return &validConstNode{col: c.slot, v: false}, nil
	}
	if hasNull {
		b.AppendNull()
	}
	return &inNode{col: c.slot, set: b.NewArray()}, nil
}

// appendMember appends literal l, coerced to c's type, to an IN set; a
// literal no value of the column can equal (300 for int8, 2.5 for an
// integer) is left out.
func (bd *binder) appendMember(b array.Builder, c col, l *Literal) error {
	switch c.cls {
	case clsInt, clsDate, clsTime:
		v, err := bd.exactValue(c, l)
		if err != nil {
			return err
		}
		lo, hi := intRange(c.typ)
		if _, k, _, isConst := intCmp(OpEq, v, lo, hi); !isConst {
			appendInt(b, k)
		}
		return nil
	case clsFloat:
		if l.Kind != LitNumber {
			break
		}
		v, err := numberRat(l.Num)
		if err != nil {
			return err
		}
		// is_in hashes bit patterns: -0 must be in the set to match 0, as
		// it does with =.
		switch fb := b.(type) {
		case *array.Float32Builder:
			f, _ := v.Float32()
			fb.Append(f)
			if f == 0 {
				fb.Append(float32(math.Copysign(0, -1)))
			}
		case *array.Float64Builder:
			f, _ := v.Float64()
			fb.Append(f)
			if f == 0 {
				fb.Append(math.Copysign(0, -1))
			}
		}
		return nil
	case clsString, clsBinary:
		if l.Kind != LitString {
			break
		}
		switch sb := b.(type) {
		case *array.StringBuilder:
			sb.Append(l.Str)
		case *array.LargeStringBuilder:
			sb.Append(l.Str)
		case *array.BinaryBuilder:
			sb.AppendString(l.Str)
		}
		return nil
	}
	return fmt.Errorf("%w: cannot compare %s with %s", ErrType, c, l)
}

// appendInt appends k (in range) to a builder of an integer-valued type.
func appendInt(b array.Builder, k *big.Int) {
	switch ib := b.(type) {
	case *array.Int8Builder:
		ib.Append(int8(k.Int64()))
	case *array.Int16Builder:
		ib.Append(int16(k.Int64()))
	case *array.Int32Builder:
		ib.Append(int32(k.Int64()))
	case *array.Int64Builder:
		ib.Append(k.Int64())
	case *array.Uint8Builder:
		ib.Append(uint8(k.Uint64()))
	case *array.Uint16Builder:
		ib.Append(uint16(k.Uint64()))
	case *array.Uint32Builder:
		ib.Append(uint32(k.Uint64()))
	case *array.Uint64Builder:
		ib.Append(k.Uint64())
	case *array.Date32Builder:
		ib.Append(arrow.Date32(k.Int64()))
	case *array.TimestampBuilder:
		ib.Append(arrow.Timestamp(k.Int64()))
	}
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
