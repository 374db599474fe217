package lsm

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/objstore"
)

// TestAppendOnlyCompactionRetireFails: a table without a primary key whose
// compaction committed the base but could not retire the generations must
// not show their rows twice, before or after a restart.
func TestAppendOnlyCompactionRetireFails(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "a", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	for round := int64(0); round < 3; round++ {
		kv := kvBatch(mem, seqIDs(round*10, 10), round)
		rec := arrowWithSchema(kv, schema)
		kv.Release()
		writeAll(t, tbl, mem, rec)
		rec.Release()
		if _, err := tbl.Flush(ctx, -1); err != nil {
			t.Fatal(err)
		}
	}
	// Retiring writes region manifests: fail that, after the base commit.
	store.SetOptions(failTimes(1, objstore.OpPutIfAbsent, "_mem_wal/aa48498d-ac91-59e2-8452-69f46010ace2/manifest", errors.New("injected permanent failure")))
	if _, err := tbl.Compact(ctx); err == nil {
		t.Fatal("compaction with a failing retire succeeded")
	}
	store.SetOptions(objstore.FaultOptions{})
	if n := countRows(t, tbl, mem); n != 30 {
		t.Fatalf("%d rows after a half-done compaction, want 30", n)
	}
	db.Close()
	db, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err = db.Table(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, tbl, mem2); n != 30 {
		t.Fatalf("%d rows after restart, want 30", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
}
