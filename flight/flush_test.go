package flight_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/objstore"
)

// TestDurableAckAfterWALPut holds the WAL put back: no PutResult and no
// visible row until the entry is in the store (invariants 1 and 2).
func TestDurableAckAfterWALPut(t *testing.T) {
	hs := objstore.NewFaulty(testStore(t), objstore.FaultOptions{})
	e := newEnv(t, withStore(hs))
	e.createTable("d", datagen.Schema(4), nil)
	// Claim the region first (a flush does), so the only WAL put held
	// below is the batch's entry, not the claim's fence.
	e.mustAction("flush", map[string]any{"table": "d"})

	gate := make(chan struct{})
	var landed atomic.Bool
	hookWrites(hs, func(key string) error {
		if strings.Contains(key, "/wal/") {
			<-gate
		}
		return nil
	}, func(key string, err error) {
		if strings.Contains(key, "/wal/") && err == nil {
			landed.Store(true)
		}
	})
	b := datagen.Batch(e.mem, 4, 1, 0, 10)
	defer b.Release()
	type result struct {
		res []putResult
		err error
		at  bool // entry had landed when the PutResult arrived
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.put(pathDesc("d"), b)
		done <- result{res, err, landed.Load()}
	}()
	select {
	case r := <-done:
		t.Fatalf("PutResult arrived while the WAL put was held: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if got := e.mustGet(map[string]any{"table": "d"}); got.NumRows() != 0 {
		t.Fatalf("a reader saw %d rows before they were durable", got.NumRows())
	}
	close(gate)
	r := <-done
	if r.err != nil || len(r.res) != 1 || !r.res[0].Durable {
		t.Fatalf("put: %+v, %v", r.res, r.err)
	}
	if !r.at {
		t.Fatal("the durable PutResult arrived before the WAL entry was in the store")
	}
	if got := e.mustGet(map[string]any{"table": "d"}); got.NumRows() != 10 {
		t.Fatalf("after the ack: %d rows", got.NumRows())
	}
}

// TestFlushLayersNewestWins spreads versions of the same keys over two
// flushed generations and the memtable, with deletes in each, and checks
// scans, filters and point lookups before and after a restart.
func TestFlushLayersNewestWins(t *testing.T) {
	local := testStore(t)
	e := newEnv(t, withStore(local))
	e.createTable("L", datagen.Schema(8), map[string]any{"regions": 2})
	want := map[int64]uint64{} // id -> seed of its live version
	put := func(seed uint64, first, n int64) {
		b := datagen.Batch(e.mem, 8, seed, first, n)
		defer b.Release()
		e.mustPut(pathDesc("L"), b)
		for id := first; id < first+n; id++ {
			want[id] = seed
		}
	}
	del := func(ids ...int64) {
		b := keyBatch(e.mem, ids)
		defer b.Release()
		e.mustPut(cmdDesc(map[string]any{"table": "L", "op": "delete"}), b)
		for _, id := range ids {
			delete(want, id)
		}
	}
	put(1, 0, 1000)
	del(1, 2, 3)
	out := e.mustAction("flush", map[string]any{"table": "L"})
	if gens := out["generations"].([]any); len(gens) != 2 {
		t.Fatalf("flush wrote %d generations, want one per region: %v", len(gens), out)
	}
	put(2, 500, 1000) // 500..999 updated, 1000..1499 new
	del(600, 1200, 2) // 2 was already deleted in the generation
	put(3, 1, 1)      // re-insert a key deleted in an older layer
	e.mustAction("flush", map[string]any{"table": "L"})
	put(4, 900, 200) // newest versions in the memtable
	del(10, 950)

	check := func(stage string) {
		t.Helper()
		got := e.mustGet(map[string]any{"table": "L"})
		if got.NumRows() != int64(len(want)) {
			t.Fatalf("%s: scan returned %d rows, want %d", stage, got.NumRows(), len(want))
		}
		idc, texts := got.Column(0).(*array.Int64), got.Column(2).(*array.String)
		seen := map[int64]bool{}
		for i := 0; i < idc.Len(); i++ {
			id := idc.Value(i)
			if seen[id] {
				t.Fatalf("%s: id %d twice", stage, id)
			}
			seen[id] = true
			seed, ok := want[id]
			if !ok {
				t.Fatalf("%s: deleted id %d returned", stage, id)
			}
			if texts.Value(i) != datagen.Text(seed, id) {
				t.Fatalf("%s: id %d has an old version", stage, id)
			}
		}
		// Point lookups across all layers.
		probe := []int64{0, 1, 2, 3, 10, 499, 500, 600, 899, 900, 950, 1099, 1100, 1200, 1499, 5000}
		look := e.mustGet(map[string]any{"table": "L", "pk": probe})
		var gotIDs, wantIDs []int64
		for i := 0; i < int(look.NumRows()); i++ {
			id := look.Column(0).(*array.Int64).Value(i)
			gotIDs = append(gotIDs, id)
			if look.Column(2).(*array.String).Value(i) != datagen.Text(want[id], id) {
				t.Fatalf("%s: pk %d returned an old version", stage, id)
			}
		}
		for _, id := range probe {
			if _, ok := want[id]; ok {
				wantIDs = append(wantIDs, id)
			}
		}
		sort.Slice(gotIDs, func(a, b int) bool { return gotIDs[a] < gotIDs[b] })
		if fmt.Sprint(gotIDs) != fmt.Sprint(wantIDs) {
			t.Fatalf("%s: pk lookup %v, want %v", stage, gotIDs, wantIDs)
		}
		// A filter over all layers.
		f := e.mustGet(map[string]any{"table": "L", "filter": "id >= 890 AND id < 1010", "columns": []string{"id"}})
		n := 0
		for id := range want {
			if id >= 890 && id < 1010 {
				n++
			}
		}
		if int(f.NumRows()) != n {
			t.Fatalf("%s: filter returned %d rows, want %d", stage, f.NumRows(), n)
		}
	}
	check("before restart")
	st := e.mustAction("stats", map[string]any{"table": "L"})
	for _, r := range st["regions"].([]any) {
		reg := r.(map[string]any)
		if len(reg["flushed_generations"].([]any)) != 2 || reg["replay_after_wal_position"].(float64) == 0 {
			t.Fatalf("stats after two flushes: %v", reg)
		}
	}
	e.restart()
	check("after restart")
	// Flushed WAL entries were collected: each region keeps only the entries
	// from its replay position on, and the fences of its two opens (fences
	// are never collected: see lsm collectWAL).
	objs, err := local.List(context.Background(), "L.lance/_mem_wal/4a388480-a25b-59a8-b058-24217f980256/wal/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) > 5 {
		t.Fatalf("region 0 still has %d WAL entries after two flushes", len(objs))
	}
}

// TestLanceReadsFlushedGenerations: the real Lance engine opens every
// flushed generation and returns exactly the rows we wrote: the newest
// version of each key, and each deleted key as a _tombstone row (as
// Lance's MemWAL flushes a delete).
func TestLanceReadsFlushedGenerations(t *testing.T) {
	nm := lancejs.NodeModules(t, "")
	dir := t.TempDir()
	local, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withStore(local))
	const dim = 16
	e.createTable("g", datagen.Schema(dim), nil)
	b := datagen.Batch(e.mem, dim, 7, 0, 3000)
	defer b.Release()
	e.mustPut(pathDesc("g"), b)
	upd := datagen.Batch(e.mem, dim, 8, 100, 50) // newer versions of 100..149
	defer upd.Release()
	e.mustPut(pathDesc("g"), upd)
	del := keyBatch(e.mem, []int64{5, 6, 7})
	defer del.Release()
	e.mustPut(cmdDesc(map[string]any{"table": "g", "op": "delete"}), del)
	out := e.mustAction("flush", map[string]any{"table": "g"})
	gens := out["generations"].([]any)
	if len(gens) != 1 {
		t.Fatalf("flush: %v", out)
	}
	genPath := filepath.Join(dir, "g.lance", "_mem_wal", "4a388480-a25b-59a8-b058-24217f980256", gens[0].(map[string]any)["path"].(string))
	query := make([]float32, dim)
	datagen.Vector(query, 8, 120)
	res := lancejs.ReadDataset(t, nm, genPath, lancejs.Query{
		Filters: []lancejs.Filter{{Filter: "id >= 100 AND id < 103", Columns: []string{"id", "text"}}, {Filter: "id < 10 AND NOT _tombstone", Columns: []string{"id"}}, {Filter: "_tombstone", Columns: []string{"id"}}},
		Vector:  &lancejs.VectorQuery{Column: "vec", Vector: query, K: 3, Columns: []string{"id"}},
	})
	if res.CountRows != 3000 {
		t.Fatalf("Lance counts %d rows in the generation, want 3000 (2,997 live, upserts deduplicated, and 3 _tombstone rows)", res.CountRows)
	}
	rows := res.Filters[0].Rows
	if len(rows) != 3 {
		t.Fatalf("filter rows: %v", rows)
	}
	for _, r := range rows {
		id, _ := strconv.ParseInt(r["id"].(string), 10, 64)
		if r["text"] != datagen.Text(8, id) {
			t.Fatalf("Lance reads id %d with text %q, want the upserted %q", id, r["text"], datagen.Text(8, id))
		}
	}
	if res.Filters[1].Count != 7 {
		t.Fatalf("Lance: %d live rows with id < 10, want 7", res.Filters[1].Count)
	}
	if res.Filters[2].Count != 3 {
		t.Fatalf("Lance: %d _tombstone rows, want 3 (ids 5, 6, 7)", res.Filters[2].Count)
	}
	if len(res.VectorRows) != 3 || res.VectorRows[0]["id"] != "120" {
		t.Fatalf("Lance vector search: %v, want id 120 first", res.VectorRows)
	}
}

