package lsm

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// lsmGoroutines lists the goroutines running lsm code, but tests.
func lsmGoroutines() []string {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	var out []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "flightwal/lsm.") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}

// TestDropWhileTraining: drop_table while the ivf_pq model is being trained
// (and the indexers and builder run) returns once they stopped: no
// goroutine of the table is left, nothing is stored under the dropped
// table afterwards, no Arrow memory is held.
func TestDropWhileTraining(t *testing.T) {
	ctx := context.Background()
	const dim = 64
	before := len(lsmGoroutines())
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "drop", Schema: searchSchema(dim), Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 64, TrainAfter: 2048},
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	data := vector.GenerateClustered(3000, dim, 20, 7)
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	rows := map[int64]srow{}
	for i := int64(0); i < 3000; i++ {
		rows[i] = srow{vec: data[i*dim : (i+1)*dim], text: "hello world"}
	}
	m.upsert(rows)
	for deadline := time.Now().Add(10 * time.Second); !tbl.idx.vecs[0].training.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) || tbl.idx.vecs[0].model.Load() != nil {
			t.Fatal("no training seen")
		}
	}
	if err := db.DropTable(ctx, "drop"); err != nil {
		t.Fatal(err)
	}
	// Every goroutine of the table is gone when DropTable returns (a
	// moment for the ones that were on their way out).
	for deadline := time.Now().Add(time.Second); len(lsmGoroutines()) > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after DropTable:\n%s", strings.Join(lsmGoroutines(), "\n\n"))
		}
	}
	// Nothing (a model, a sidecar) was stored after the drop.
	if objs, err := store.List(ctx, "drop.lance/"); err != nil || len(objs) > 0 {
		t.Fatalf("objects left after DropTable: %v %v", objs, err)
	}
	db.Close()
	mem.AssertSize(t, 0)
}

// TestCloseWithConcurrentWriters: closing while writers append returns, and
// every write either is durable (readable after reopening) or failed.
func TestCloseWithConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{MemTableMaxRows: 50, CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "c", Schema: testSchema, Regions: 2})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var acked sync.Map
	for g := int64(0); g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); ; i++ {
				id := g*1_000_000 + i
				if err := writeIDs(t, tbl, mem, id, id); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("write during close: %v, want ErrClosed", err)
					}
					return
				}
				acked.Store(id, true)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	closed := make(chan struct{})
	go func() { db.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close hangs with concurrent writers")
	}
	wg.Wait()
	// After close: writes, freezes and reads fail cleanly.
	if err := writeIDs(t, tbl, mem, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := scanState(ctx, tbl, mem, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("scan after close: %v, want ErrClosed", err)
	}
	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t2, err := db2.Table(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanState(ctx, t2, mem2, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if _, ok := got[k.(int64)]; !ok {
			t.Errorf("acknowledged id %d lost", k)
		}
		return true
	})
	if n == 0 {
		t.Fatal("no write was acknowledged before close")
	}
	db2.Close()
	mem.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
}
