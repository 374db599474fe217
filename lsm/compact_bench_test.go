package lsm

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/objstore"
)

// BenchmarkCompactWriteAmplification: a base table of 62,000 rows (1024-dim
// vectors) receives a generation that upserts 1% of its keys; compaction
// must write deletion files and one new fragment, not a copy of the table.
// Reported: bytes compaction wrote, per byte of the generation it merged
// and per byte of the base table.
func BenchmarkCompactWriteAmplification(b *testing.B) {
	const rows, dim, changed = 62_000, 1024, 620
	ctx := context.Background()
	mem := memory.DefaultAllocator
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		local, err := objstore.NewLocal(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		store := objstore.NewFaulty(local, objstore.FaultOptions{}) // counts the bytes written
		db, err := Open(ctx, store, testOptions(Options{Logger: discardLogger(), CompactAfterGenerations: -1}))
		if err != nil {
			b.Fatal(err)
		}
		tbl, err := db.CreateTable(ctx, TableSpec{Name: "c", Schema: datagen.Schema(dim)})
		if err != nil {
			b.Fatal(err)
		}
		write := func(seed uint64, first, n int64) {
			for f := first; f < first+n; f += 1000 {
				rec := datagen.Batch(mem, dim, seed, f, min(1000, first+n-f))
				w, err := tbl.NewWriter(rec.Schema(), OpUpsert)
				if err != nil {
					b.Fatal(err)
				}
				res, err := w.Write(ctx, mem, rec)
				if err == nil {
					err = tbl.WaitDurable(ctx, res)
				}
				rec.Release()
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		write(1, 0, rows)
		if _, err := tbl.Flush(ctx, -1); err != nil {
			b.Fatal(err)
		}
		before := store.TotalStats().Written
		if _, err := tbl.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		baseBytes := store.TotalStats().Written - before

		// 1% of the keys change, spread over the table.
		for k := int64(0); k < changed; k++ {
			write(2, k*(rows/changed), 1)
		}
		before = store.TotalStats().Written
		if _, err := tbl.Flush(ctx, -1); err != nil {
			b.Fatal(err)
		}
		genBytes := store.TotalStats().Written - before
		before = store.TotalStats().Written
		b.StartTimer()
		res, err := tbl.Compact(ctx)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		compactBytes := store.TotalStats().Written - before
		if res.RowsWritten != changed || res.RowsDeleted != changed {
			b.Fatalf("compaction: %+v, want %d rows written and deleted", res, changed)
		}
		b.ReportMetric(float64(compactBytes), "bytes-written")
		b.ReportMetric(float64(compactBytes)/float64(genBytes), "written/merged")
		b.ReportMetric(float64(compactBytes)/float64(baseBytes), "written/base")
		b.Logf("base %d bytes; generation (1%% of keys) %d bytes; compaction wrote %d bytes", baseBytes, genBytes, compactBytes)
		db.Close()
	}
}
