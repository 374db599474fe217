package filter

// A straightforward row-at-a-time reference evaluator of the filter
// semantics (doc.go), written independently of bind.go/eval.go, and the
// fixture record the differential tests run it on.

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"
	"unicode/utf8" // America/New_York without a system zoneinfo

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ---- fixture ----

var (
	tsNaiveS  = &arrow.TimestampType{Unit: arrow.Second}
	tsUTCms   = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	tsNYus    = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "America/New_York"}
	tsNaiveNs = &arrow.TimestampType{Unit: arrow.Nanosecond}
	tsOffMs   = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "+05:30"}
)

func fixtureSchema() *arrow.Schema {
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	return arrow.NewSchema([]arrow.Field{
		f("b", arrow.FixedWidthTypes.Boolean),
		f("b2", arrow.FixedWidthTypes.Boolean),
		f("i8", arrow.PrimitiveTypes.Int8),
		f("i16", arrow.PrimitiveTypes.Int16),
		f("i32", arrow.PrimitiveTypes.Int32),
		f("i64", arrow.PrimitiveTypes.Int64),
		f("u8", arrow.PrimitiveTypes.Uint8),
		f("u16", arrow.PrimitiveTypes.Uint16),
		f("u32", arrow.PrimitiveTypes.Uint32),
		f("u64", arrow.PrimitiveTypes.Uint64),
		f("f32", arrow.PrimitiveTypes.Float32),
		f("f64", arrow.PrimitiveTypes.Float64),
		f("s", arrow.BinaryTypes.String),
		f("ls", arrow.BinaryTypes.LargeString),
		f("bin", arrow.BinaryTypes.Binary),
		f("lbin", arrow.BinaryTypes.LargeBinary),
		f("d", arrow.FixedWidthTypes.Date32),
		f("ts_s", tsNaiveS),
		f("ts_ms", tsUTCms),
		f("ts_us", tsNYus),
		f("ts_ns", tsNaiveNs),
		f("ts_off", tsOffMs),
		f("vec", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32)),
		f("Mixed Case", arrow.PrimitiveTypes.Int32),
	}, nil)
}

var (
	intPool = []int64{-1, 0, 1, 2, 3, 7, 100, 127, 255, 256, -128, -129, 65535, 1 << 31, 1<<53 + 1}
	fltPool = []float64{0, math.Copysign(0, -1), 0.1, float64(float32(0.1)), 1.5, -2.5, 3, 100, 1e300, -1e300,
		math.NaN(), math.Inf(1), math.Inf(-1), 1 << 53, 1<<53 + 2, 9.5, -1}
	strPool = []string{"", "a", "ab", "abc", "b", "a%b", "a_b", "héllo", "hello", "x'y", `back\slash`, "日本", "A", "aXb", "a\nb"}
	binPool = append(append([]string{}, strPool...), "\xff\x00", "\xff", "h\xffllo")
	// instants in nanoseconds since the epoch
	instPool = []int64{0, -1, 86400e9, 19000 * 86400e9, 19000*86400e9 + 1, 19000*86400e9 + 3600e9, 19000*86400e9 + 1500,
		1_700_000_000e9, 1_700_000_000e9 + 123_456_789, -86400e9 * 365, 19001*86400e9 - 1, 19000*86400e9 + 5*3600e9}
	farSeconds = int64(16_725_225_600) // 2500-01-01, beyond the nanosecond range
)

