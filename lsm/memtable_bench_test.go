package lsm

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/benchutil"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/objstore"
)

// benchSmallSchema is a small row: (id int64 primary key, v int64, s utf8
// of 11 bytes), 27 bytes of Arrow data a row.
var benchSmallSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{PrimaryKeyMetadataKey}, []string{"true"})},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// benchDecoded turns a built batch into the batch a Flight server would
// hold after decoding it: exactly sized buffers, Go-allocated (not through
// a checked allocator, whose bookkeeping would count as held heap).
func benchDecoded(b *testing.B, rec arrow.RecordBatch) arrow.RecordBatch {
	b.Helper()
	out, err := benchutil.Decoded(memory.NewGoAllocator(), []arrow.RecordBatch{rec})
	rec.Release()
	if err != nil {
		b.Fatal(err)
	}
	return out[0]
}

// benchSmallBatch is rows [first, first+n) of benchSmallSchema.
func benchSmallBatch(b *testing.B, first, n int) arrow.RecordBatch {
	bld := array.NewRecordBuilder(memory.NewGoAllocator(), benchSmallSchema)
	defer bld.Release()
	ids := bld.Field(0).(*array.Int64Builder)
	vs := bld.Field(1).(*array.Int64Builder)
	ss := bld.Field(2).(*array.StringBuilder)
	for id := first; id < first+n; id++ {
		ids.Append(int64(id))
		vs.Append(int64(id) * 3)
		ss.Append(fmt.Sprintf("row-%07d", id))
	}
	return benchDecoded(b, bld.NewRecordBatch())
}

// benchVectorBatch is rows [first, first+n) of the 1024-dim data set.
func benchVectorBatch(b *testing.B, first, n int) arrow.RecordBatch {
	return benchDecoded(b, datagen.Batch(memory.NewGoAllocator(), 1024, 1, int64(first), int64(n)))
}

// openBenchDB opens a DB on a local-disk store in a temporary directory,
// with a checked allocator. The DB is closed before the directory is
// removed (cleanups run last-in first-out), so background flushes finish
// on a store that still exists; the allocator must then hold nothing.
func openBenchDB(b *testing.B, o Options) (*DB, objstore.Store, *memory.CheckedAllocator) {
	b.Helper()
	store, err := objstore.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	o.Allocator = mem
	o.Logger = discardLogger()
	db, err := Open(context.Background(), store, testOptions(o))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		db.Close()
		mem.AssertSize(b, 0)
	})
	return db, store, mem
}

// benchIngest writes rows 0..rows-1 made by batch (batchRows at a time) and
// waits until they are durable and visible. The batches are made and
// dropped one at a time: afterwards only the memtable holds them.
func benchIngest(b *testing.B, tbl *Table, mem memory.Allocator, rows, batchRows int, batch func(b *testing.B, first, n int) arrow.RecordBatch) {
	b.Helper()
	ctx := context.Background()
	w, err := tbl.NewWriter(tbl.Schema(), OpUpsert)
	if err != nil {
		b.Fatal(err)
	}
	for first := 0; first < rows; first += batchRows {
		rec := batch(b, first, min(batchRows, rows-first))
		_, err := w.Write(ctx, mem, rec)
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := tbl.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}

// benchLimits keep everything in the active memtable (no freeze, no flush)
// and turn compaction off.
func benchLimits() Options {
	return Options{MemTableMaxRows: 100_000_000, MemTableMaxBytes: 64 << 30, MaxUnflushedBytes: 128 << 30, CompactAfterGenerations: -1}
}

// BenchmarkMemTableLookup: an in-process primary-key lookup of one key in
// an active memtable of 1,000,000 small rows (Table.Prepare, Snapshot,
// Run: the path a DoGet with "pk" takes, without Flight) against a full
// scan of the same memtable through the same path. Each iteration does one
// scan and 1,000 lookups of spread-out keys. Target: lookup/scan < 1/1000.
//
// The writes go through a checked allocator (it must end empty); the reads
// use the Go allocator, as the server does by default: the checked one
// records a stack trace per allocation, which would be most of the cost of
// a lookup.
func BenchmarkMemTableLookup(b *testing.B) {
	const rows, batchRows, lookups = 1_000_000, 10_000, 1_000
	db, _, wmem := openBenchDB(b, benchLimits())
	tbl, err := db.CreateTable(context.Background(), TableSpec{Name: "lookup", Schema: benchSmallSchema})
	if err != nil {
		b.Fatal(err)
	}
	benchIngest(b, tbl, wmem, rows, batchRows, benchSmallBatch)
	if st := tbl.Stats().Regions[0]; st.ActiveRows != rows || st.FrozenMemtables != 0 {
		b.Fatalf("want all %d rows in the active memtable: %+v", rows, st)
	}
	if n := runQuery(b, tbl, Query{}); n != rows {
		b.Fatalf("scan returned %d rows", n)
	}
	var scan, lookup time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if n := runQuery(b, tbl, Query{}); n != rows {
			b.Fatalf("scan returned %d rows", n)
		}
		scan += time.Since(start)
		start = time.Now()
		for j := 0; j < lookups; j++ {
			id := int64((i*lookups + j) * 7919 % rows)
			if n := runQuery(b, tbl, Query{PK: []any{id}}); n != 1 {
				b.Fatalf("lookup of %d found %d rows", id, n)
			}
		}
		lookup += time.Since(start)
	}
	b.StopTimer()
	scanNs := float64(scan.Nanoseconds()) / float64(b.N)
	lookupNs := float64(lookup.Nanoseconds()) / float64(b.N*lookups)
	b.ReportMetric(lookupNs, "lookup-ns")
	b.ReportMetric(scanNs, "scan-ns")
	b.ReportMetric(lookupNs/scanNs, "lookup/scan")
	b.Logf("memtable of %d rows: lookup %.1f us, full scan %.2f ms, lookup/scan = 1/%.0f (target < 1/1000)",
		rows, lookupNs/1e3, scanNs/1e6, scanNs/lookupNs)
}

