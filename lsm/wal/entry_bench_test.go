package wal

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"

	"github.com/flightwal/flightwal/internal/datagen"
)

// BenchmarkEncodeEntry encodes one 10 MiB-class entry (ten batches of
// 1,000 rows with 1024-dim vectors, the ingest benchmark's rows) into a
// reused buffer, as the pipeline does; MB/s is Arrow buffer bytes.
func BenchmarkEncodeEntry(b *testing.B) {
	mem := memory.NewGoAllocator()
	c := codec{mem: mem, schema: datagen.Schema(1024), pkCol: 0}
	var items []Item
	var bytes int64
	for i := range 10 {
		rec := datagen.Batch(mem, 1024, 1, int64(i)*1000, 1000)
		defer rec.Release()
		n := int64(util.TotalRecordSize(rec))
		items = append(items, Item{Rec: rec, Seq: uint64(i + 1), Op: OpUpsert, Bytes: n})
		bytes += n
	}
	b.SetBytes(bytes)
	var buf []byte
	for b.Loop() {
		data, err := c.encode(buf, 1, 1, 10, items)
		if err != nil {
			b.Fatal(err)
		}
		buf = data[:0]
	}
}
