package lsm

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// TestSearchMatchesScanUnderChurn: while a writer upserts, deletes,
// freezes, flushes and compacts (and the indexers, the model trainer and
// the fragment builder run), nearest (every partition probed, refinement
// over every row) and search over a snapshot equal exact search and
// BruteForce over that same snapshot's plain scan: no row above the
// watermark, no superseded or deleted version, nothing pushed out of the
// top k. Tables with and without a primary key, three metrics.
func TestSearchMatchesScanUnderChurn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pk     bool
		metric vector.Metric
	}{{"pk l2", true, vector.L2}, {"append-only cosine", false, vector.Cosine}, {"pk dot", true, vector.Dot}} {
		t.Run(tc.name, func(t *testing.T) { checkSearchUnderChurn(t, tc.pk, tc.metric) })
	}
}

func checkSearchUnderChurn(t *testing.T, pk bool, metric vector.Metric) {
	ctx := context.Background()
	const dim = 8
	db, mem := testDB(t, objstore.NewMem(), Options{CompactAfterGenerations: -1, WALFlushInterval: time.Millisecond})
	schema := searchSchema(dim)
	if !pk {
		f := schema.Fields()
		f[0].Metadata = arrow.Metadata{}
		schema = arrow.NewSchema(f, nil)
	}
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "churn", Schema: schema, Regions: 2, Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 4, TrainAfter: 150, Metric: metric.String()},
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randRow := func() srow { return randSearchRow(rng, dim, true) }
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			switch x := rng.IntN(40); {
			case x < 30:
				rows := map[int64]srow{}
				for range 1 + rng.IntN(40) {
					if pk {
						rows[rng.Int64N(400)] = randRow()
					} else {
						rows[int64(len(m.live))] = randRow()
					}
				}
				if pk {
					m.upsert(rows)
				} else {
					appendRows(t, tbl, mem, dim, rows, m)
				}
			case x < 36:
				if !pk {
					continue
				}
				seen := map[int64]bool{}
				var ids []int64
				for range 1 + rng.IntN(10) {
					if id := rng.Int64N(400); !seen[id] {
						seen[id] = true
						ids = append(ids, id)
					}
				}
				m.delete(ids...)
			case x < 38:
				if _, err := tbl.Freeze(ctx, -1); err != nil {
					t.Error(err)
					return
				}
			case x < 39:
				if _, err := tbl.Flush(ctx, -1); err != nil {
					t.Error(err)
					return
				}
			default:
				if _, err := tbl.Compact(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	cfg := tbl.idx.texts[0].cfg
	qrng := rand.New(rand.NewPCG(5, 4))
	deadline := time.Now().Add(time.Second)
	// At least a few snapshots however slow the machine, for a second.
	for round := 0; (round < 4 || time.Now().Before(deadline)) && !t.Failed(); round++ {
		s := tbl.Snapshot()
		live := scanLive(t, tbl, s, mem)
		for range 3 {
			q := make([]float32, dim)
			c := float32(qrng.IntN(4) * 10)
			for j := range q {
				q[j] = c + float32(qrng.NormFloat64())
			}
			k := 1 + qrng.IntN(8)
			got, err := runOn(s, tbl, mem, Query{Nearest: &NearestQuery{Vector: q, K: k, NProbes: 4, RefineFactor: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			if d := sameHits(exactNearest(live, q, k, metric, nil), got, 1e-5); d != "" {
				t.Fatalf("nearest: %s", d)
			}
			got, err = runOn(s, tbl, mem, Query{Nearest: &NearestQuery{Vector: q, K: k, NProbes: 4, RefineFactor: 1000}, Filter: "cat = 1"})
			if err != nil {
				t.Fatal(err)
			}
			if d := sameHits(exactNearest(live, q, k, metric, func(_ int64, r srow) bool { return r.cat == 1 }), got, 1e-5); d != "" {
				t.Fatalf("nearest with prefilter: %s", d)
			}
			text := searchWords[qrng.IntN(len(searchWords))] + " " + searchWords[qrng.IntN(len(searchWords))]
			fq, err := fts.ParseQuery(text, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err = runOn(s, tbl, mem, Query{Search: &SearchQuery{Query: text, K: k}})
			if err != nil {
				t.Fatal(err)
			}
			if d := sameHits(ftsTruth(live, fq, cfg, k, nil), got, 1e-5); d != "" {
				t.Fatalf("search %q: %s", text, d)
			}
		}
		s.Release()
	}
	stop.Store(true)
	wg.Wait()
	db.Close()
	mem.AssertSize(t, 0)
}

func appendRows(t *testing.T, tbl *Table, mem memory.Allocator, dim int, rows map[int64]srow, m *searchModel) {
	ids := make([]int64, 0, len(rows))
	for id, r := range rows {
		ids = append(ids, id)
		m.live[id] = r
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	rec := searchBatch(mem, dim, ids, rows)
	defer rec.Release()
	rec2 := array.NewRecordBatch(tbl.Schema(), rec.Columns(), rec.NumRows())
	defer rec2.Release()
	write(t, tbl, mem, rec2, OpUpsert)
}

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