// TestCrashBetweenGenerationAndManifest: the generation is written but the
// region manifest commit fails; after restart the orphan is ignored and
// the rows come back from the WAL, once.
func TestCrashBetweenGenerationAndManifest(t *testing.T) {
	hs := objstore.NewFaulty(testStore(t), objstore.FaultOptions{})
	e := newEnv(t, withStore(hs))
	e.createTable("c", datagen.Schema(4), nil)
	b := datagen.Batch(e.mem, 4, 1, 0, 500)
	defer b.Release()
	e.mustPut(pathDesc("c"), b)
	var genWritten atomic.Bool
	hookWrites(hs, func(key string) error {
		if strings.Contains(key, "/manifest/") {
			return fmt.Errorf("injected crash before the region manifest commit: %w", objstore.ErrUnavailable)
		}
		return nil
	}, func(key string, err error) {
		if strings.Contains(key, "_gen_") && strings.Contains(key, "_versions") && err == nil {
			genWritten.Store(true)
		}
	})
	if _, err := e.action("flush", map[string]any{"table": "c"}); err == nil {
		t.Fatal("flush succeeded although the manifest commit failed")
	}
	if !genWritten.Load() {
		t.Fatal("the generation was never written")
	}
	// Before the restart the memtable still serves the rows (no gap).
	if got := e.mustGet(map[string]any{"table": "c"}); got.NumRows() != 500 {
		t.Fatalf("after the failed flush: %d rows", got.NumRows())
	}
	hookWrites(hs, nil, nil)
	e.restart()
	got := e.mustGet(map[string]any{"table": "c"})
	if got.NumRows() != 500 {
		t.Fatalf("after restart: %d rows, want 500", got.NumRows())
	}
	if n := len(sortedIDs(got)); n != 500 {
		t.Fatal(n)
	}
	// Flushing again works and still gives each row once.
	e.mustAction("flush", map[string]any{"table": "c"})
	if got := e.mustGet(map[string]any{"table": "c"}); got.NumRows() != 500 {
		t.Fatalf("after the second flush: %d rows", got.NumRows())
	}
}
