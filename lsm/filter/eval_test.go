package filter

import (
	"context"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// evalAll binds src against rec's schema and checks Eval against the
// reference on rec, on a slice of it (non-zero offsets), and on a record
// holding only Columns() in reverse order.
func evalAll(t *testing.T, mem memory.Allocator, rec arrow.RecordBatch, e Expr) bool {
	t.Helper()
	ctx := context.Background()
	b, err := Bind(e, rec.Schema())
	if err != nil {
		t.Errorf("Bind(%s): %v", e, err)
		return false
	}
	check := func(what string, r arrow.RecordBatch) bool {
		m, err := b.Eval(ctx, mem, r)
		if err != nil {
			t.Errorf("%s: Eval(%s): %v", what, e, err)
			return false
		}
		defer m.Release()
		return checkMask(t, what+": "+e.String(), r, m, e)
	}
	if !check("full", rec) {
		return false
	}
	sl := rec.NewSlice(3, rec.NumRows()-2)
	defer sl.Release()
	if !check("slice", sl) {
		return false
	}
	// Projection: only the filter's columns, reversed.
	names := b.Columns()
	var fields []arrow.Field
	var cols []arrow.Array
	for i := len(names) - 1; i >= 0; i-- {
		idx := rec.Schema().FieldIndices(names[i])[0]
		fields = append(fields, rec.Schema().Field(idx))
		cols = append(cols, rec.Column(idx))
	}
	proj := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	defer proj.Release()
	m, err := b.Eval(ctx, mem, proj)
	if err != nil {
		t.Errorf("projected: Eval(%s): %v", e, err)
		return false
	}
	defer m.Release()
	return checkMask(t, "projected: "+e.String(), rec, m, e)
}

func mustParse(t testing.TB, src string) Expr {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return e
}

// TestEvalTable checks hand-picked expressions, every column type and
// every operator, against the reference.
func TestEvalTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := newFixture(t, mem, 211, 1)
	defer rec.Release()
	cases := []string{
		// booleans
		"b", "NOT b", "b = TRUE", "b != FALSE", "b < TRUE", "b <= FALSE", "b > FALSE", "b >= TRUE", "b <= TRUE",
		"b = b2", "b <> b2", "b < b2", "b <= b2", "b > b2", "b >= b2", "b IN (TRUE)", "b IN (FALSE, NULL)", "b NOT IN (TRUE, FALSE)",
		"b AND b2", "b OR b2", "b AND NOT b2 OR b2 AND NOT b",
		// integers vs literals, with out-of-range and fractional literals
		"i8 = 1", "i8 != 1", "i8 < 300", "i8 > 300", "i8 >= -129", "i8 <= -129", "i8 = 300", "i8 <> 300",
		"i8 > 2.5", "i8 >= 2.5", "i8 < -0.5", "i8 <= -0.5", "i8 = 2.0", "i8 = 2.5", "i8 != 2.5", "i8 < 1e2", "i8 > -1e30",
		"i16 >= -32768", "i16 < 32768", "i32 BETWEEN -1 AND 3", "i32 NOT BETWEEN 0 AND 100",
		"i64 = 9007199254740993", "i64 > 9223372036854775807", "i64 < -9223372036854775808", "i64 <= 9223372036854775807",
		"i64 >= 99999999999999999999", "i64 = -9223372036854775808",
		"u8 < 0", "u8 >= 0", "u8 = -1", "u8 > 254.5", "u16 <= 65535", "u32 = 4294967295", "u32 > 2147483648",
		"u64 = 18446744073709551615", "u64 > 9223372036854775807", "u64 = 9223372036854775808", "u64 < 18446744073709551616",
		"i8 IN (1, 2, 300, 2.5, -1)", "i8 IN (1, NULL)", "i8 NOT IN (1, NULL)", "i8 IN (300)", "i8 IN (300, NULL)", "i8 NOT IN (300)",
		"u64 IN (18446744073709551615, 0, 1)", "i64 NOT IN (0, 1, 2, 3)",
		"-1 < i8", "300 > i8", "2.5 <= i16",
		// floats
		"f32 = 0.1", "f32 < 0.1", "f32 <= 0.1", "f64 = 0.1", "f64 > 0.1", "f64 = 0", "f64 = -0", "f32 > 1e39", "f32 < -1e39",
		"f32 = 1e39", "f64 >= 1e300", "f64 = 9007199254740993", "f64 <> 3", "f64 IN (0, 1.5, 3)", "f32 IN (0.1, NULL)", "f64 NOT IN (0)",
		"f64 BETWEEN -1 AND 1e300", "f64 = 1e-320", "f32 = 1e-50", "f32 = 0",
		// numeric column vs column: kernel, cast and exact loop
		"i8 = i16", "i8 < u8", "i32 >= u32", "i64 = u64", "i64 < u64", "u64 > i8", "i64 = f64", "i64 < f64", "u64 >= f64",
		"i16 = f32", "i32 <= f32", "f32 = f64", "f32 < f64", "u8 = u16", "u32 != u64", "i64 = i64", "f64 <> f64", "f64 = f64",
		"u64 <= f32", "i64 BETWEEN i8 AND u64",
		// strings and binary
		"s = 'a'", "s <> 'a'", "s < 'b'", "s >= 'héllo'", "s = ''", "ls = 'abc'", "ls > 'a'", "bin = 'h\xffllo'", "lbin < 'b'",
		"s = 'x''y'", "s IN ('a', 'b', 'x''y')", "s NOT IN ('a', NULL)", "ls IN ('', 'ab')", "bin IN ('\xff', 'a')",
		"lbin NOT IN ('a')", "s BETWEEN 'a' AND 'b'", "s = ls", "s < ls", "s = bin", "ls >= lbin", "bin <> lbin",
		// LIKE
		"s LIKE 'a%'", "s LIKE '%b'", "s LIKE '%b%'", "s LIKE 'a_b'", "s LIKE 'h_llo'", "s LIKE '_'", "s LIKE '%'",
		"s LIKE ''", "s NOT LIKE 'a%'", `s LIKE 'a\%b'`, `s LIKE 'a\_b'`, `s LIKE '%\\%'`, "s LIKE '%''%'", "s LIKE 'a%b%c'",
		"s LIKE '__'", "s LIKE '%_'", "s LIKE '日%'", "ls LIKE '%l%'", "bin LIKE 'h_llo'", "lbin LIKE '_'", "bin LIKE '%\xff'",
		"s LIKE 'a%%b'", "s LIKE '%a%b%'", "s LIKE 'a\nb'", "s LIKE 'A%'",
		// dates and timestamps
		"d = '2022-01-08'", "d > '2022-01-08'", "d <= '1970-01-01'", "d < '2022-01-08T01:00:00Z'", "d >= '2022-01-08T00:00:00.000000001Z'",
		"d = '2022-01-08T00:00:00+00:00'", "d BETWEEN '1969-01-01' AND '2022-01-08'", "d IN ('2022-01-08', '1970-01-02', NULL)",
		"ts_s = '2023-11-14T22:13:20Z'", "ts_s >= '2023-11-14 22:13:20'", "ts_s > '2100-01-01'", "ts_s = '2500-01-01'",
		"ts_ms = '2022-01-08T01:00:00Z'", "ts_ms < '2022-01-08 01:00:00'", "ts_ms IN ('2022-01-08T01:00:00Z', '1970-01-01')",
		"ts_us = '2022-01-07 20:00:00'", "ts_us < '2022-01-07T20:00:00-05:00'", "ts_us >= '2023-11-14'",
		"ts_ns = '2022-01-08T00:00:00.0000015Z'", "ts_ns > '2022-01-08 00:00:00.000001'", "ts_ns < '1677-09-22'", "ts_ns > '2262-04-12'",
		"ts_ns IN ('2022-01-08T00:00:00.000001500Z', '2262-04-12')", "ts_off = '2022-01-08 05:30:00'", "ts_off > '2022-01-08'",
		"d = ts_s", "d < ts_ns", "ts_s = ts_ns", "ts_s < ts_ns", "ts_ms = ts_us", "ts_ms <= ts_off", "ts_s >= d", "d = d",
		"ts_ns = ts_ns", "ts_ms > ts_ms", "d = ts_ms", "d <= ts_us",
		// null tests, constants, nesting
		"i8 IS NULL", "i8 IS NOT NULL", "vec IS NULL", "vec IS NOT NULL", "s IS NULL OR s = 'a'", "NOT (s IS NULL)",
		"TRUE", "FALSE", "NULL", "NOT NULL", "1 = 1", "1 < 0.5", "'a' < 'b'", "NULL = NULL", "TRUE AND i8 > 0", "FALSE OR i8 > 0",
		"NULL OR i8 > 0", "NULL AND i8 > 0", "i8 = NULL", "NOT i8 = NULL", "i8 IN (NULL)", "i8 NOT IN (NULL)", "NULL IS NULL",
		"1 IN (1, 2)", "3 IN (1, NULL)", "'abc' LIKE 'a%'", "NULL LIKE 'a'", "1 BETWEEN 0 AND 2", "i8 BETWEEN NULL AND 3",
		"NOT (i8 > 0 AND (s = 'a' OR f64 < 1)) OR b", "NOT NOT b", "(i8 > 0 OR i16 > 0) AND (u8 < 10 OR u16 < 10)",
		`"Mixed Case" > 0`, `"Mixed Case" IN (1, 2, 3) OR "Mixed Case" IS NULL`,
		"i8 > 0 AND i16 > 0 AND i32 > 0 OR i64 > 0 AND NOT u8 > 0",
	}
	for _, src := range cases {
		evalAll(t, mem, rec, mustParse(t, src))
	}
}

