package filter

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file holds the evaluations arrow's kernels do not cover: LIKE, exact
// comparisons across numeric and temporal types, and constants.

// boolOut builds a boolean array bit by bit. Values start false; validity
// is absent (all valid) unless allNull or nullsFrom adds it.
type boolOut struct {
	n               int
	valBuf, nullBuf *memory.Buffer
	values, valid   []byte
}

func newBoolOut(mem memory.Allocator, n int, allNull bool) *boolOut {
	o := &boolOut{n: n}
	size := int(bitutil.BytesForBits(int64(n)))
	o.valBuf = memory.NewResizableBuffer(mem)
	o.valBuf.Resize(size)
	o.values = o.valBuf.Bytes()
	clear(o.values)
	if allNull {
		o.trackNulls(mem)
		clear(o.valid)
	}
	return o
}

// trackNulls adds an all-valid validity bitmap.
func (o *boolOut) trackNulls(mem memory.Allocator) {
	o.nullBuf = memory.NewResizableBuffer(mem)
	o.nullBuf.Resize(len(o.values))
	o.valid = o.nullBuf.Bytes()
	bitutil.SetBitsTo(o.valid, 0, int64(o.n), true)
}

// nullsFrom makes row i null wherever a (or b, if not nil) is null.
func (o *boolOut) nullsFrom(mem memory.Allocator, a, b arrow.Array) {
	if b != nil && b.NullN() > 0 && a.NullN() == 0 {
		a, b = b, nil
	}
	if a.NullN() == 0 {
		return
	}
	if b != nil && b.NullN() > 0 {
		o.nullBuf = bitutil.BitmapAndAlloc(mem, a.NullBitmapBytes(), b.NullBitmapBytes(),
			int64(a.Data().Offset()), int64(b.Data().Offset()), int64(o.n), 0)
		o.valid = o.nullBuf.Bytes()
		return
	}
	o.trackNulls(mem)
	bitutil.CopyBitmap(a.NullBitmapBytes(), a.Data().Offset(), o.n, o.valid, 0)
}

func (o *boolOut) finish() *array.Boolean {
	nulls := 0
	if o.valid != nil {
		nulls = o.n - bitutil.CountSetBits(o.valid, 0, o.n)
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, o.n, []*memory.Buffer{o.nullBuf, o.valBuf}, nil, nulls, 0)
	o.valBuf.Release()
	if o.nullBuf != nil {
		o.nullBuf.Release()
	}
	defer data.Release()
	return array.NewBooleanData(data)
}

// validConstNode is v where the column is non-null and NULL where it is
// null: x < 300 for an int8 x, say.
type validConstNode struct {
	col int
	v   bool
}

func (n *validConstNode) eval(ev *evaluator) (*array.Boolean, error) {
	out := newBoolOut(ev.mem, ev.n, false)
	if n.v {
		bitutil.SetBitsTo(out.values, 0, int64(ev.n), true)
	}
	out.nullsFrom(ev.mem, ev.cols[n.col], nil)
	return out.finish(), nil
}

// likeNode is column LIKE pattern, over string or binary columns.
type likeNode struct {
	col int
	m   *matcher
}

func (n *likeNode) eval(ev *evaluator) (*array.Boolean, error) {
	a := ev.cols[n.col]
	out := newBoolOut(ev.mem, ev.n, false)
	out.nullsFrom(ev.mem, a, nil)
	// Null slots have valid (empty or arbitrary) offsets: match them too,
	// validity masks them.
	switch a := a.(type) {
	case *array.String:
		likeLoop(n.m, a.ValueOffsets(), a.ValueBytes(), out.values)
	case *array.LargeString:
		likeLoop(n.m, a.ValueOffsets(), a.ValueBytes(), out.values)
	case *array.Binary:
		likeLoop(n.m, a.ValueOffsets(), a.ValueBytes(), out.values)
	case *array.LargeBinary:
		likeLoop(n.m, a.ValueOffsets(), a.ValueBytes(), out.values)
	default:
		out.finish().Release()
		return nil, fmt.Errorf("filter: LIKE on %s", a.DataType())
	}
	return out.finish(), nil
}

// likeLoop sets bit i of out where value i matches; offsets are the
// array's (len n+1) and data its value bytes starting at offsets[0].
func likeLoop[O int32 | int64](m *matcher, offsets []O, data []byte, out []byte) {
	if len(offsets) == 0 {
		return
	}
	base := offsets[0]
	for i := 0; i < len(offsets)-1; i++ {
		if m.match(data[offsets[i]-base : offsets[i+1]-base]) {
			out[i>>3] |= 1 << (i & 7)
		}
	}
}

// num is one numeric value, exactly: an int64, a uint64 or a float64.
type num struct {
	kind numKind
	i    int64
	u    uint64
	f    float64
}

type numKind uint8

const (
	numInt numKind = iota
	numUint
	numFloat
)

