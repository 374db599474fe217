package lsm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

func writeIDs(t *testing.T, tbl *Table, mem memory.Allocator, v int64, ids ...int64) error {
	t.Helper()
	rec := kvBatch(mem, ids, v)
	defer rec.Release()
	w, err := tbl.NewWriter(rec.Schema(), OpUpsert)
	if err != nil {
		return err
	}
	res, err := w.Write(context.Background(), mem, rec)
	if err != nil {
		return err
	}
	return tbl.WaitDurable(context.Background(), res)
}

// TestFencing: two servers open the same region on one store. The newer
// claims it; the older's next write fails with ErrFenced, overwrites
// nothing, and the newer reads every batch either acknowledged (invariant 4).
func TestFencing(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db1, mem1 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t1, err := db1.CreateTable(ctx, TableSpec{Name: "f", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t1, mem1, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	walBefore, _ := store.List(ctx, "f.lance/_mem_wal/4a388480-a25b-59a8-b058-24217f980256/wal/")

	// db1 acknowledges a write after db2 listed the WAL but before db2's
	// fence: db2 must replay it, not lose it.
	// The moment is right after db2's first List of the WAL returned.
	var once sync.Once
	hooked := objstore.NewFaulty(store, objstore.FaultOptions{After: func(_ context.Context, op objstore.Op, prefix string, _ error) {
		if op == objstore.OpList && strings.Contains(prefix, "/wal/") {
			once.Do(func() {
				if err := writeIDs(t, t1, mem1, 2, 3); err != nil {
					t.Errorf("old writer's late write: %v", err)
				}
			})
		}
	}})
	db2, mem2 := testDB(t, hooked, Options{CompactAfterGenerations: -1})
	t2, err := db2.Table(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	// Opening reads: it claims nothing, so the old writer still writes.
	if st := t2.Stats().Regions[0]; st.WriterEpoch != 1 || st.Writing {
		t.Fatalf("opened for reading: epoch %d writing %v, want the old writer's epoch 1", st.WriterEpoch, st.Writing)
	}
	// The first write claims the region; so does this, and it replays
	// what the old writer put since the open.
	if _, err := t2.region(ctx, 0, true); err != nil {
		t.Fatal(err)
	}
	if st := t2.Stats().Regions[0]; st.WriterEpoch != 2 || !st.Writing {
		t.Fatalf("new writer epoch %d writing %v, want 2", st.WriterEpoch, st.Writing)
	}
	got, err := scanState(ctx, t2, mem2, "")
	if err != nil || len(got) != 3 || got[3] != 2 {
		t.Fatalf("new writer sees %v (%v), want ids 1, 2 and the late 3", got, err)
	}
	// The old writer is fenced on its next write, and says so.
	err = writeIDs(t, t1, mem1, 9, 4)
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("old writer's write after the claim: %v, want ErrFenced", err)
	}
	if _, err := t1.Flush(ctx, -1); !errors.Is(err, ErrFenced) {
		t.Fatalf("old writer's flush: %v, want ErrFenced", err)
	}
	// Knowing it is fenced, the old server no longer serves stale reads.
	if got, err := scanState(ctx, t1, mem1, ""); !errors.Is(err, ErrFenced) {
		t.Fatalf("old server's scan after it was fenced: %v, %v; want ErrFenced", got, err)
	}
	if got, err := lookupState(ctx, t1, mem1, []any{int64(1)}); !errors.Is(err, ErrFenced) {
		t.Fatalf("old server's lookup after it was fenced: %v, %v; want ErrFenced", got, err)
	}
	// No WAL entry was overwritten: every entry that existed is unchanged.
	for _, o := range walBefore {
		data, err := store.Get(ctx, o.Key)
		if err != nil || int64(len(data)) != o.Size {
			t.Fatalf("WAL entry %s changed: %v", o.Key, err)
		}
	}
	// The new writer goes on; its reads never contain the fenced write.
	if err := writeIDs(t, t2, mem2, 5, 5); err != nil {
		t.Fatal(err)
	}
	got, _ = scanState(ctx, t2, mem2, "")
	if _, ok := got[4]; ok || len(got) != 4 {
		t.Fatalf("after fencing: %v", got)
	}
	// Racing flushes: both writers flush; only the owner's lands.
	if _, err := t2.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	db1.Close()
	db2.Close()
	db3, mem3 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t3, err := db3.Table(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = scanState(ctx, t3, mem3, "")
	if len(got) != 4 || got[3] != 2 || got[5] != 5 {
		t.Fatalf("after both closed and a third opened: %v", got)
	}
	db3.Close()
	mem1.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
	mem3.AssertSize(t, 0)
}

// TestFenceSurvivesWALGC: after the new writer flushed and collected the
// WAL, the fenced writer's next write still collides with the fence: it is
// refused, never acknowledged and lost.
func TestFenceSurvivesWALGC(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db1, mem1 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t1, err := db1.CreateTable(ctx, TableSpec{Name: "g", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t1, mem1, 1, 1); err != nil {
		t.Fatal(err)
	}
	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t2, err := db2.Table(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(2); v < 5; v++ {
		if err := writeIDs(t, t2, mem2, v, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := t2.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	wal, _ := store.List(ctx, "g.lance/_mem_wal/4a388480-a25b-59a8-b058-24217f980256/wal/")
	if len(wal) > 3 {
		t.Fatalf("WAL not collected: %d entries left", len(wal))
	}
	if err := writeIDs(t, t1, mem1, 9, 9); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced writer's write after GC: %v, want ErrFenced", err)
	}
	db1.Close()
	db2.Close()
	db3, mem3 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t3, err := db3.Table(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanState(ctx, t3, mem3, "")
	if err != nil || len(got) != 4 || got[4] != 4 {
		t.Fatalf("after restart: %v (%v), want ids 1..4", got, err)
	}
	db3.Close()
	for _, m := range []*memory.CheckedAllocator{mem1, mem2, mem3} {
		m.AssertSize(t, 0)
	}
}
