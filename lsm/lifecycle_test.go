package lsm

import (
	"context"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// TestLifecycleStages: a memtable is open, frozen by a freeze, flushed by
// a flush; its generation is flushed, then merged by a compaction; no
// stage is skipped or repeated.
func TestLifecycleStages(t *testing.T) {
	ctx := context.Background()
	db, mem := testDB(t, objstore.NewMem(), Options{CompactAfterGenerations: -1})
	defer func() { db.Close(); mem.AssertSize(t, 0) }()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "l", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, tbl, mem, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	r, err := tbl.region(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := r.Freeze()
	if m == nil || m.Stage() != StageFrozen || r.active.Stage() != StageOpen {
		t.Fatalf("after a freeze: frozen %v, active %s", m, r.active.Stage())
	}
	m.ref() // keep it to look at after the flush
	defer m.unref()
	if _, err := tbl.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	gens := r.generations()
	if m.Stage() != StageFlushed || len(gens) != 1 || gens[0].stage.get() != StageFlushed {
		t.Fatalf("after the flush: memtable %s, %d generations", m.Stage(), len(gens))
	}
	g := gens[0] // held: its files stay until released
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if g.stage.get() != StageMerged {
		t.Fatalf("after the compaction the generation is %s", g.stage.get())
	}
	g.unref()
	defer func() {
		if recover() == nil {
			t.Fatal("a second freeze of a frozen memtable did not panic")
		}
	}()
	m.stage.advance(StageOpen, StageFrozen)
}
