package lance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// allTypesSchema has every column type of API.md, nullable and not.
func allTypesSchema() *arrow.Schema {
	types := []arrow.DataType{
		arrow.FixedWidthTypes.Boolean,
		arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Uint8, arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Uint64,
		arrow.FixedWidthTypes.Float16, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		arrow.BinaryTypes.String, arrow.BinaryTypes.LargeString, arrow.BinaryTypes.Binary, arrow.BinaryTypes.LargeBinary,
		arrow.FixedWidthTypes.Date32,
		&arrow.TimestampType{Unit: arrow.Second}, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"},
		&arrow.TimestampType{Unit: arrow.Microsecond}, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "America/New_York"},
		arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32),
		arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float64),
	}
	var fields []arrow.Field
	for _, nullable := range []bool{false, true} {
		for i, dt := range types {
			fields = append(fields, arrow.Field{Name: fmt.Sprintf("c%d_%v", i, nullable), Type: dt, Nullable: nullable})
		}
	}
	return arrow.NewSchema(fields, nil)
}

// randomRecord builds n rows of schema; nullable columns get nulls with
// probability nullP (1 = all null).
func randomRecord(mem memory.Allocator, schema *arrow.Schema, n int, nullP float64, rng *rand.Rand) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for ci, f := range schema.Fields() {
		fb := b.Field(ci)
		for i := 0; i < n; i++ {
			if f.Nullable && rng.Float64() < nullP {
				fb.AppendNull()
				continue
			}
			appendRandom(fb, rng)
		}
	}
	return b.NewRecordBatch()
}

func randString(rng *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyzäö€"
	var sb strings.Builder
	for range rng.IntN(12) {
		sb.WriteString(string([]rune(letters)[rng.IntN(29)]))
	}
	return sb.String()
}

func appendRandom(b array.Builder, rng *rand.Rand) {
	switch x := b.(type) {
	case *array.BooleanBuilder:
		x.Append(rng.IntN(2) == 1)
	case *array.Int8Builder:
		x.Append(int8(rng.Int()))
	case *array.Int16Builder:
		x.Append(int16(rng.Int()))
	case *array.Int32Builder:
		x.Append(int32(rng.Int()))
	case *array.Int64Builder:
		x.Append(int64(rng.Uint64()))
	case *array.Uint8Builder:
		x.Append(uint8(rng.Int()))
	case *array.Uint16Builder:
		x.Append(uint16(rng.Int()))
	case *array.Uint32Builder:
		x.Append(rng.Uint32())
	case *array.Uint64Builder:
		x.Append(rng.Uint64())
	case *array.Float16Builder:
		x.Append(float16.New(rng.Float32()))
	case *array.Float32Builder:
		x.Append(rng.Float32())
	case *array.Float64Builder:
		x.Append(rng.NormFloat64())
	case *array.StringBuilder:
		x.Append(randString(rng))
	case *array.LargeStringBuilder:
		x.Append(randString(rng))
	case *array.BinaryBuilder:
		x.Append([]byte(randString(rng)))
	case *array.Date32Builder:
		x.Append(arrow.Date32(rng.IntN(40000)))
	case *array.TimestampBuilder:
		x.Append(arrow.Timestamp(rng.Int64N(1 << 50)))
	case *array.FixedSizeListBuilder:
		x.Append(true)
		vb := x.ValueBuilder()
		for range x.Type().(*arrow.FixedSizeListType).Len() {
			appendRandom(vb, rng)
		}
	default:
		panic(fmt.Sprintf("no random values for %T", b))
	}
}