// newFixture builds n rows of every column type with ~15% nulls.
func newFixture(t testing.TB, mem memory.Allocator, n int, seed uint64) arrow.RecordBatch {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	schema := fixtureSchema()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	pickInt := func(lo, hi int64) int64 {
		if rng.IntN(3) == 0 {
			if hi-lo+1 <= 0 { // the whole int64 range
				return int64(rng.Uint64())
			}
			return lo + rng.Int64N(hi-lo+1)
		}
		for {
			v := intPool[rng.IntN(len(intPool))]
			if rng.IntN(8) == 0 {
				v = []int64{lo, hi, lo + 1, hi - 1}[rng.IntN(4)]
			}
			if v >= lo && v <= hi {
				return v
			}
		}
	}
	for row := 0; row < n; row++ {
		inst := instPool[rng.IntN(len(instPool))]
		if rng.IntN(4) == 0 {
			inst = 1_700_000_000e9 + rng.Int64N(4*86400e9)
		}
		for c, fb := range b.Fields() {
			if rng.IntN(100) < 15 {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.BooleanBuilder:
				fb.Append(rng.IntN(2) == 0)
			case *array.Int8Builder:
				fb.Append(int8(pickInt(math.MinInt8, math.MaxInt8)))
			case *array.Int16Builder:
				fb.Append(int16(pickInt(math.MinInt16, math.MaxInt16)))
			case *array.Int32Builder:
				fb.Append(int32(pickInt(math.MinInt32, math.MaxInt32)))
			case *array.Int64Builder:
				fb.Append(pickInt(math.MinInt64, math.MaxInt64))
			case *array.Uint8Builder:
				fb.Append(uint8(pickInt(0, math.MaxUint8)))
			case *array.Uint16Builder:
				fb.Append(uint16(pickInt(0, math.MaxUint16)))
			case *array.Uint32Builder:
				fb.Append(uint32(pickInt(0, math.MaxUint32)))
			case *array.Uint64Builder:
				switch rng.IntN(6) {
				case 0:
					fb.Append(math.MaxUint64 - uint64(rng.IntN(2)))
				case 1:
					fb.Append(1 << 63)
				default:
					fb.Append(uint64(pickInt(0, math.MaxInt64)))
				}
			case *array.Float32Builder:
				fb.Append(float32(fltPool[rng.IntN(len(fltPool))]))
			case *array.Float64Builder:
				v := fltPool[rng.IntN(len(fltPool))]
				if rng.IntN(4) == 0 {
					v = float64(intPool[rng.IntN(len(intPool))])
				}
				fb.Append(v)
			case *array.StringBuilder:
				fb.Append(strPool[rng.IntN(len(strPool))])
			case *array.LargeStringBuilder:
				fb.Append(strPool[rng.IntN(len(strPool))])
			case *array.BinaryBuilder:
				fb.AppendString(binPool[rng.IntN(len(binPool))])
			case *array.Date32Builder:
				fb.Append(arrow.Date32(floorDiv(inst, 86400e9)))
			case *array.TimestampBuilder:
				unit := schema.Field(c).Type.(*arrow.TimestampType).Unit
				per := map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[unit]
				v := floorDiv(inst, per)
				if unit == arrow.Second && rng.IntN(10) == 0 {
					v = farSeconds
				}
				fb.Append(arrow.Timestamp(v))
			case *array.FixedSizeListBuilder:
				fb.Append(true)
				vb := fb.ValueBuilder().(*array.Float32Builder)
				vb.Append(rng.Float32())
				vb.Append(rng.Float32())
			default:
				t.Fatalf("fixture: unhandled builder %T", fb)
			}
		}
	}
	return b.NewRecordBatch()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ---- reference evaluator ----

// cell is one value read from a record.
type cell struct {
	null bool
	typ  arrow.DataType
	b    bool
	i    *big.Int // integers; temporal values in nanoseconds
	f    float64  // floats
	s    string   // strings and binary
}

func readCell(a arrow.Array, row int) cell {
	c := cell{typ: a.DataType(), null: a.IsNull(row)}
	if c.null {
		return c
	}
	switch a := a.(type) {
	case *array.Boolean:
		c.b = a.Value(row)
	case *array.Int8:
		c.i = big.NewInt(int64(a.Value(row)))
	case *array.Int16:
		c.i = big.NewInt(int64(a.Value(row)))
	case *array.Int32:
		c.i = big.NewInt(int64(a.Value(row)))
	case *array.Int64:
		c.i = big.NewInt(a.Value(row))
	case *array.Uint8:
		c.i = new(big.Int).SetUint64(uint64(a.Value(row)))
	case *array.Uint16:
		c.i = new(big.Int).SetUint64(uint64(a.Value(row)))
	case *array.Uint32:
		c.i = new(big.Int).SetUint64(uint64(a.Value(row)))
	case *array.Uint64:
		c.i = new(big.Int).SetUint64(a.Value(row))
	case *array.Float32:
		c.f = float64(a.Value(row))
	case *array.Float64:
		c.f = a.Value(row)
	case *array.String:
		c.s = a.Value(row)
	case *array.LargeString:
		c.s = a.Value(row)
	case *array.Binary:
		c.s = string(a.Value(row))
	case *array.LargeBinary:
		c.s = string(a.Value(row))
	case *array.Date32:
		c.i = new(big.Int).Mul(big.NewInt(int64(a.Value(row))), big.NewInt(86400e9))
	case *array.Timestamp:
		per := map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}
		c.i = new(big.Int).Mul(big.NewInt(int64(a.Value(row))), big.NewInt(per[a.DataType().(*arrow.TimestampType).Unit]))
	}
	return c
}