// BenchmarkMemTableMemory: the heap a memtable holds against the Arrow
// buffer bytes of its batches (the memtable's own accounting,
// util.TotalRecordSize, as stats reports it). Each iteration ingests into
// a fresh table; held heap is runtime.MemStats.HeapAlloc after ingest
// minus before, both after a full collection, with the batches made and
// dropped one at a time so only the memtable keeps them. Target: <= 1.2.
// Two row shapes: 1,000,000 small rows (27 bytes of data a row: the
// per-row bookkeeping dominates) and 20,000 rows of 1024-dim vectors
// (4,200 bytes a row).
func BenchmarkMemTableMemory(b *testing.B) {
	for _, c := range []struct {
		name            string
		schema          *arrow.Schema
		rows, batchRows int
		batch           func(b *testing.B, first, n int) arrow.RecordBatch
	}{
		{"small-1M", benchSmallSchema, 1_000_000, 10_000, benchSmallBatch},
		{"vec1024-20k", datagen.Schema(1024), 20_000, 1_000, benchVectorBatch},
	} {
		b.Run(c.name, func(b *testing.B) {
			db, _, mem := openBenchDB(b, benchLimits())
			var held, arrowBytes int64
			for i := 0; i < b.N; i++ {
				name := fmt.Sprintf("mem_%d", i)
				tbl, err := db.CreateTable(context.Background(), TableSpec{Name: name, Schema: c.schema})
				if err != nil {
					b.Fatal(err)
				}
				before := heapAfterGC()
				benchIngest(b, tbl, mem, c.rows, c.batchRows, c.batch)
				after := heapAfterGC()
				st := tbl.Stats().Regions[0]
				if st.ActiveRows != int64(c.rows) || st.FrozenMemtables != 0 {
					b.Fatalf("want all %d rows in the active memtable: %+v", c.rows, st)
				}
				held += int64(after) - int64(before)
				arrowBytes += st.ActiveBytes
				runtime.KeepAlive(tbl)
				if err := db.DropTable(context.Background(), name); err != nil {
					b.Fatal(err)
				}
			}
			ratio := float64(held) / float64(arrowBytes)
			perRow := float64(held-arrowBytes) / float64(b.N*c.rows)
			b.ReportMetric(float64(held)/float64(b.N), "heap-B")
			b.ReportMetric(float64(arrowBytes)/float64(b.N), "arrow-B")
			b.ReportMetric(ratio, "heap/arrow")
			b.ReportMetric(perRow, "overhead-B/row")
			b.Logf("%d rows: heap held %.1f MB, Arrow buffers %.1f MB, heap/arrow = %.3f (target <= 1.2), %.1f bytes of bookkeeping a row",
				c.rows, float64(held)/float64(b.N)/1e6, float64(arrowBytes)/float64(b.N)/1e6, ratio, perRow)
		})
	}
}

// heapAfterGC is HeapAlloc after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
