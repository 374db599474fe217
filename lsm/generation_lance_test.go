package lsm

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lsm/wal"
)

// withTombstoneRows: live rows get _tombstone false, each deleted key a
// row of nulls with true; a 2.0 table whose struct column can't hold that
// null keeps flightwal's layout (ok false, nothing returned or leaked).
func TestWithTombstoneRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	st := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "meta", Type: st},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	sb := b.Field(1).(*array.StructBuilder)
	for i := 0; i < 2; i++ {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int32Builder).Append(int32(i))
	}
	live := b.NewRecordBatch()
	b.Release()
	defer live.Release()
	kb := array.NewInt64Builder(mem)
	kb.AppendValues([]int64{3}, nil)
	keys := kb.NewArray()
	kb.Release()
	tomb := array.NewRecordBatch(arrow.NewSchema(schema.Fields()[:1], nil), []arrow.Array{keys}, 1)
	keys.Release()
	defer tomb.Release()

	if _, out, ok := withTombstoneRows(mem, schema, 0, []arrow.RecordBatch{live}, []arrow.RecordBatch{tomb}, lance.Version20); ok || out != nil {
		t.Fatalf("2.0 with a struct column: ok %v, %d batches; want flightwal's layout", ok, len(out))
	}
	gs, out, ok := withTombstoneRows(mem, schema, 0, []arrow.RecordBatch{live}, []arrow.RecordBatch{tomb}, lance.Version22)
	if !ok || len(out) != 2 {
		t.Fatalf("2.2: ok %v, %d batches", ok, len(out))
	}
	defer func() {
		for _, r := range out {
			r.Release()
		}
	}()
	if gs.NumFields() != 3 || gs.Field(2).Name != wal.TombstoneColumn || !gs.Field(1).Nullable || gs.Field(0).Nullable {
		t.Fatalf("schema %v", gs)
	}
	flags := func(r arrow.RecordBatch) []bool {
		a := r.Column(2).(*array.Boolean)
		out := make([]bool, a.Len())
		for i := range out {
			out[i] = a.Value(i)
		}
		return out
	}
	if f := flags(out[0]); len(f) != 2 || f[0] || f[1] {
		t.Fatalf("live rows' _tombstone %v", f)
	}
	if f := flags(out[1]); len(f) != 1 || !f[0] || out[1].Column(0).(*array.Int64).Value(0) != 3 || !out[1].Column(1).IsNull(0) {
		t.Fatalf("tombstone row: %v", out[1])
	}
}