type refKind int

const (
	rkOther refKind = iota
	rkBool
	rkInt
	rkFloat
	rkBytes
	rkTemporal
)

func kindOf(t arrow.DataType) refKind {
	switch t.ID() {
	case arrow.BOOL:
		return rkBool
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return rkInt
	case arrow.FLOAT32, arrow.FLOAT64:
		return rkFloat
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return rkBytes
	case arrow.DATE32, arrow.TIMESTAMP:
		return rkTemporal
	}
	return rkOther
}

type ref struct {
	rec arrow.RecordBatch
	row int
}

// tv is a reference truth value: 0 false, 1 true, 2 null.
type tv int

const (
	tvF tv = iota
	tvT
	tvN
)

func tvOf(b bool) tv {
	if b {
		return tvT
	}
	return tvF
}

func refHolds(op CmpOp, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGe:
		return c >= 0
	}
	panic("op")
}

func (r ref) col(name string) arrow.Array {
	idx := r.rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		panic("no column " + name)
	}
	return r.rec.Column(idx[0])
}

func (r ref) eval(e Expr) tv {
	switch e := e.(type) {
	case *Logic:
		a, b := r.eval(e.L), r.eval(e.R)
		if e.Op == OpAnd {
			switch {
			case a == tvF || b == tvF:
				return tvF
			case a == tvN || b == tvN:
				return tvN
			}
			return tvT
		}
		switch {
		case a == tvT || b == tvT:
			return tvT
		case a == tvN || b == tvN:
			return tvN
		}
		return tvF
	case *Not:
		switch r.eval(e.X) {
		case tvT:
			return tvF
		case tvF:
			return tvT
		}
		return tvN
	case *Compare:
		return r.cmp(e.Op, e.L, e.R)
	case *Between:
		return r.eval(&Logic{Op: OpAnd,
			L: &Compare{Op: OpGe, L: e.X, R: e.Lo},
			R: &Compare{Op: OpLe, L: e.X, R: e.Hi}}).not(e.Not)
	case *In:
		return r.in(e).not(e.Not)
	case *IsNull:
		null := false
		switch x := e.X.(type) {
		case *Column:
			null = r.col(x.Name).IsNull(r.row)
		case *Literal:
			null = x.Kind == LitNull
		}
		return tvOf(null != e.Not)
	case *Like:
		var s string
		binary := false
		switch x := e.X.(type) {
		case *Column:
			c := readCell(r.col(x.Name), r.row)
			if c.null {
				return tvN
			}
			s = c.s
			binary = c.typ.ID() == arrow.BINARY || c.typ.ID() == arrow.LARGE_BINARY
		case *Literal:
			if x.Kind == LitNull {
				return tvN
			}
			s = x.Str
		}
		return tvOf(refLike(e.Pattern, s, binary)).not(e.Not)
	case *Column:
		c := readCell(r.col(e.Name), r.row)
		if c.null {
			return tvN
		}
		return tvOf(c.b)
	case *Literal:
		switch e.Kind {
		case LitNull:
			return tvN
		case LitBool:
			return tvOf(e.Bool)
		}
	}
	panic(fmt.Sprintf("reference: cannot evaluate %T %v", e, e))
}

// in is TRUE if any element is equal, else NULL if any comparison is
// NULL, else FALSE.
func (r ref) in(e *In) tv {
	acc := tvF
	for _, l := range e.List {
		switch r.cmp(OpEq, e.X, l) {
		case tvT:
			return tvT
		case tvN:
			acc = tvN
		}
	}
	return acc
}