// TestEvalExact pins results on a tiny record, so the reference itself is
// checked against hand-computed answers.
func TestEvalExact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "", "a", "abc"}, []bool{true, true, false, true, true})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{10, 20, 30, 5, math.NaN()}, nil)
	b.Field(2).(*array.Int8Builder).AppendValues([]int8{1, 2, 3, -128, 127}, []bool{true, false, true, true, true})
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(day), arrow.Timestamp(day + 1), 0, arrow.Timestamp(day - 1), 0},
		[]bool{true, true, true, true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()
	cases := []struct {
		src  string
		want string // one char per row: 1 selected, 0 not
	}{
		{"category = 'a' AND price >= 10", "10000"},
		{"category = 'a' OR price >= 10", "11110"},
		{"NOT category = 'a'", "01001"},
		{"category IS NULL", "00100"},
		{"n < 300", "10111"},
		{"NOT n < 300", "00000"},
		{"n > 2.5", "00101"},
		{"n IN (1, 3, 300)", "10100"},
		{"n IN (1, NULL)", "10000"},
		{"n NOT IN (1, NULL)", "00000"},
		{"n NOT IN (1)", "00111"},
		{"n BETWEEN -128 AND 1", "10010"},
		{"n NOT BETWEEN -128 AND 1", "00101"},
		{"price != 30", "11011"},
		{"price < 30 OR price >= 30", "11110"},
		{"category LIKE 'a%'", "10011"},
		{"category NOT LIKE '_'", "00001"},
		{"at = '2024-05-01'", "10000"},
		{"at >= '2024-05-01T00:00:00Z'", "11000"},
		{"at < '2024-05-01 00:00:00.001'", "10110"},
		{"at > '2024-05-01T02:00:00+02:00'", "01000"},
		{"n = price", "00000"},
		{"n < price", "10110"},
		{"NULL", "00000"},
		{"TRUE", "11111"},
	}
	for _, c := range cases {
		e := mustParse(t, c.src)
		bd, err := Bind(e, schema)
		if err != nil {
			t.Errorf("Bind(%q): %v", c.src, err)
			continue
		}
		m, err := bd.Eval(context.Background(), mem, rec)
		if err != nil {
			t.Errorf("Eval(%q): %v", c.src, err)
			continue
		}
		var got strings.Builder
		for i := 0; i < m.Len(); i++ {
			got.WriteByte("01"[boolOrder(m.Value(i))])
		}
		if got.String() != c.want || m.NullN() != 0 {
			t.Errorf("%s: got %s (%d nulls), want %s", c.src, got.String(), m.NullN(), c.want)
		}
		if !checkMask(t, c.src, rec, m, e) {
			t.Errorf("%s: the reference disagrees with the pinned answer", c.src)
		}
		m.Release()
	}
}