// concatRecords concatenates recs into one record.
func concatRecords(t *testing.T, mem memory.Allocator, schema *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, schema.NumFields())
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	for ci := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(ci)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			t.Fatal(err)
		}
		cols[ci] = c
	}
	rec := array.NewRecordBatch(schema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// scanAll reads the whole dataset into one record.
func scanAll(t *testing.T, mem memory.Allocator, d *Dataset, columns []string, batch int) arrow.RecordBatch {
	t.Helper()
	var recs []arrow.RecordBatch
	next := map[uint64]uint64{}
	err := d.Scan(context.Background(), mem, columns, batch, func(f Fragment, first uint64, rec arrow.RecordBatch) error {
		if first != next[f.ID] {
			return fmt.Errorf("fragment %d: batch at %d, want %d", f.ID, first, next[f.ID])
		}
		if batch > 0 && rec.NumRows() > int64(batch) {
			return fmt.Errorf("batch of %d rows", rec.NumRows())
		}
		next[f.ID] += uint64(rec.NumRows())
		rec.Retain()
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	_, schema, err := d.projection(columns)
	if err != nil {
		t.Fatal(err)
	}
	return concatRecords(t, mem, schema, recs)
}

func assertRecordsEqual(t *testing.T, got, want arrow.RecordBatch) {
	t.Helper()
	if got.NumRows() != want.NumRows() || got.NumCols() != want.NumCols() {
		t.Fatalf("got %dx%d, want %dx%d", got.NumRows(), got.NumCols(), want.NumRows(), want.NumCols())
	}
	for i := range int(want.NumCols()) {
		g, w := got.Column(i), want.Column(i)
		if !array.Equal(g, w) {
			// FixedSizeList item fields may differ only by name/nullability.
			if sameLogical(g.DataType(), w.DataType()) && array.ApproxEqual(g, w, array.WithNaNsEqual(true)) {
				continue
			}
			t.Fatalf("column %s differs:\ngot  %v\nwant %v", want.ColumnName(i), g, w)
		}
	}
}

func TestRoundTripAllTypes(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	schema := allTypesSchema()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		nullP float64
		sizes []int
	}{
		{"no-nulls", 0, []int{100}},
		{"some-nulls", 0.3, []int{37, 0, 200, 1}},
		{"all-nulls", 1, []int{50}},
		{"one-row", 0.5, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newTestStore()
			var recs []arrow.RecordBatch
			for _, n := range tc.sizes {
				recs = append(recs, randomRecord(mem, schema, n, tc.nullP, rng))
			}
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			if _, err := WriteDataset(ctx, st, "rt.lance", schema, recs, nil); err != nil {
				t.Fatal(err)
			}
			want := concatRecords(t, mem, schema, recs)
			defer want.Release()
			d, err := OpenDataset(ctx, st, "rt.lance")
			if err != nil {
				t.Fatal(err)
			}
			if d.CountRows() != want.NumRows() {
				t.Fatalf("count %d want %d", d.CountRows(), want.NumRows())
			}
			for _, batch := range []int{0, 7} {
				got := scanAll(t, mem, d, nil, batch)
				assertRecordsEqual(t, got, want)
				got.Release()
			}
			// Projection in a different order.
			cols := []string{schema.Field(20).Name, schema.Field(3).Name, schema.Field(12).Name}
			got := scanAll(t, mem, d, cols, 16)
			wantP := projectRecord(want, []int{20, 3, 12})
			assertRecordsEqual(t, got, wantP)
			got.Release()
			wantP.Release()
			// Take: first, a run, a gap, the last row.
			n := uint64(want.NumRows())
			rows := []uint64{0}
			for _, r := range []uint64{2, 3, 4, n / 2, n - 1} {
				if r < n && r > rows[len(rows)-1] {
					rows = append(rows, r)
				}
			}
			tk, err := d.Take(ctx, mem, d.Fragments()[0].ID, rows, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantT := takeRecord(t, mem, want, rows)
			assertRecordsEqual(t, tk, wantT)
			tk.Release()
			wantT.Release()
		})
	}
}

func projectRecord(r arrow.RecordBatch, idx []int) arrow.RecordBatch {
	fields := make([]arrow.Field, len(idx))
	cols := make([]arrow.Array, len(idx))
	for i, j := range idx {
		fields[i] = r.Schema().Field(j)
		cols[i] = r.Column(j)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, r.NumRows())
}

func takeRecord(t *testing.T, mem memory.Allocator, r arrow.RecordBatch, rows []uint64) arrow.RecordBatch {
	var parts []arrow.RecordBatch
	for _, i := range rows {
		parts = append(parts, r.NewSlice(int64(i), int64(i)+1))
	}
	out := concatRecords(t, mem, r.Schema(), parts)
	for _, p := range parts {
		p.Release()
	}
	return out
}

func TestMultiPage(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	oldBytes, oldRows := pageMaxBytes, pageMaxRows
	pageMaxBytes, pageMaxRows = 1000, 50
	defer func() { pageMaxBytes, pageMaxRows = oldBytes, oldRows }()
	schema := allTypesSchema()
	rng := rand.New(rand.NewPCG(3, 4))
	var recs []arrow.RecordBatch
	for _, n := range []int{123, 7, 301} {
		recs = append(recs, randomRecord(mem, schema, n, 0.2, rng))
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	st := newTestStore()
	d, err := WriteDataset(ctx, st, "mp.lance", schema, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := concatRecords(t, mem, schema, recs)
	defer want.Release()
	r, err := d.openFile(ctx, d.Fragments()[0].pb.GetFiles()[0])
	if err != nil {
		t.Fatal(err)
	}
	for ci, c := range r.columns {
		if len(c.pages) < 2 {
			t.Fatalf("column %d has %d pages", ci, len(c.pages))
		}
	}
	for _, batch := range []int{1, 33, 1000} {
		got := scanAll(t, mem, d, nil, batch)
		assertRecordsEqual(t, got, want)
		got.Release()
	}
	rows := []uint64{0, 1, 49, 50, 51, 52, 200, 201, 430}
	tk, err := d.Take(ctx, mem, 0, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantT := takeRecord(t, mem, want, rows)
	assertRecordsEqual(t, tk, wantT)
	tk.Release()
	wantT.Release()
}
