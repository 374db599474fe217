package lsm

import (
	"context"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// TestLoadErrorNotCached: a generation that failed to load once (store
// unavailable) loads on the next read.
func TestLoadErrorNotCached(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "l", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	rec := kvBatch(mem, seqIDs(0, 10), 1)
	writeAll(t, tbl, mem, rec)
	rec.Release()
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err = db.Table(ctx, "l")
	if err != nil {
		t.Fatal(err)
	}
	store.SetOptions(failTimes(1000, objstore.OpGet, "_gen_", errTransient))
	if _, err := scanState(ctx, tbl, mem2, ""); err == nil {
		t.Fatal("read with the generation unreadable succeeded")
	}
	store.SetOptions(objstore.FaultOptions{})
	got, err := scanState(ctx, tbl, mem2, "v = 1")
	if err != nil || len(got) != 10 {
		t.Fatalf("read after the store recovered: %d rows, %v", len(got), err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
}