// ---- randomized differential test ----

// gen makes random well-typed filters over the fixture.
type gen struct {
	rng    *rand.Rand
	rec    arrow.RecordBatch
	schema *arrow.Schema
}

func (g *gen) pick(n int) int { return g.rng.IntN(n) }

func (g *gen) column(pred func(arrow.DataType) bool) (*Column, arrow.DataType) {
	for {
		f := g.schema.Field(g.pick(g.schema.NumFields()))
		if pred(f.Type) {
			return &Column{Name: f.Name, Quoted: !isBareIdent(f.Name) || g.pick(10) == 0}, f.Type
		}
	}
}

func anyComparable(t arrow.DataType) bool { return kindOf(t) != rkOther }

func (g *gen) expr(depth int) Expr {
	if depth > 0 && g.pick(3) > 0 {
		switch g.pick(5) {
		case 0, 1:
			return &Logic{Op: OpAnd, L: g.expr(depth - 1), R: g.expr(depth - 1)}
		case 2, 3:
			return &Logic{Op: OpOr, L: g.expr(depth - 1), R: g.expr(depth - 1)}
		default:
			return &Not{X: g.expr(depth - 1)}
		}
	}
	return g.predicate()
}

var likePatterns = []string{"a%", "%b", "%a%", "a_b", "_", "%", "", "h_llo", `%\%%`, `a\_b`, "日%", "%'%", "a%b%c", "__", "%_",
	"%l%o", "_b%", "%\xff", "a%%", `\\%`, "%b_"}

