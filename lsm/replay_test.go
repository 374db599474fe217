package lsm

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// TestSearchMatchesScanAcrossRestarts: after restarts (WAL replayed and
// re-indexed, model and sidecars reloaded, memtables frozen and flushed by
// size, automatic compaction), before and after the indexes catch up,
// nearest and search equal exact search and BruteForce over the rows the
// writes left.
func TestSearchMatchesScanAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	const dim = 8
	store := objstore.NewMem()
	opts := Options{CompactAfterGenerations: 3, WALFlushInterval: time.Millisecond, MemTableMaxRows: 300}
	db, mem := testDB(t, store, opts)
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "rc", Schema: searchSchema(dim), Regions: 2, Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 4, TrainAfter: 500},
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 9))
	randRow := func() srow { return randSearchRow(rng, dim, false) }
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	verify := func(stage string) {
		t.Helper()
		s := m.tbl.Snapshot()
		defer s.Release()
		live := scanLive(t, m.tbl, s, m.mem)
		if len(live) != len(m.live) {
			t.Fatalf("%s: scan has %d rows, model %d", stage, len(live), len(m.live))
		}
		cfg := m.tbl.idx.texts[0].cfg
		for i := 0; i < 10; i++ {
			q := make([]float32, dim)
			for j := range q {
				q[j] = float32(rng.IntN(4)*10) + float32(rng.NormFloat64())
			}
			got, err := runOn(s, m.tbl, m.mem, Query{Nearest: &NearestQuery{Vector: q, K: 10, NProbes: 4, RefineFactor: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			if d := sameHits(exactNearest(m.live, q, 10, vector.L2, nil), got, 1e-5); d != "" {
				t.Fatalf("%s: nearest: %s", stage, d)
			}
			text := searchWords[rng.IntN(len(searchWords))]
			fq, _ := fts.ParseQuery(text, cfg)
			got, err = runOn(s, m.tbl, m.mem, Query{Search: &SearchQuery{Query: text, K: 10}})
			if err != nil {
				t.Fatal(err)
			}
			if d := sameHits(ftsTruth(m.live, fq, cfg, 10, nil), got, 1e-5); d != "" {
				t.Fatalf("%s: search: %s", stage, d)
			}
		}
	}
	for round := 0; round < 3; round++ {
		for i := 0; i < 60; i++ {
			if rng.IntN(5) == 0 {
				var ids []int64
				seen := map[int64]bool{}
				for range 1 + rng.IntN(10) {
					if id := rng.Int64N(600); !seen[id] {
						seen[id] = true
						ids = append(ids, id)
					}
				}
				m.delete(ids...)
				continue
			}
			rows := map[int64]srow{}
			for range 1 + rng.IntN(40) {
				rows[rng.Int64N(600)] = randRow()
			}
			m.upsert(rows)
		}
		verify("before restart")
		db.Close()
		mem.AssertSize(t, 0)
		db, mem = testDB(t, store, opts)
		tbl, err = db.Table(ctx, "rc")
		if err != nil {
			t.Fatal(err)
		}
		m.tbl, m.mem = tbl, mem
		verify("restarted")
		waitIndexed(t, tbl)
		verify("restarted, indexed")
	}
	db.Close()
	mem.AssertSize(t, 0)
}
