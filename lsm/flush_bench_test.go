package lsm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/internal/benchutil"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// BenchmarkFlush: flush throughput of an active memtable of 62,000 rows of
// 1024-dim vectors (about 260 MB of Arrow buffers) to the local disk store
// (objstore.Local: write, fsync, rename), through Table.Flush, the flush
// action's path: freeze, write the flushed generation as a Lance dataset,
// commit the region manifest, delete the flushed WAL entries. Each
// iteration flushes a fresh table; filling it (and the WAL) is untimed.
//
// It reports flush MB/s of Arrow data (target >= 200 MB/s), and, measured
// in the same iterations for comparison, lance.WriteDataset of the same
// batches (the Lance encoding and writes alone) and a single store Put of
// as many bytes (the disk's own write + fsync rate).
func BenchmarkFlush(b *testing.B) {
	const rows, batchRows, dim = 62_000, 1_000, 1024
	ctx := context.Background()
	db, store, mem := openBenchDB(b, benchLimits())
	var recs []arrow.RecordBatch
	for first := 0; first < rows; first += batchRows {
		recs = append(recs, benchVectorBatch(b, first, batchRows))
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	schema := datagen.Schema(dim)
	arrowBytes := benchutil.Bytes(recs)
	blob := make([]byte, arrowBytes)
	for i := range blob {
		blob[i] = byte(i * 131)
	}
	var tFlush, tLance, tPut time.Duration
	var flushed int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("flush_%d", i)
		tbl, err := db.CreateTable(ctx, TableSpec{Name: name, Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		w, err := tbl.NewWriter(schema, OpUpsert)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if _, err := w.Write(ctx, mem, r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := tbl.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		st := tbl.Stats().Regions[0]
		if st.ActiveRows != rows || st.FrozenMemtables != 0 || len(st.Generations) != 0 {
			b.Fatalf("want all %d rows in the active memtable before the flush: %+v", rows, st)
		}
		flushed += st.ActiveBytes
		b.StartTimer()

		start := time.Now()
		gens, err := tbl.Flush(ctx, -1)
		tFlush += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if len(gens) != 1 || gens[0].Rows != rows {
			b.Fatalf("flush wrote %+v, want one generation of %d rows", gens, rows)
		}

		start = time.Now()
		if _, err := lance.WriteDataset(ctx, store, fmt.Sprintf("lance_%d.lance", i), schema, recs, nil); err != nil {
			b.Fatal(err)
		}
		tLance += time.Since(start)

		start = time.Now()
		if err := store.Put(ctx, fmt.Sprintf("put_%d", i), blob); err != nil {
			b.Fatal(err)
		}
		tPut += time.Since(start)

		b.StopTimer()
		if err := db.DropTable(ctx, name); err != nil {
			b.Fatal(err)
		}
		objs, err := store.List(ctx, fmt.Sprintf("lance_%d.lance/", i))
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range append(objs, objstore.ObjectInfo{Key: fmt.Sprintf("put_%d", i)}) {
			if err := store.Delete(ctx, o.Key); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	flushMBps := float64(flushed) / 1e6 / tFlush.Seconds()
	lanceMBps := n * float64(arrowBytes) / 1e6 / tLance.Seconds()
	putMBps := n * float64(arrowBytes) / 1e6 / tPut.Seconds()
	b.ReportMetric(flushMBps, "flush-MB/s")
	b.ReportMetric(lanceMBps, "lance-write-MB/s")
	b.ReportMetric(putMBps, "store-put-MB/s")
	b.ReportMetric(flushMBps/putMBps, "flush/put")
	b.Logf("%d rows x %d dims (%.0f MB of Arrow buffers), %d iterations: flush %.0f MB/s (target >= 200), lance.WriteDataset alone %.0f MB/s, one store Put of as many bytes %.0f MB/s",
		rows, dim, float64(arrowBytes)/1e6, b.N, flushMBps, lanceMBps, putMBps)
}