func (g *gen) predicate() Expr {
	switch p := g.pick(100); {
	case p < 45: // column op literal
		c, t := g.column(anyComparable)
		l := g.literal(t)
		op := CmpOp(g.pick(6))
		if g.pick(5) == 0 {
			return &Compare{Op: op, L: l, R: c}
		}
		return &Compare{Op: op, L: c, R: l}
	case p < 60: // column op column
		c, t := g.column(anyComparable)
		d, _ := g.column(func(u arrow.DataType) bool { return compatible(t, u) })
		return &Compare{Op: CmpOp(g.pick(6)), L: c, R: d}
	case p < 70:
		c, t := g.column(anyComparable)
		in := &In{X: c, Not: g.pick(3) == 0}
		for range 1 + g.pick(5) {
			in.List = append(in.List, g.literal(t))
		}
		return in
	case p < 78:
		c, t := g.column(anyComparable)
		bt := &Between{X: c, Lo: g.literal(t), Hi: g.literal(t), Not: g.pick(3) == 0}
		if g.pick(4) == 0 {
			bt.Lo, _ = g.column(func(u arrow.DataType) bool { return compatible(t, u) })
		}
		return bt
	case p < 84:
		c, _ := g.column(func(arrow.DataType) bool { return true })
		return &IsNull{X: c, Not: g.pick(2) == 0}
	case p < 93:
		c, _ := g.column(func(t arrow.DataType) bool { return kindOf(t) == rkBytes })
		return &Like{X: c, Pattern: likePatterns[g.pick(len(likePatterns))], Not: g.pick(3) == 0}
	case p < 97:
		c, _ := g.column(func(t arrow.DataType) bool { return t.ID() == arrow.BOOL })
		return c
	case p < 99:
		n := func() *Literal { return &Literal{Kind: LitNumber, Num: strconv.Itoa(g.pick(5) - 2)} }
		return &Compare{Op: CmpOp(g.pick(6)), L: n(), R: n()}
	}
	return []*Literal{{Kind: LitBool, Bool: true}, {Kind: LitBool}, {Kind: LitNull}}[g.pick(3)]
}

// compatible reports whether columns of types a and b may be compared.
func compatible(a, b arrow.DataType) bool {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == rkOther || kb == rkOther:
		return false
	case ka == rkInt || ka == rkFloat:
		return kb == rkInt || kb == rkFloat
	case ka == rkTemporal && kb == rkTemporal:
		ta, aok := a.(*arrow.TimestampType)
		tb, bok := b.(*arrow.TimestampType)
		return !aok || !bok || (ta.TimeZone == "") == (tb.TimeZone == "")
	}
	return ka == kb
}

var (
	intLits = []string{"0", "-1", "2.5", "-0.5", "1e2", "1.0", "300", "-129", "256", "65536", "1e30", "-1e30",
		"99999999999999999999", "-9223372036854775808", "9223372036854775807", "18446744073709551615",
		"18446744073709551616", "0.0001", "127", "128", "-128", "4294967295", "9007199254740993", ".5", "7."}
	fltLits = []string{"0.1", "-2.5", "1e300", "3", "1e-320", "1e39", "-1e39", "0", "9007199254740993", "1.5", "100",
		"1e-50", "-0", "16777217", "3.4028235e38", "2E3"}
)

