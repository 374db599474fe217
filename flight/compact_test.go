package flight_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// model tracks the live rows of a datagen table: id -> seed of its version.
type model map[int64]uint64

func (e *env) putModel(m model, table string, seed uint64, first, n int64) {
	e.t.Helper()
	b := datagen.Batch(e.mem, 8, seed, first, n)
	defer b.Release()
	e.mustPut(pathDesc(table), b)
	for id := first; id < first+n; id++ {
		m[id] = seed
	}
}

func (e *env) deleteModel(m model, table string, ids ...int64) {
	e.t.Helper()
	b := keyBatch(e.mem, ids)
	defer b.Release()
	e.mustPut(cmdDesc(map[string]any{"table": table, "op": "delete"}), b)
	for _, id := range ids {
		delete(m, id)
	}
}

// checkModel scans the table and compares every row with the model.
func (e *env) checkModel(m model, table, stage string) {
	e.t.Helper()
	got := e.mustGet(map[string]any{"table": table})
	if got.NumRows() != int64(len(m)) {
		e.t.Fatalf("%s: %d rows, want %d", stage, got.NumRows(), len(m))
	}
	idc, texts := got.Column(0).(*array.Int64), got.Column(2).(*array.String)
	seen := map[int64]bool{}
	for i := 0; i < idc.Len(); i++ {
		id := idc.Value(i)
		seed, ok := m[id]
		if !ok || seen[id] || texts.Value(i) != datagen.Text(seed, id) {
			e.t.Fatalf("%s: row id %d (in model %v, seen before %v) has the wrong version", stage, id, ok, seen[id])
		}
		seen[id] = true
	}
}

// TestCompactLanceSeesModel: after compact the base table alone holds one
// row per key, and the real Lance engine reads exactly the model's rows.
func TestCompactLanceSeesModel(t *testing.T) {
	nm := lancejs.NodeModules(t, "")
	be := testBackend(t)
	e := newEnv(t, withStore(be.store), withLSM(lsm.Options{CompactAfterGenerations: -1}))
	e.createTable("c", datagen.Schema(8), map[string]any{"regions": 2})
	m := model{}
	e.putModel(m, "c", 1, 0, 2000)
	e.mustAction("flush", map[string]any{"table": "c"})
	e.mustAction("compact", map[string]any{"table": "c"})
	// Second round: 1% of the keys change, some are deleted, some are new.
	e.putModel(m, "c", 2, 100, 20)
	e.deleteModel(m, "c", 5, 6, 7, 1500)
	e.putModel(m, "c", 3, 2000, 30)
	e.mustAction("flush", map[string]any{"table": "c"})
	e.putModel(m, "c", 4, 110, 5) // a third generation on top
	e.mustAction("flush", map[string]any{"table": "c"})
	res := e.mustAction("compact", map[string]any{"table": "c"})
	t.Logf("second compaction: %v", res)
	if res["rows_written"].(float64) != 20+30 || res["rows_deleted"].(float64) != 20+4 {
		t.Fatalf("compaction rewrote more than what changed: %v", res)
	}
	st := e.mustAction("stats", map[string]any{"table": "c"})
	for _, r := range st["regions"].([]any) {
		if g := r.(map[string]any)["flushed_generations"].([]any); len(g) != 0 {
			t.Fatalf("generations left after compact: %v", g)
		}
	}
	if st["base_rows"].(float64) != float64(len(m)) {
		t.Fatalf("base holds %v live rows, model %d", st["base_rows"], len(m))
	}
	e.checkModel(m, "c", "after compact")
	e.restart()
	e.checkModel(m, "c", "after restart")

	res2 := be.readTable(t, nm, "c", lancejs.Query{
		Filters: []lancejs.Filter{{Filter: "id >= 100 AND id < 120", Columns: []string{"id", "text"}}, {Filter: "id < 10"}},
	})
	if res2.CountRows != int64(len(m)) {
		t.Fatalf("Lance counts %d rows in the base table, model has %d", res2.CountRows, len(m))
	}
	if len(res2.Filters[0].Rows) != 20 {
		t.Fatalf("Lance filter: %d rows", len(res2.Filters[0].Rows))
	}
	for _, r := range res2.Filters[0].Rows {
		id, _ := strconv.ParseInt(r["id"].(string), 10, 64)
		if r["text"] != datagen.Text(m[id], id) {
			t.Fatalf("Lance reads id %d with an old version", id)
		}
	}
	if res2.Filters[1].Count != 7 {
		t.Fatalf("Lance: %d rows with id < 10, want 7 (5, 6, 7 deleted)", res2.Filters[1].Count)
	}
}

// TestCompactCrashPoints fails compaction at each step; after a restart
// reads equal the model and a later compaction finishes the job.
func TestCompactCrashPoints(t *testing.T) {
	for _, step := range []struct {
		name string
		fail func(key string) bool
	}{
		{"after data files, before the base commit", func(key string) bool { return strings.HasPrefix(key, "c.lance/_versions/") }},
		{"after the base commit, before retiring generations", func(key string) bool { return strings.Contains(key, "/manifest/") }},
	} {
		t.Run(step.name, func(t *testing.T) {
			hs := objstore.NewFaulty(testStore(t), objstore.FaultOptions{})
			e := newEnv(t, withStore(hs), withLSM(lsm.Options{CompactAfterGenerations: -1}))
			e.createTable("c", datagen.Schema(8), nil)
			m := model{}
			e.putModel(m, "c", 1, 0, 300)
			e.mustAction("flush", map[string]any{"table": "c"})
			e.putModel(m, "c", 2, 250, 100)
			e.deleteModel(m, "c", 1, 2, 260)
			e.mustAction("flush", map[string]any{"table": "c"})
			hookWrites(hs, func(key string) error {
				if step.fail(key) {
					return fmt.Errorf("injected crash at %s: %w", key, objstore.ErrUnavailable)
				}
				return nil
			}, nil)
			if _, err := e.action("compact", map[string]any{"table": "c"}); err == nil {
				t.Fatal("compaction succeeded through the injected failure")
			}
			hookWrites(hs, nil, nil)
			e.restart()
			e.checkModel(m, "c", "after the crash and restart")
			e.mustAction("compact", map[string]any{"table": "c"})
			e.checkModel(m, "c", "after the next compaction")
			st := e.mustAction("stats", map[string]any{"table": "c"})
			if st["base_rows"].(float64) != float64(len(m)) {
				t.Fatalf("base rows %v, model %d: a generation was merged twice or lost", st["base_rows"], len(m))
			}
			e.restart()
			e.checkModel(m, "c", "after the final restart")
		})
	}
}
