package filter

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestBindErrors(t *testing.T) {
	schema := fixtureSchema()
	cases := []struct {
		src  string
		err  error
		msgs []string
	}{
		{"pricee > 1", ErrUnknownColumn, []string{`unknown column: "pricee"`}},
		{"i8 > 1 AND nope IS NULL", ErrUnknownColumn, []string{`"nope"`}},
		{`"I8" = 1`, ErrUnknownColumn, []string{`"I8"`, `did you mean "i8"`}},
		{"s = 10", ErrType, []string{`cannot compare column "s" (utf8) with 10`}},
		{"10 < ls", ErrType, []string{`column "ls" (large_utf8)`, "10"}},
		{"i8 = 'a'", ErrType, []string{`cannot compare column "i8" (int8) with 'a'`}},
		{"f64 = TRUE", ErrType, []string{`column "f64" (float64)`}},
		{"b = 1", ErrType, []string{`column "b" (bool)`}},
		{"bin > 1", ErrType, []string{`column "bin" (binary)`}},
		{"d = 19000", ErrType, []string{"write dates and times as strings"}},
		{"d = '2022-13-01'", ErrType, []string{`cannot read '2022-13-01' as a date`, `column "d" (date32)`}},
		{"ts_ns < 'yesterday'", ErrType, []string{`cannot read 'yesterday' as a timestamp`}},
		{"vec = 1", ErrType, []string{`column "vec" (fixed_size_list<item: float32, nullable>[2]) cannot be compared`}},
		{"vec IN (1)", ErrType, []string{"cannot be compared"}},
		{"vec BETWEEN 1 AND 2", ErrType, []string{"cannot be compared"}},
		{"vec = vec", ErrType, []string{"cannot be compared"}},
		{"vec LIKE 'a'", ErrType, []string{"LIKE needs a string or binary column"}},
		{"i8 LIKE 'a'", ErrType, []string{"LIKE needs a string or binary column"}},
		{"1 LIKE 'a'", ErrType, []string{"LIKE needs a string"}},
		{"s = i8", ErrType, []string{`cannot compare column "s" (utf8) with column "i8" (int8)`}},
		{"b < i8", ErrType, []string{"cannot compare"}},
		{"d = s", ErrType, []string{"cannot compare"}},
		{"ts_s = ts_ms", ErrType, []string{"one has a time zone and the other not"}},
		{"i8", ErrType, []string{`column "i8" (int8) is not boolean`}},
		{"i8 AND b", ErrType, []string{"is not boolean"}},
		{"1", ErrType, []string{"1 is not a condition"}},
		{"'a' OR b", ErrType, []string{"'a' is not a condition"}},
		{"1 = 'a'", ErrType, []string{"cannot compare 1 with 'a'"}},
		{"i8 IN (1, 'a')", ErrType, []string{"cannot compare"}},
		{"s IN ('a', 1)", ErrType, []string{"cannot compare"}},
		{"b IN (TRUE, 1)", ErrType, []string{"cannot compare"}},
		{"i8 BETWEEN 1 AND 'z'", ErrType, []string{"cannot compare"}},
	}
	for _, c := range cases {
		_, err := Bind(mustParse(t, c.src), schema)
		if err == nil {
			t.Errorf("Bind(%q): no error", c.src)
			continue
		}
		if !errors.Is(err, c.err) {
			t.Errorf("Bind(%q) = %v, want it to wrap %v", c.src, err, c.err)
		}
		for _, m := range c.msgs {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("Bind(%q) = %q, want it to mention %q", c.src, err, m)
			}
		}
	}
}