// literal makes a literal for a column of type t: often a value of the
// column, sometimes a boundary case, now and then NULL.
func (g *gen) literal(t arrow.DataType) *Literal {
	if g.pick(12) == 0 {
		return &Literal{Kind: LitNull}
	}
	idx := g.schema.FieldIndices(g.columnOfType(t))[0]
	c := readCell(g.rec.Column(idx), g.pick(int(g.rec.NumRows())))
	fromData := !c.null && g.pick(3) > 0
	switch kindOf(t) {
	case rkBool:
		return &Literal{Kind: LitBool, Bool: g.pick(2) == 0}
	case rkInt:
		if fromData {
			return &Literal{Kind: LitNumber, Num: c.i.String()}
		}
		return &Literal{Kind: LitNumber, Num: intLits[g.pick(len(intLits))]}
	case rkFloat:
		if fromData && !math.IsNaN(c.f) && !math.IsInf(c.f, 0) {
			bits := 64
			if t.ID() == arrow.FLOAT32 {
				bits = 32
			}
			return &Literal{Kind: LitNumber, Num: strconv.FormatFloat(c.f, 'g', -1, bits)}
		}
		return &Literal{Kind: LitNumber, Num: fltLits[g.pick(len(fltLits))]}
	case rkBytes:
		if fromData {
			return &Literal{Kind: LitString, Str: c.s}
		}
		return &Literal{Kind: LitString, Str: binPool[g.pick(len(binPool))] + []string{"", "z"}[g.pick(2)]}
	case rkTemporal:
		ns := new(big.Int).SetInt64(instPool[g.pick(len(instPool))])
		if fromData {
			ns = c.i
		}
		if g.pick(8) == 0 {
			ns.Add(ns, big.NewInt(int64(g.pick(3)-1)))
		}
		return &Literal{Kind: LitString, Str: g.formatTime(t, ns)}
	}
	panic("literal for " + t.String())
}

func (g *gen) columnOfType(t arrow.DataType) string {
	for _, f := range g.schema.Fields() {
		if arrow.TypeEqual(f.Type, t) {
			return f.Name
		}
	}
	panic("no column of type " + t.String())
}

// formatTime writes an instant in one of the accepted literal forms.
func (g *gen) formatTime(t arrow.DataType, ns *big.Int) string {
	sec, rem := new(big.Int).DivMod(ns, big.NewInt(1e9), new(big.Int))
	tm := time.Unix(sec.Int64(), rem.Int64()).UTC()
	loc := time.UTC
	if ts, ok := t.(*arrow.TimestampType); ok && ts.TimeZone != "" {
		loc, _ = ts.GetZone()
	}
	switch g.pick(5) {
	case 0:
		return tm.In(loc).Format("2006-01-02")
	case 1:
		return tm.Format(time.RFC3339Nano)
	case 2:
		return tm.In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339Nano)
	case 3:
		return tm.In(loc).Format("2006-01-02 15:04:05.999999999")
	}
	return tm.In(loc).Format("2006-01-02T15:04:05.999999999")
}

// TestEvalRandom compares kernel evaluation with the reference on a few
// thousand random filters, and checks they print and re-parse to the same
// AST.
func TestEvalRandom(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := newFixture(t, mem, 97, 2)
	defer rec.Release()
	g := &gen{rng: rand.New(rand.NewPCG(42, 1)), rec: rec, schema: rec.Schema()}
	n := 3000
	if testing.Short() {
		n = 500
	}
	failures := 0
	for i := 0; i < n && failures < 10; i++ {
		e := g.expr(3)
		src := e.String()
		e2, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q) of a printed filter: %v", src, err)
			failures++
			continue
		}
		if !reflect.DeepEqual(e, e2) {
			t.Errorf("%q does not re-parse to the same AST: %s", src, e2)
			failures++
			continue
		}
		if !evalAll(t, mem, rec, e2) {
			failures++
		}
	}
}

// FuzzEval: any filter that binds to the fixture evaluates without error,
// leaks nothing, and agrees with the reference.
func FuzzEval(f *testing.F) {
	for _, s := range []string{
		"i8 > 2.5 AND s LIKE 'a%'", "u64 >= i64 OR f32 IN (0.1, NULL)", "d < ts_ns AND ts_us > '2022-01-08'",
		"NOT b OR b2 < b", `"Mixed Case" NOT BETWEEN -1 AND 1e3`, "bin LIKE '_\xff%' OR lbin = ls", "vec IS NULL",
		"I8 = 300 OR ts_off <= '2023-11-14 22:13:20.5'",
	} {
		f.Add(s)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec := newFixture(f, mem, 40, 9)
	defer rec.Release()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			return
		}
		b, err := Bind(e, rec.Schema())
		if err != nil {
			if !errors.Is(err, ErrType) && !errors.Is(err, ErrUnknownColumn) && !errors.Is(err, ErrAmbiguousColumn) {
				t.Fatalf("Bind(%q): unclassified error %v", src, err)
			}
			return
		}
		resolved := mustParse(t, b.String()) // columns spelled as in the schema
		before := mem.CurrentAlloc()
		evalAll(t, mem, rec, resolved)
		if after := mem.CurrentAlloc(); after != before {
			t.Fatalf("%q leaked %d bytes", src, after-before)
		}
	})
}
