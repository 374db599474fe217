package lsm

import (
	"context"
	"math"
	"testing"

	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// TestNearestSkipsNonFiniteVectors: rows whose vector has a NaN or
// infinite component have no distance; indexes leave them out, and so must
// exact search, or the answer depends on how far the background indexers
// got. Exact search used to rank them: at +Inf, or under the dot metric at
// -Inf, first, pushing valid rows out of the top k until the row was
// indexed (or its fragment's index built), when it vanished.
func TestNearestSkipsNonFiniteVectors(t *testing.T) {
	ctx := context.Background()
	const dim = 4
	db, mem := testDB(t, objstore.NewMem(), Options{CompactAfterGenerations: -1})
	defer func() {
		db.Close()
		mem.AssertSize(t, 0)
	}()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "nan", Schema: searchSchema(dim), Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Metric: "dot", Partitions: 2, TrainAfter: 200},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	rows := map[int64]srow{
		1000: {vec: []float32{inf, 1, 2, 3}},
		1001: {vec: []float32{nan, 1, 2, 3}},
		1002: {vec: []float32{1, -inf, 2, 3}},
	}
	for i := int64(0); i < 100; i++ {
		rows[i] = srow{vec: []float32{float32(i % 7), 1, float32(i % 5), 3}}
	}
	m.upsert(rows)
	finite := func(_ int64, r srow) bool { return vector.CheckQuery(r.vec, dim) == nil }
	q := []float32{1, 0.5, 0.25, 0}
	check := func(stage string) {
		t.Helper()
		for _, k := range []int{3, 200} {
			got := runSearch(t, tbl, mem, Query{Nearest: &NearestQuery{Vector: q, K: k, NProbes: 2, RefineFactor: 1000}})
			if d := sameHits(exactNearest(m.live, q, k, vector.Dot, finite), got, 1e-6); d != "" {
				t.Fatalf("%s, k = %d: %s", stage, k, d)
			}
		}
	}
	check("memtable, no model")
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	check("generation, no model")
	more := map[int64]srow{}
	for i := int64(100); i < 300; i++ {
		more[i] = srow{vec: []float32{float32(i % 7), 1, float32(i % 5), 3}}
	}
	m.upsert(more)
	waitIndexed(t, tbl)
	check("indexed")
}
