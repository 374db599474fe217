package lsm

import (
	"context"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// TestMetrics: the counters move by what was done, the gauges follow the
// memtables.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	db, mem := testDB(t, objstore.NewMem(), Options{CompactAfterGenerations: -1})
	if m := db.Metrics(); m.Ingest.Rows != 0 || m.WALPuts != 0 || m.Flushes != 0 {
		t.Fatalf("new DB: %+v", m)
	}
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "m", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 3; i++ {
		b := kvBatch(mem, []int64{i * 10, i*10 + 1, i*10 + 2, i*10 + 3}, i)
		writeAll(t, tbl, mem, b)
		b.Release()
	}
	if _, err := tbl.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	m := db.Metrics()
	if m.Ingest.Batches != 3 || m.Ingest.Rows != 12 || m.Ingest.Bytes <= 0 || m.IngestTables["m"] != m.Ingest {
		t.Fatalf("ingest: %+v %+v", m.Ingest, m.IngestTables)
	}
	if m.WALPuts < 1 || m.WALBytes <= 0 || m.WALPutLatency.Count != uint64(m.WALPuts) || m.WALPutLatency.Sum <= 0 {
		t.Fatalf("wal: %+v", m)
	}
	if m.MemTableRows != 12 || m.MemTableBytes <= 0 || m.UnflushedBytes != m.MemTableBytes {
		t.Fatalf("memtable gauges: %+v", m)
	}
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	m = db.Metrics()
	if m.Flushes != 1 || m.FlushLatency.Count != 1 || m.FlushLatency.Sum <= 0 || m.MemTableRows != 0 || m.UnflushedBytes != 0 {
		t.Fatalf("after a flush: %+v", m)
	}
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if m = db.Metrics(); m.Compactions != 1 || m.CompactLatency.Count != 1 || m.CompactLatency.Sum <= 0 {
		t.Fatalf("after a compaction: %+v", m)
	}
}
