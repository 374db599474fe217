package filter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// viewRecord has a column of each type the filter compares through a view
// (view.go), decimals, and a struct with a nested struct; row i has id i.
func viewRecord(t testing.TB, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	meta := arrow.StructOf(
		arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "Inner", Type: arrow.StructOf(arrow.Field{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true}), Nullable: true},
		arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f16", Type: arrow.FixedWidthTypes.Float16, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 6, Scale: 2}, Nullable: true},
		{Name: "dec2", Type: &arrow.Decimal256Type{Precision: 40, Scale: 0}, Nullable: true},
		{Name: "d64", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
		{Name: "t32", Type: arrow.FixedWidthTypes.Time32s, Nullable: true},
		{Name: "dur", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true},
		{Name: "dict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "meta", Type: meta, Nullable: true},
	}, nil)
	// Row 3 is null everywhere; meta of row 4 is null but its children
	// hold values (they must read as null).
	const rows = `[
	{"id":0,"f16":-1.5,"dec":"-0.01","dec2":"12345678901234567890123","d64":946684800000,"t32":3600,"dur":-5,"dict":"red","meta":{"a":-1,"Inner":{"f":0.5},"s":"x"}},
	{"id":1,"f16":0,"dec":"0.00","dec2":"-1","d64":0,"t32":0,"dur":0,"dict":"green","meta":{"a":0,"Inner":null,"s":"y"}},
	{"id":2,"f16":2.5,"dec":"1.25","dec2":"7","d64":1700000000000,"t32":86399,"dur":1500,"dict":"red","meta":{"a":7,"Inner":{"f":-2},"s":null}},
	{"id":3,"f16":null,"dec":null,"dec2":null,"d64":null,"t32":null,"dur":null,"dict":null,"meta":null},
	{"id":4,"f16":65504,"dec":"9999.99","dec2":"0","d64":-86400000,"t32":1,"dur":99,"dict":"blue","meta":{"a":100,"Inner":{"f":9},"s":"z"}},
	{"id":5,"f16":0.099975586,"dec":"-9999.99","dec2":"5","d64":86400000,"t32":60,"dur":1,"dict":"green","meta":{"a":3,"Inner":{"f":null},"s":"w"}}
	]`
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(rows))
	if err != nil {
		t.Fatal(err)
	}
	// Null meta of row 4 over non-null children.
	m := rec.Column(8).(*array.Struct)
	valid := []bool{true, true, true, false, false, true}
	children := make([]arrow.ArrayData, meta.NumFields())
	for i := range children {
		children[i] = m.Field(i).Data()
	}
	bits := memory.NewResizableBuffer(mem)
	bits.Resize(1)
	for i, v := range valid {
		if v {
			bits.Bytes()[0] |= 1 << i
		}
	}
	nd := array.NewData(meta, 6, []*memory.Buffer{bits}, children, 2, 0)
	bits.Release()
	nm := array.MakeFromData(nd)
	nd.Release()
	cols := append([]arrow.Array{}, rec.Columns()...)
	cols[8] = nm
	out := array.NewRecordBatch(schema, cols, 6)
	nm.Release()
	rec.Release()
	return out
}

