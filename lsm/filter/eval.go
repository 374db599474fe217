package filter

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Eval evaluates the filter over rec and returns its selection mask:
// len == rec.NumRows(), true where the filter is TRUE, false where it is
// FALSE or NULL, with no nulls. The caller releases it. rec must hold the
// columns the filter reads (Columns), by name, with their bound types; it
// may hold others, in any order.
func (b *Bound) Eval(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch) (*array.Boolean, error) {
	ctx = compute.WithAllocator(ctx, mem)
	cols, err := b.columnsOf(ctx, mem, rec)
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	ev := &evaluator{ctx: ctx, mem: mem, cols: cols, n: int(rec.NumRows())}
	res, err := b.root.eval(ev)
	if err != nil {
		return nil, err
	}
	if res.NullN() == 0 {
		return res, nil
	}
	defer res.Release()
	// NULL counts as false: values AND validity.
	data := res.Data()
	off := int64(data.Offset())
	buf := bitutil.BitmapAndAlloc(mem, data.Buffers()[1].Bytes(), data.Buffers()[0].Bytes(), off, off, int64(res.Len()), 0)
	defer buf.Release()
	out := array.NewData(arrow.FixedWidthTypes.Boolean, res.Len(), []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer out.Release()
	return array.NewBooleanData(out), nil
}

// columnsOf finds the filter's columns in rec: new references (struct
// fields and views are new arrays) the caller releases, also on error.
func (b *Bound) columnsOf(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch) ([]arrow.Array, error) {
	cols := make([]arrow.Array, len(b.cols))
	for i, c := range b.cols {
		idx := c.index
		if idx >= int(rec.NumCols()) || rec.ColumnName(idx) != c.name {
			found := rec.Schema().FieldIndices(c.name)
			if len(found) == 0 {
				return nil, fmt.Errorf("filter: the record has no column %q", c.name)
			}
			idx = found[0]
		}
		a := rec.Column(idx)
		// Columns only tested for nulls (vectors) need just the same kind:
		// list field names may differ between writers.
		same := arrow.TypeEqual(a.DataType(), c.top) || len(c.path) == 0 && classOf(c.typ) == clsOther && a.DataType().ID() == c.top.ID()
		if !same {
			return cols, fmt.Errorf("filter: column %q is %s in the record but was bound as %s", c.name, a.DataType(), c.top)
		}
		a.Retain()
		for _, j := range c.path {
			child := structField(mem, a.(*array.Struct), j)
			a.Release()
			a = child
		}
		v, err := toView(ctx, a)
		a.Release()
		if err != nil {
			return cols, fmt.Errorf("filter: reading %s: %w", c.label, err)
		}
		cols[i] = v
	}
	return cols, nil
}

// tri is an SQL truth value.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triNull
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func (a tri) and(b tri) tri {
	switch {
	case a == triFalse || b == triFalse:
		return triFalse
	case a == triNull || b == triNull:
		return triNull
	}
	return triTrue
}

func (a tri) or(b tri) tri {
	switch {
	case a == triTrue || b == triTrue:
		return triTrue
	case a == triNull || b == triNull:
		return triNull
	}
	return triFalse
}

func (a tri) not() tri {
	switch a {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triNull
}

// evaluator holds one Eval call's inputs.
type evaluator struct {
	ctx  context.Context // carries mem for the kernels
	mem  memory.Allocator
	cols []arrow.Array // by slot
	n    int
}

// node is a bound expression. eval returns a boolean array of ev.n values
// (nulls meaning SQL NULL) that the caller releases.
type node interface {
	eval(ev *evaluator) (*array.Boolean, error)
}

// call runs a compute function whose result is a boolean array.
func (ev *evaluator) call(fn string, opts compute.FunctionOptions, args ...compute.Datum) (*array.Boolean, error) {
	d, err := compute.CallFunction(ev.ctx, fn, opts, args...)
	if err != nil {
		return nil, fmt.Errorf("filter: %s: %w", fn, err)
	}
	defer d.Release()
	ad, ok := d.(*compute.ArrayDatum)
	if !ok {
		return nil, fmt.Errorf("filter: %s returned %s, want an array", fn, d.Kind())
	}
	return ad.MakeArray().(*array.Boolean), nil
}

// call2 runs a binary compute function on two boolean arrays and releases
// them.
func (ev *evaluator) call2(fn string, l, r *array.Boolean) (*array.Boolean, error) {
	defer l.Release()
	defer r.Release()
	return ev.call(fn, nil, datum(l), datum(r))
}

// call1 runs a unary compute function on a boolean array and releases it.
func (ev *evaluator) call1(fn string, x *array.Boolean) (*array.Boolean, error) {
	defer x.Release()
	return ev.call(fn, nil, datum(x))
}

// datum wraps a borrowed array or scalar for a kernel call.
func datum(v any) compute.Datum { return compute.NewDatumWithoutOwning(v) }

var cmpFunc = [...]string{OpEq: "equal", OpNe: "not_equal", OpLt: "less", OpLe: "less_equal", OpGt: "greater", OpGe: "greater_equal"}

// constNode is TRUE, FALSE or NULL for every row.
type constNode struct{ v tri }

func (n constNode) eval(ev *evaluator) (*array.Boolean, error) {
	out := newBoolOut(ev.mem, ev.n, n.v == triNull)
	if n.v == triTrue {
		bitutil.SetBitsTo(out.values, 0, int64(ev.n), true)
	}
	return out.finish(), nil
}

// boolColNode is a boolean column used as a condition.
type boolColNode struct{ col int }

func (n *boolColNode) eval(ev *evaluator) (*array.Boolean, error) {
	a := ev.cols[n.col].(*array.Boolean)
	a.Retain()
	return a, nil
}

// cmpLitNode is column op literal, the literal already of the column's type.
type cmpLitNode struct {
	col int
	op  CmpOp
	lit scalar.Scalar
}

func (n *cmpLitNode) eval(ev *evaluator) (*array.Boolean, error) {
	return ev.call(cmpFunc[n.op], nil, datum(ev.cols[n.col]), datum(n.lit))
}

// cmpColNode is column op column of types the kernels compare exactly,
// after casting both to cast if it is set.
type cmpColNode struct {
	l, r int
	op   CmpOp
	cast arrow.DataType
}

func (n *cmpColNode) eval(ev *evaluator) (*array.Boolean, error) {
	l, r := ev.cols[n.l], ev.cols[n.r]
	if n.cast != nil {
		var err error
		if l, err = ev.castTo(l, n.cast); err != nil {
			return nil, err
		}
		defer l.Release()
		if r, err = ev.castTo(r, n.cast); err != nil {
			return nil, err
		}
		defer r.Release()
	}
	return ev.call(cmpFunc[n.op], nil, datum(l), datum(r))
}

// castTo returns a (retained) copy of a as type t.
func (ev *evaluator) castTo(a arrow.Array, t arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(a.DataType(), t) {
		a.Retain()
		return a, nil
	}
	out, err := compute.CastArray(ev.ctx, a, compute.SafeCastOptions(t))
	if err != nil {
		return nil, fmt.Errorf("filter: cast %s to %s: %w", a.DataType(), t, err)
	}
	return out, nil
}

// boolOrderNode orders two boolean columns, false < true.
type boolOrderNode struct {
	l, r int
	op   CmpOp
}

func (n *boolOrderNode) eval(ev *evaluator) (*array.Boolean, error) {
	l, r := datum(ev.cols[n.l]), datum(ev.cols[n.r])
	switch n.op {
	case OpLt: // r AND NOT l
		return ev.call("and_not", nil, r, l)
	case OpGt:
		return ev.call("and_not", nil, l, r)
	case OpLe: // NOT (l > r)
		gt, err := ev.call("and_not", nil, l, r)
		if err != nil {
			return nil, err
		}
		return ev.call1("not", gt)
	}
	lt, err := ev.call("and_not", nil, r, l) // OpGe: NOT (l < r)
	if err != nil {
		return nil, err
	}
	return ev.call1("not", lt)
}

// isNullNode is column IS [NOT] NULL. It copies the validity bitmap
// rather than call is_null/is_not_null: in arrow-go v18.8 those kernels
// (and "not") ignore the offset of a sliced input's validity bitmap.
type isNullNode struct {
	col int
	not bool
}

func (n *isNullNode) eval(ev *evaluator) (*array.Boolean, error) {
	a := ev.cols[n.col]
	out := newBoolOut(ev.mem, ev.n, false)
	if a.NullN() == 0 {
		bitutil.SetBitsTo(out.values, 0, int64(ev.n), n.not)
		return out.finish(), nil
	}
	bitutil.CopyBitmap(a.NullBitmapBytes(), a.Data().Offset(), ev.n, out.values, 0)
	if !n.not {
		for i := range out.values {
			out.values[i] = ^out.values[i]
		}
	}
	return out.finish(), nil
}

// inNode is column IN set; set has the column's type and holds a null if
// the list did (SQL semantics: no match and a NULL in the list is NULL).
type inNode struct {
	col int
	set arrow.Array
}

func (n *inNode) eval(ev *evaluator) (*array.Boolean, error) {
	opts := &compute.SetOptions{ValueSet: datum(n.set), NullBehavior: compute.NullMatchingInconclusive}
	return ev.call("is_in", opts, datum(ev.cols[n.col]))
}

// logicN is AND / OR with Kleene logic.
type logicN struct {
	op   LogicOp
	l, r node
}

func (n *logicN) eval(ev *evaluator) (*array.Boolean, error) {
	l, err := n.l.eval(ev)
	if err != nil {
		return nil, err
	}
	r, err := n.r.eval(ev)
	if err != nil {
		l.Release()
		return nil, err
	}
	fn := "and_kleene"
	if n.op == OpOr {
		fn = "or_kleene"
	}
	return ev.call2(fn, l, r)
}

// logicNode builds l op r, folding constants: FALSE AND x is FALSE, TRUE
// AND x is x, and dually for OR.
func logicNode(op LogicOp, l, r node) node {
	absorb, identity := triFalse, triTrue // AND
	if op == OpOr {
		absorb, identity = triTrue, triFalse
	}
	lc, lok := l.(constNode)
	rc, rok := r.(constNode)
	switch {
	case lok && rok:
		if op == OpOr {
			return constNode{lc.v.or(rc.v)}
		}
		return constNode{lc.v.and(rc.v)}
	case lok && lc.v == absorb, rok && rc.v == absorb:
		return constNode{absorb}
	case lok && lc.v == identity:
		return r
	case rok && rc.v == identity:
		return l
	}
	return &logicN{op: op, l: l, r: r}
}

// notN is NOT x.
type notN struct{ x node }

func (n *notN) eval(ev *evaluator) (*array.Boolean, error) {
	x, err := n.x.eval(ev)
	if err != nil {
		return nil, err
	}
	if x.Data().Offset() != 0 && x.NullN() > 0 {
		// arrow-go v18.8's "not" drops the offset of the validity bitmap.
		c := compact(ev.mem, x)
		x.Release()
		x = c
	}
	return ev.call1("not", x)
}

// compact copies a boolean array to offset 0.
func compact(mem memory.Allocator, a *array.Boolean) *array.Boolean {
	out := newBoolOut(mem, a.Len(), false)
	off := a.Data().Offset()
	bitutil.CopyBitmap(a.Data().Buffers()[1].Bytes(), off, a.Len(), out.values, 0)
	if a.NullN() > 0 {
		out.trackNulls(mem)
		bitutil.CopyBitmap(a.NullBitmapBytes(), off, a.Len(), out.valid, 0)
	}
	return out.finish()
}

func notNode(x node) node {
	switch x := x.(type) {
	case constNode:
		return constNode{x.v.not()}
	case *notN:
		return x.x
	case *validConstNode:
		return &validConstNode{col: x.col, v: !x.v}
	}
	return &notN{x: x}
}

func boolScalar(v bool) scalar.Scalar { return scalar.NewBooleanScalar(v) }