func TestBindColumns(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "Price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "category", Type: arrow.BinaryTypes.String},
		{Name: "Dup", Type: arrow.PrimitiveTypes.Int32},
		{Name: "dup", Type: arrow.PrimitiveTypes.Int32},
		{Name: "Mixed Case", Type: arrow.PrimitiveTypes.Int32},
		{Name: "AND", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	cases := []struct {
		src, str string
		cols     []string
		err      error
	}{
		{src: "price > 1 AND CATEGORY = 'a' AND Price < 5", str: `Price > 1 AND category = 'a' AND Price < 5`, cols: []string{"Price", "category"}},
		{src: "dup = 1 OR Dup = 2", str: "dup = 1 OR Dup = 2", cols: []string{"dup", "Dup"}},
		{src: "DUP = 1", err: ErrAmbiguousColumn},
		{src: `"mixed case" = 1`, err: ErrUnknownColumn},
		{src: `"Mixed Case" BETWEEN Price AND 3`, str: `"Mixed Case" BETWEEN Price AND 3`, cols: []string{"Mixed Case", "Price"}},
		{src: `"AND"`, str: `"AND"`, cols: []string{"AND"}},
		{src: "TRUE OR 1 = 2", str: "TRUE OR 1 = 2", cols: []string{}},
	}
	for _, c := range cases {
		b, err := Bind(mustParse(t, c.src), schema)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Bind(%q) = %v, want %v", c.src, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Bind(%q): %v", c.src, err)
			continue
		}
		if b.String() != c.str {
			t.Errorf("Bind(%q).String() = %q, want %q", c.src, b.String(), c.str)
		}
		if !reflect.DeepEqual(b.Columns(), c.cols) {
			t.Errorf("Bind(%q).Columns() = %q, want %q", c.src, b.Columns(), c.cols)
		}
		// The bound text binds to the same thing again.
		b2, err := Bind(mustParse(t, b.String()), schema)
		if err != nil || b2.String() != b.String() {
			t.Errorf("re-binding %q: %v %v", b.String(), b2, err)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b, err := Bind(mustParse(t, "x > 1"), schema)
	if err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "y", Type: arrow.PrimitiveTypes.Int64}, {Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil)
	rb := array.NewRecordBuilder(mem, other)
	defer rb.Release()
	rb.Field(0).(*array.Int64Builder).Append(1)
	rb.Field(1).(*array.Int32Builder).Append(1)
	rec := rb.NewRecordBatch()
	defer rec.Release()
	if _, err := b.Eval(context.Background(), mem, rec); err == nil || !strings.Contains(err.Error(), `column "x" is int32 in the record but was bound as int64`) {
		t.Errorf("type mismatch: %v", err)
	}
	missing := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "y", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{rec.Column(0)}, 1)
	defer missing.Release()
	if _, err := b.Eval(context.Background(), mem, missing); err == nil || !strings.Contains(err.Error(), `no column "x"`) {
		t.Errorf("missing column: %v", err)
	}
}

// TestEvalEmpty: zero rows give an empty mask.
func TestEvalEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := newFixture(t, mem, 0, 3)
	defer rec.Release()
	for _, src := range []string{"i8 > 1 AND s LIKE 'a%'", "TRUE", "NULL", "i8 IN (1, NULL)", "ts_s < ts_ns", "i64 = u64", "NOT b", "vec IS NULL", "i8 < 300"} {
		b, err := Bind(mustParse(t, src), rec.Schema())
		if err != nil {
			t.Fatal(err)
		}
		m, err := b.Eval(context.Background(), mem, rec)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if m.Len() != 0 {
			t.Errorf("%s: %d rows", src, m.Len())
		}
		m.Release()
	}
}

// TestConcurrentEval: a Bound is shared by concurrent scans.
func TestConcurrentEval(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := newFixture(t, mem, 300, 4)
	defer rec.Release()
	e := mustParse(t, "i8 IN (1, 2, 3) OR s LIKE '%b%' AND ts_ms > '2022-01-08' OR f64 NOT IN (0, NULL)")
	b, err := Bind(e, rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	want := refMask(rec, e)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				m, err := b.Eval(context.Background(), mem, rec)
				if err != nil {
					errs <- err
					return
				}
				for i, w := range want {
					if m.Value(i) != w {
						m.Release()
						errs <- errors.New("mismatch")
						return
					}
				}
				m.Release()
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