func (v tv) not(not bool) tv {
	if !not || v == tvN {
		return v
	}
	return 1 - v
}

var likeCache sync.Map // regexp text → *regexp.Regexp

// refLike matches with a regexp over runes: on binary values every byte is
// one character (latin-1), on strings an invalid byte is one character
// (mapped to the private use area).
func refLike(pat, s string, binary bool) bool {
	runes := func(x string) string {
		var b strings.Builder
		for i := 0; i < len(x); {
			r, n := utf8.DecodeRuneInString(x[i:])
			if binary {
				r, n = rune(x[i]), 1
			} else if r == utf8.RuneError && n == 1 {
				r = 0xF700 + rune(x[i])
			}
			b.WriteRune(r)
			i += n
		}
		return b.String()
	}
	var re strings.Builder
	re.WriteString(`(?s)^`)
	p := []rune(runes(pat))
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		case '\\':
			i++
			re.WriteString(regexp.QuoteMeta(string(p[i])))
		default:
			re.WriteString(regexp.QuoteMeta(string(p[i])))
		}
	}
	re.WriteString(`$`)
	rx, ok := likeCache.Load(re.String())
	if !ok {
		rx, _ = likeCache.LoadOrStore(re.String(), regexp.MustCompile(re.String()))
	}
	return rx.(*regexp.Regexp).MatchString(runes(s))
}

// operand values for the reference: a cell, or a literal read for a column
// type.
func (r ref) cmp(op CmpOp, l, rr Operand) tv {
	lc, lIsCol := l.(*Column)
	rc, rIsCol := rr.(*Column)
	switch {
	case lIsCol && rIsCol:
		a, b := readCell(r.col(lc.Name), r.row), readCell(r.col(rc.Name), r.row)
		if a.null || b.null {
			return tvN
		}
		return refCmpCells(op, a, b)
	case lIsCol:
		a := readCell(r.col(lc.Name), r.row)
		return refCmpLit(op, a, rr.(*Literal))
	case rIsCol:
		b := readCell(r.col(rc.Name), r.row)
		return refCmpLit(flipOp(op), b, l.(*Literal))
	}
	a, b := l.(*Literal), rr.(*Literal)
	if a.Kind == LitNull || b.Kind == LitNull {
		return tvN
	}
	switch a.Kind {
	case LitNumber:
		x, _ := new(big.Rat).SetString(a.Num)
		y, _ := new(big.Rat).SetString(b.Num)
		return tvOf(refHolds(op, x.Cmp(y)))
	case LitString:
		return tvOf(refHolds(op, strings.Compare(a.Str, b.Str)))
	}
	return tvOf(refHolds(op, boolOrder(a.Bool)-boolOrder(b.Bool)))
}

