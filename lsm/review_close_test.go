package lsm

import (
	"context"
	"runtime"
	"strings"
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