// numReader returns an accessor of a's values as nums.
func numReader(a arrow.Array) (func(i int) num, error) {
	switch a := a.(type) {
	case *array.Int8:
		return func(i int) num { return num{kind: numInt, i: int64(a.Value(i))} }, nil
	case *array.Int16:
		return func(i int) num { return num{kind: numInt, i: int64(a.Value(i))} }, nil
	case *array.Int32:
		return func(i int) num { return num{kind: numInt, i: int64(a.Value(i))} }, nil
	case *array.Int64:
		return func(i int) num { return num{kind: numInt, i: a.Value(i)} }, nil
	case *array.Uint8:
		return func(i int) num { return num{kind: numUint, u: uint64(a.Value(i))} }, nil
	case *array.Uint16:
		return func(i int) num { return num{kind: numUint, u: uint64(a.Value(i))} }, nil
	case *array.Uint32:
		return func(i int) num { return num{kind: numUint, u: uint64(a.Value(i))} }, nil
	case *array.Uint64:
		return func(i int) num { return num{kind: numUint, u: a.Value(i)} }, nil
	case *array.Float32:
		return func(i int) num { return num{kind: numFloat, f: float64(a.Value(i))} }, nil
	case *array.Float64:
		return func(i int) num { return num{kind: numFloat, f: a.Value(i)} }, nil
	}
	return nil, fmt.Errorf("filter: %s is not numeric", a.DataType())
}

// cmpNum compares a and b exactly; ok is false when either is NaN.
func cmpNum(a, b num) (c int, ok bool) {
	if a.kind > b.kind { // order so a.kind <= b.kind
		c, ok = cmpNum(b, a)
		return -c, ok
	}
	switch {
	case a.kind == numInt && b.kind == numInt:
		return cmp3(a.i, b.i), true
	case a.kind == numUint && b.kind == numUint:
		return cmp3(a.u, b.u), true
	case a.kind == numInt && b.kind == numUint:
		if a.i < 0 {
			return -1, true
		}
		return cmp3(uint64(a.i), b.u), true
	case a.kind == numFloat:
		if math.IsNaN(a.f) || math.IsNaN(b.f) {
			return 0, false
		}
		return cmp3(a.f, b.f), true
	}
	// a is an integer, b a float.
	f := b.f
	switch {
	case math.IsNaN(f):
		return 0, false
	case a.kind == numInt && f >= 1<<63, a.kind == numUint && f >= 1<<64:
		return -1, true
	case a.kind == numInt && f < -(1<<63), a.kind == numUint && f < 0:
		return 1, true
	}
	t := math.Trunc(f) // now exactly an integer of a's kind
	if a.kind == numInt {
		c = cmp3(a.i, int64(t))
	} else {
		c = cmp3(a.u, uint64(t))
	}
	if c == 0 {
		c = cmp3(0, f-t) // the fraction decides
	}
	return c, true
}

func cmp3[T int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numLoopNode compares numeric columns no kernel compares exactly (int64
// with float64, uint64 with signed integers).
type numLoopNode struct {
	l, r int
	op   CmpOp
}

func (n *numLoopNode) eval(ev *evaluator) (*array.Boolean, error) {
	la, ra := ev.cols[n.l], ev.cols[n.r]
	lv, err := numReader(la)
	if err != nil {
		return nil, err
	}
	rv, err := numReader(ra)
	if err != nil {
		return nil, err
	}
	out := newBoolOut(ev.mem, ev.n, false)
	out.nullsFrom(ev.mem, la, ra)
	for i := 0; i < ev.n; i++ {
		c, ok := cmpNum(lv(i), rv(i))
		if ok && n.op.holds(c) || !ok && n.op == OpNe { // IEEE: NaN != x
			bitutil.SetBit(out.values, i)
		}
	}
	return out.finish(), nil
}

// timeLoopNode compares temporal columns of different units exactly; lmul
// and rmul are their units in nanoseconds.
type timeLoopNode struct {
	l, r       int
	op         CmpOp
	lmul, rmul int64
}

func temporalReader(a arrow.Array) (func(i int) int64, error) {
	switch a := a.(type) {
	case *array.Date32:
		return func(i int) int64 { return int64(a.Value(i)) }, nil
	case *array.Timestamp:
		return func(i int) int64 { return int64(a.Value(i)) }, nil
	}
	return nil, fmt.Errorf("filter: %s is not a date32 or timestamp", a.DataType())
}

func (n *timeLoopNode) eval(ev *evaluator) (*array.Boolean, error) {
	la, ra := ev.cols[n.l], ev.cols[n.r]
	lv, err := temporalReader(la)
	if err != nil {
		return nil, err
	}
	rv, err := temporalReader(ra)
	if err != nil {
		return nil, err
	}
	out := newBoolOut(ev.mem, ev.n, false)
	out.nullsFrom(ev.mem, la, ra)
	for i := 0; i < ev.n; i++ {
		if n.op.holds(cmpScaled(lv(i), n.lmul, rv(i), n.rmul)) {
			bitutil.SetBit(out.values, i)
		}
	}
	return out.finish(), nil
}

// cmpScaled compares a*am with b*bm exactly; the larger multiplier is a
// multiple of the smaller.
func cmpScaled(a, am, b, bm int64) int {
	if am < bm {
		return -cmpScaled(b, bm, a, am)
	}
	r := am / bm
	// a*r vs b: with b = q*r + rem (0 <= rem < r), a*r < b iff a < q or
	// a == q and rem > 0.
	q, rem := b/r, b%r
	if rem < 0 {
		q, rem = q-1, rem+r
	}
	switch {
	case a < q:
		return -1
	case a > q:
		return 1
	case rem > 0:
		return -1
	}
	return 0
}
