package lsm

import (
	"context"
	"errors"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// readOnly refuses every write, as read-only storage does.
func readOnly(inner objstore.Store) *objstore.Faulty {
	return objstore.NewFaulty(inner, objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if op == objstore.OpPut || op == objstore.OpPutIfAbsent || op == objstore.OpDelete {
			return errors.New("read-only file system")
		}
		return nil
	}})
}

// TestOpenForReadingWritesNothing: opening a table replays its WAL without
// writing (no region manifest, no fence), so read-only storage serves
// reads; the first write claims the region.
func TestOpenForReadingWritesNothing(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "ro", Schema: testSchema, Regions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, tbl, mem, 1, 1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	before, _ := store.List(ctx, "")

	ro := readOnly(store)
	db2, mem2 := testDB(t, ro, Options{CompactAfterGenerations: -1})
	t2, err := db2.Table(ctx, "ro")
	if err != nil {
		t.Fatalf("open on read-only storage: %v", err)
	}
	got, err := scanState(ctx, t2, mem2, "")
	if err != nil || len(got) != 4 {
		t.Fatalf("read on read-only storage: %v (%v), want 4 rows", got, err)
	}
	for _, rs := range t2.Stats().Regions {
		if rs.Writing || rs.WriterEpoch != 1 {
			t.Fatalf("region %d after a read: writing %v epoch %d", rs.Region, rs.Writing, rs.WriterEpoch)
		}
	}
	if err := writeIDs(t, t2, mem2, 2, 5); err == nil {
		t.Fatal("a write on read-only storage succeeded")
	}
	if got, err := scanState(ctx, t2, mem2, ""); err != nil || len(got) != 4 {
		t.Fatalf("read after a refused write: %v (%v)", got, err)
	}
	db2.Close()
	mem2.AssertSize(t, 0)
	if after, _ := store.List(ctx, ""); len(after) != len(before) {
		t.Fatalf("%d objects after reading, %d before: reading wrote", len(after), len(before))
	}

	// On writable storage the first write claims its region, and only it.
	db3, mem3 := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer func() { db3.Close(); mem3.AssertSize(t, 0) }()
	t3, err := db3.Table(ctx, "ro")
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t3, mem3, 3, 1); err != nil {
		t.Fatal(err)
	}
	claimed := 0
	for _, rs := range t3.Stats().Regions {
		if rs.Writing {
			claimed++
			if rs.WriterEpoch != 2 {
				t.Fatalf("claimed region %d has epoch %d, want 2", rs.Region, rs.WriterEpoch)
			}
		}
	}
	if claimed != 1 {
		t.Fatalf("%d regions claimed by a one-key write, want 1", claimed)
	}
	if got, _ := scanState(ctx, t3, mem3, ""); len(got) != 4 || got[1] != 3 {
		t.Fatalf("after the claiming write: %v", got)
	}
}

// TestClaimAfterAnotherWriterFlushed: a region opened for reading whose
// manifest another writer moved since (a flush) is reopened, not claimed
// in place, so nothing stale is served or written.
func TestClaimAfterAnotherWriterFlushed(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db1, mem1 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t1, err := db1.CreateTable(ctx, TableSpec{Name: "c", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t1, mem1, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t2, err := db2.Table(ctx, "c") // reads; db1 keeps writing
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t1, mem1, 2, 2, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := t1.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t2, mem2, 3, 4); err != nil {
		t.Fatalf("first write of the second server: %v", err)
	}
	got, err := scanState(ctx, t2, mem2, "")
	if err != nil || len(got) != 4 || got[2] != 2 || got[3] != 2 || got[4] != 3 {
		t.Fatalf("second server after claiming: %v (%v)", got, err)
	}
	if err := writeIDs(t, t1, mem1, 9, 1); !errors.Is(err, ErrFenced) {
		t.Fatalf("first server after the claim: %v, want ErrFenced", err)
	}
	db1.Close()
	db2.Close()
	mem1.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
}