func TestViewsAndStructFields(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := viewRecord(t, mem)
	defer rec.Release()
	for _, tc := range []struct{ filter, want string }{
		{"f16 > 0", "[2 4 5]"},
		{"f16 <= -1.5 OR f16 = 65504", "[0 4]"},
		{"f16 IN (0, 2.5)", "[1 2]"},
		{"dec > 0", "[2 4]"},
		{"dec = -0.01", "[0]"},
		{"dec = 1.251", "[]"},        // more digits than the scale: never equal
		{"dec < 1.251", "[0 1 2 5]"}, // ... but ordered exactly
		{"dec > 100000", "[]"},       // out of the precision's range
		{"dec BETWEEN -1 AND 9999.99", "[0 1 2 4]"},
		{"dec IN (1.25, 9999.99, 3)", "[2 4]"},
		{"dec2 > 6", "[0 2]"},
		{"dec2 = 12345678901234567890123", "[0]"},
		{"d64 >= '2000-01-01'", "[0 2]"},
		{"d64 < '1970-01-01T00:00:00Z'", "[4]"},
		{"t32 > 60", "[0 2]"},
		{"dur < 0 OR dur = 1500", "[0 2]"},
		{"dict = 'red'", "[0 2]"},
		{"dict IN ('green', 'blue')", "[1 4 5]"},
		{"dict LIKE 'gr%'", "[1 5]"},
		{"dict IS NULL", "[3]"},
		{"meta.a > 0", "[2 5]"}, // row 4's a is 100 under a null struct
		{"meta.a IS NULL", "[3 4]"},
		{"meta.inner.f > 0", "[0]"}, // bare field names fold case
		{`meta."Inner".f IS NULL`, "[1 3 4 5]"},
		{"meta.s = 'y' OR meta.s = 'z'", "[1]"},
		{"meta IS NULL", "[3 4]"},
		{"meta.a = id", "[]"},
		{"meta.a > 0 AND dec > 0", "[2]"},
	} {
		e, err := Parse(tc.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.filter, err)
		}
		b, err := Bind(e, rec.Schema())
		if err != nil {
			t.Fatalf("Bind(%q): %v", tc.filter, err)
		}
		for _, off := range []int64{0, 2} { // the whole record, and a slice at an offset
			r := rec.NewSlice(off, 6)
			m, err := b.Eval(context.Background(), mem, r)
			r.Release()
			if err != nil {
				t.Fatalf("Eval(%q): %v", tc.filter, err)
			}
			got, want := []int{}, []int{}
			for i := 0; i < m.Len(); i++ {
				if m.Value(i) {
					got = append(got, i+int(off))
				}
			}
			m.Release()
			for _, f := range strings.Fields(strings.Trim(tc.want, "[]")) {
				if n, _ := strconv.Atoi(f); n >= int(off) {
					want = append(want, n)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s (offset %d): rows %v, want %v", tc.filter, off, got, want)
			}
		}
		// The scan reads the top-level columns.
		if tc.filter == "meta.a > 0 AND dec > 0" && fmt.Sprint(b.Columns()) != "[meta dec]" {
			t.Errorf("Columns() = %v, want [meta dec]", b.Columns())
		}
		if s := b.String(); s == "" {
			t.Errorf("String() of %q is empty", tc.filter)
		}
	}
	for _, bad := range []struct{ filter, want string }{
		{"meta.b > 0", "no such struct field"},
		{"id.a > 0", "no such struct field"},
		{"meta > 0", "cannot be compared"},
		{"dec > 'x'", "cannot compare"},
		{"dec = dec2", "same precision and scale"},
		{"meta. > 1", "a field name after '.'"},
	} {
		e, err := Parse(bad.filter)
		if err == nil {
			_, err = Bind(e, rec.Schema())
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err %v, want %q", bad.filter, err, bad.want)
		}
	}
}

// FuzzEvalViews: any filter over the view and struct columns binds with a
// classified error or evaluates without panicking or leaking.
func FuzzEvalViews(f *testing.F) {
	for _, s := range []string{"meta.a > 0", "meta.inner.f > 0 AND dec < 1.251", "dict LIKE 'gr%'", "d64 >= '2000-01-01'", "f16 IN (0, 2.5)", "dec2 = 12345678901234567890123"} {
		f.Add(s)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec := viewRecord(f, mem)
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
		before := mem.CurrentAlloc()
		m, err := b.Eval(context.Background(), mem, rec)
		if err != nil {
			t.Fatalf("Eval(%q): %v", src, err)
		}
		m.Release()
		if after := mem.CurrentAlloc(); after != before {
			t.Fatalf("%q leaked %d bytes", src, after-before)
		}
	})
}
