package wal

import (
	"bytes"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// lanceSchema is the table LanceDB 0.39 wrote testdata/lance039 for: id
// int64 (the primary key), name utf8.
var lanceSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func lanceCodec(mem memory.Allocator) codec { return codec{mem: mem, schema: lanceSchema, pkCol: 0} }

// Entries LanceDB 0.39's MemWAL shard writer put (mergeInsert of id 5 as
// epoch 2 at position 3, and the fence sentinel its claim put at position
// 2) decode as foreign entries.
func TestDecodeLanceEntries(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := lanceCodec(mem)
	data, err := os.ReadFile("testdata/lance039/entry_pos3.arrow")
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.decode(data, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release()
	if !e.Foreign || e.Epoch != 2 || e.Pos != 3 || e.LastSeq != 0 || len(e.Batches) != 1 || e.IsFence() {
		t.Fatalf("decoded %+v", e)
	}
	b := e.Batches[0]
	if b.Op != OpUpsert || b.Seq != 0 || b.Rec.NumRows() != 1 || b.Rec.NumCols() != 2 {
		t.Fatalf("batch %+v", b)
	}
	if id := b.Rec.Column(0).(*array.Int64).Value(0); id != 5 {
		t.Fatalf("id %d, want 5", id)
	}
	if name := b.Rec.Column(1).(*array.String).Value(0); name != "a5" {
		t.Fatalf("name %q, want a5", name)
	}

	fence, err := os.ReadFile("testdata/lance039/fence_pos2.arrow")
	if err != nil {
		t.Fatal(err)
	}
	fe, err := c.decode(fence, 2)
	if err != nil || !fe.IsFence() || fe.Epoch != 2 || fe.Pos != 2 {
		t.Fatalf("fence: %+v %v", fe, err)
	}
	if f, err := c.isFence(fence); err != nil || !f {
		t.Fatalf("isFence %v %v", f, err)
	}
}

// A foreign entry's tombstone rows are deletes: runs of upserts and
// deletes keep their order.
func TestDecodeForeignTombstones(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	md := arrow.NewMetadata([]string{"writer_epoch"}, []string{"7"})
	s := arrow.NewSchema(append(lanceSchema.Fields(), arrow.Field{Name: TombstoneColumn, Type: arrow.FixedWidthTypes.Boolean}), &md)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3, 4}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "", "", "d"}, []bool{true, false, false, true})
	b.Field(2).(*array.BooleanBuilder).AppendValues([]bool{false, true, true, false}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	e, err := lanceCodec(mem).decode(buf.Bytes(), 9)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release()
	var ops []Op
	var rows []int64
	for _, b := range e.Batches {
		ops, rows = append(ops, b.Op), append(rows, b.Rec.NumRows())
	}
	if len(ops) != 3 || ops[0] != OpUpsert || ops[1] != OpDelete || ops[2] != OpUpsert || rows[0] != 1 || rows[1] != 2 || rows[2] != 1 {
		t.Fatalf("ops %v rows %v", ops, rows)
	}
	if e.Batches[1].Rec.NumCols() != 1 || e.Batches[1].Rec.Column(0).(*array.Int64).Value(1) != 3 {
		t.Fatalf("delete batch %v", e.Batches[1].Rec)
	}
}

// flightwal's entries carry Lance's tombstone column and its fences are
// Lance's fence sentinels, so LanceDB replays them.
func TestEntryIsLanceShaped(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := testCodec(mem)
	del := keys(mem, 2)
	defer del.Release()
	data, err := c.encode(nil, 3, 42, 11, []Item{{Rec: del, Seq: 11, Op: OpDelete}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(bytes.NewReader(data[:len(data)-8]))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	s := r.Schema()
	if last := s.Field(s.NumFields() - 1); last.Name != TombstoneColumn || last.Type.ID() != arrow.BOOL {
		t.Fatalf("last column %v", last)
	}
	if v, _ := s.Metadata().GetValue("writer_epoch"); v != "3" {
		t.Fatalf("writer_epoch %q", v)
	}
	if !r.Next() || !r.RecordBatch().Column(s.NumFields()-1).(*array.Boolean).Value(0) {
		t.Fatal("delete row is not a tombstone")
	}
	fence, err := c.encode(nil, 4, 43, 11, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := ipc.NewReader(bytes.NewReader(fence[:len(fence)-8]))
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Release()
	if v, _ := fr.Schema().Metadata().GetValue("fence_sentinel"); v != "true" || fr.Schema().NumFields() != 0 {
		t.Fatalf("fence schema %v", fr.Schema())
	}
}
