package lsm

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/flightwal/flightwal/lsm/wal"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{PrimaryKeyMetadataKey}, []string{"true"})},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func kvBatch(mem memory.Allocator, ids []int64, v int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.Int64Builder).Append(v)
	}
	return b.NewRecordBatch()
}

func delBatch(mem memory.Allocator, ids []int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(ids, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(wal.KeySchema(testSchema, 0), []arrow.Array{a}, int64(len(ids)))
}

// valueAt returns the value a reader at watermark w sees for id, or -1 if
// none (absent or deleted).
func valueAt(m *MemTable, id int64, w uint64) int64 {
	b, row, ok := m.lookup(signedKey(id), w)
	if !ok || b.op == OpDelete {
		return -1
	}
	return b.rec.Column(1).(*array.Int64).Value(row)
}

func TestMemTableVersions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemTable(1, testSchema, 0)
	for i, rec := range []arrow.RecordBatch{
		kvBatch(mem, []int64{1, 2, 3}, 10), // seq 1
		kvBatch(mem, []int64{2, 4}, 20),    // seq 2
		delBatch(mem, []int64{1, 4}),       // seq 3
		kvBatch(mem, []int64{1}, 40),       // seq 4
	} {
		op := OpUpsert
		if rec.NumCols() == 1 {
			op = OpDelete
		}
		m.append(rec, uint64(i+1), op)
		rec.Release()
	}
	for _, c := range []struct {
		id   int64
		w    uint64
		want int64
	}{
		{1, 0, -1}, {1, 1, 10}, {1, 2, 10}, {1, 3, -1}, {1, 4, 40},
		{2, 1, 10}, {2, 2, 20}, {2, 4, 20},
		{3, 4, 10},
		{4, 1, -1}, {4, 2, 20}, {4, 3, -1},
		{5, 4, -1},
	} {
		if got := valueAt(m, c.id, c.w); got != c.want {
			t.Errorf("id %d at watermark %d: got %d, want %d", c.id, c.w, got, c.want)
		}
	}
	// Liveness as scans see it: at w=4, batch 1 keeps only id 3.
	b1 := m.published()[0]
	var live []int64
	for i := 0; i < b1.rows(); i++ {
		if b1.live(i, 4) {
			live = append(live, b1.rec.Column(0).(*array.Int64).Value(i))
		}
	}
	if len(live) != 1 || live[0] != 3 {
		t.Fatalf("live rows of batch 1 at w=4: %v, want [3]", live)
	}
	// At w=1 every row of batch 1 is live.
	for i := 0; i < b1.rows(); i++ {
		if !b1.live(i, 1) {
			t.Fatalf("row %d of batch 1 not live at w=1", i)
		}
	}
	m.unref()
}

// TestMemTableConcurrentReaders: one writer appends while readers look keys
// up at the watermark they loaded; each reader must see exactly the value of
// the newest batch at or below its watermark (run with -race).
func TestMemTableConcurrentReaders(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	m := newMemTable(1, testSchema, 0)
	var w sync.WaitGroup
	var watermark atomic.Uint64
	const batches = 2000
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		w.Add(1)
		go func() {
			defer w.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				wm := watermark.Load()
				if wm == 0 {
					continue
				}
				// Batch s writes ids {s%10, 100+s%7} with value s.
				for id := int64(0); id < 10; id++ {
					got := valueAt(m, id, wm)
					want := int64(-1)
					for s := int64(wm); s >= 1; s-- {
						if s%10 == id {
							want = s
							break
						}
					}
					if got != want {
						t.Errorf("id %d at watermark %d: got %d, want %d", id, wm, got, want)
						return
					}
				}
			}
		}()
	}
	for s := int64(1); s <= batches; s++ {
		rec := kvBatch(mem, []int64{s % 10, 100 + s%7}, s)
		m.append(rec, uint64(s), OpUpsert)
		rec.Release()
		watermark.Store(uint64(s))
	}
	close(stop)
	w.Wait()
	m.unref()
}