func flipOp(op CmpOp) CmpOp {
	return map[CmpOp]CmpOp{OpEq: OpEq, OpNe: OpNe, OpLt: OpGt, OpLe: OpGe, OpGt: OpLt, OpGe: OpLe}[op]
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ieee(op CmpOp, a, b float64) tv {
	if math.IsNaN(a) || math.IsNaN(b) {
		return tvOf(op == OpNe)
	}
	c := 0
	if a < b {
		c = -1
	} else if a > b {
		c = 1
	}
	return tvOf(refHolds(op, c))
}

func refCmpCells(op CmpOp, a, b cell) tv {
	ka, kb := kindOf(a.typ), kindOf(b.typ)
	switch {
	case ka == rkBool:
		return tvOf(refHolds(op, boolOrder(a.b)-boolOrder(b.b)))
	case ka == rkBytes:
		return tvOf(refHolds(op, strings.Compare(a.s, b.s)))
	case ka == rkTemporal:
		return tvOf(refHolds(op, a.i.Cmp(b.i)))
	}
	// numeric: exact, NaN unordered
	toF := func(c cell, k refKind) *big.Float {
		if k == rkInt {
			return new(big.Float).SetInt(c.i)
		}
		return new(big.Float).SetFloat64(c.f)
	}
	if ka == rkFloat && math.IsNaN(a.f) || kb == rkFloat && math.IsNaN(b.f) {
		return tvOf(op == OpNe)
	}
	return tvOf(refHolds(op, toF(a, ka).Cmp(toF(b, kb))))
}

// refCmpLit compares cell a (never of another type than its column) with
// a literal coerced as doc.go describes.
func refCmpLit(op CmpOp, a cell, l *Literal) tv {
	if a.null || l.Kind == LitNull {
		return tvN
	}
	switch kindOf(a.typ) {
	case rkBool:
		return tvOf(refHolds(op, boolOrder(a.b)-boolOrder(l.Bool)))
	case rkInt:
		v, _ := new(big.Rat).SetString(l.Num)
		return tvOf(refHolds(op, new(big.Rat).SetInt(a.i).Cmp(v)))
	case rkFloat:
		v, _ := new(big.Rat).SetString(l.Num)
		var f float64
		if a.typ.ID() == arrow.FLOAT32 {
			f32, _ := v.Float32()
			f = float64(f32)
		} else {
			f, _ = v.Float64()
		}
		return ieee(op, a.f, f)
	case rkBytes:
		return tvOf(refHolds(op, strings.Compare(a.s, l.Str)))
	case rkTemporal:
		ns := refParseTime(a.typ, l.Str)
		return tvOf(refHolds(op, a.i.Cmp(ns)))
	}
	panic("reference: literal vs " + a.typ.String())
}

// refParseTime reads a date/time literal as nanoseconds since the epoch.
func refParseTime(t arrow.DataType, s string) *big.Int {
	loc := time.UTC
	if ts, ok := t.(*arrow.TimestampType); ok && ts.TimeZone != "" {
		l, err := ts.GetZone()
		if err != nil {
			panic(err)
		}
		loc = l
	}
	var tm time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"} {
		if tm, err = time.Parse(layout, s); err == nil {
			goto ok
		}
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if tm, err = time.ParseInLocation(layout, s, loc); err == nil {
			goto ok
		}
	}
	panic("reference: bad time literal " + s)
ok:
	ns := new(big.Int).Mul(big.NewInt(tm.Unix()), big.NewInt(1e9))
	return ns.Add(ns, big.NewInt(int64(tm.Nanosecond())))
}

// refMask evaluates e on every row: true where it is TRUE.
func refMask(rec arrow.RecordBatch, e Expr) []bool {
	out := make([]bool, rec.NumRows())
	for i := range out {
		out[i] = ref{rec: rec, row: i}.eval(e) == tvT
	}
	return out
}

// checkMask compares an Eval mask with the reference.
func checkMask(t *testing.T, what string, rec arrow.RecordBatch, m *array.Boolean, e Expr) bool {
	t.Helper()
	want := refMask(rec, e)
	if m.Len() != len(want) {
		t.Errorf("%s: mask has %d rows, want %d", what, m.Len(), len(want))
		return false
	}
	if m.NullN() != 0 {
		t.Errorf("%s: mask has %d nulls", what, m.NullN())
		return false
	}
	for i, w := range want {
		if m.Value(i) != w {
			var vals []string
			for _, c := range columnsIn(e) {
				vals = append(vals, fmt.Sprintf("%s=%v", c, cellString(ref{rec: rec, row: i}.col(c), i)))
			}
			t.Errorf("%s: row %d: got %v, want %v (%s)", what, i, m.Value(i), w, strings.Join(vals, ", "))
			return false
		}
	}
	return true
}

func cellString(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	return fmt.Sprintf("%q", a.ValueStr(i))
}

// columnsIn lists the column names e mentions.
func columnsIn(e Expr) []string {
	var out []string
	add := func(o Operand) {
		if c, ok := o.(*Column); ok {
			out = append(out, c.Name)
		}
	}
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Logic:
			walk(e.L)
			walk(e.R)
		case *Not:
			walk(e.X)
		case *Compare:
			add(e.L)
			add(e.R)
		case *In:
			add(e.X)
		case *Between:
			add(e.X)
			add(e.Lo)
			add(e.Hi)
		case *IsNull:
			add(e.X)
		case *Like:
			add(e.X)
		case *Column:
			add(e)
		}
	}
	walk(e)
	return out
}
