package lsm

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// TestSearchStoreFaultsLeakNothing: nearest and search (with and without
// prefilter, projection and limit) over the base, a generation and a
// memtable, with a third of the reads of data files, sidecars and deletion
// files failing: errors come back, and no Arrow memory is left behind.
func TestSearchStoreFaultsLeakNothing(t *testing.T) {
	ctx := context.Background()
	const dim = 8
	var n atomic.Int64
	var on atomic.Bool
	fs := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if on.Load() && op == objstore.OpGet && (strings.Contains(key, "/data/") || strings.Contains(key, indexDir) || strings.Contains(key, "_deletions")) && n.Add(1)%3 == 0 {
			return errors.New("injected")
		}
		return nil
	}})
	db, mem := testDB(t, fs, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "ft", Schema: searchSchema(dim), Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 4, TrainAfter: 100},
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	data := vector.GenerateClustered(1000, dim, 5, 7)
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	rows := func(lo, hi int64) map[int64]srow {
		out := map[int64]srow{}
		for i := lo; i < hi; i++ {
			out[i] = srow{vec: data[i*dim : (i+1)*dim], text: "hello world", cat: i % 3}
		}
		return out
	}
	m.upsert(rows(0, 600))
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	m.upsert(rows(300, 700))
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	m.upsert(rows(500, 800))
	on.Store(true)
	errs := 0
	for i := 0; i < 100; i++ {
		q := data[(i%700)*dim : (i%700+1)*dim]
		lim := int64(3)
		for _, qq := range []Query{
			{Nearest: &NearestQuery{Vector: q, K: 5}},
			{Nearest: &NearestQuery{Vector: q, K: 5}, Filter: "cat = 1", Limit: &lim},
			{Search: &SearchQuery{Query: "hello", K: 5}},
			{Search: &SearchQuery{Query: "world", K: 5}, Filter: "cat = 2", Columns: []string{"id", "vec"}},
		} {
			if _, err := tryRunSearch(tbl, mem, qq); err != nil {
				errs++
			}
		}
	}
	on.Store(false)
	if errs == 0 {
		t.Fatal("no query failed: the faults were not injected")
	}
	db.Close()
	mem.AssertSize(t, 0)
}
