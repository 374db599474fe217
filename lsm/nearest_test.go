package lsm

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

func seqRange(lo, hi int64) []int64 {
	out := make([]int64, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// TestNearestAcrossLayers: with nprobes covering every partition, nearest
// equals exact search over the snapshot's live rows, with rows spread over
// the base table, a flushed generation, a frozen and the active memtable,
// keys moved (upserted with new vectors) and deleted in newer layers, a
// prefilter and a limit; before the indexes exist, once they do, and after
// a restart (model and sidecars reloaded, the WAL replayed and re-indexed
// exactly once).
func TestNearestAcrossLayers(t *testing.T) {
	ctx := context.Background()
	const dim = 16
	store, flushes := gatedStore()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	spec := TableSpec{Name: "nn", Schema: searchSchema(dim), Regions: 2, Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 8, TrainAfter: 1000},
	}}
	tbl, err := db.CreateTable(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	data := vector.GenerateClustered(20000, dim, 20, 7)
	vecOf := func(i int64) []float32 { return data[i*dim : (i+1)*dim] }
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	rows := func(ids []int64, shift int64) map[int64]srow {
		out := map[int64]srow{}
		for _, id := range ids {
			out[id] = srow{vec: vecOf(id + shift), cat: id % 5}
		}
		return out
	}
	// Base table.
	m.upsert(rows(seqRange(0, 3000), 0))
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// A flushed generation: keys 0..299 move, 300..399 are deleted.
	m.upsert(rows(seqRange(0, 300), 10000))
	m.delete(seqRange(300, 400)...)
	m.upsert(rows(seqRange(3000, 5000), 0))
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	// A frozen memtable (its flush held back), with null vectors.
	m.upsert(rows(seqRange(400, 500), 12000))
	m.delete(seqRange(3000, 3100)...)
	m.upsert(rows(seqRange(5000, 6000), 0))
	nulls := map[int64]srow{}
	for _, id := range seqRange(6000, 6050) {
		nulls[id] = srow{cat: id % 5}
	}
	m.upsert(nulls)
	flushes.block()
	if _, err := tbl.Freeze(ctx, -1); err != nil {
		t.Fatal(err)
	}
	// The active memtable: keys move again, within it too.
	m.upsert(rows(seqRange(0, 50), 14000))
	m.upsert(rows(seqRange(500, 600), 14000))
	m.delete(seqRange(5000, 5100)...)
	m.upsert(rows(seqRange(6050, 7000), 0))
	m.upsert(rows(seqRange(0, 20), 15000))
	st := tbl.Stats().Regions[0]
	if st.FrozenMemtables == 0 || len(st.Generations) == 0 {
		t.Fatalf("layers not as planned: %+v", st)
	}

	check := func(stage string, tbl *Table, mem memory.Allocator) {
		t.Helper()
		var queries [][]float32
		for i := int64(0); i < 12; i++ {
			queries = append(queries, vecOf(19000+i))
		}
		for id := int64(0); id < 4; id++ {
			queries = append(queries, vecOf(id), vecOf(id+10000)) // old versions of moved keys
		}
		queries = append(queries, vecOf(3000), vecOf(5000)) // deleted keys' vectors
		for qi, q := range queries {
			nq := &NearestQuery{Column: "vec", Vector: q, K: 10, NProbes: 8, RefineFactor: 1000}
			got := runSearch(t, tbl, mem, Query{Nearest: nq})
			if d := sameHits(exactNearest(m.live, q, 10, vector.L2, nil), got, 0); d != "" {
				t.Fatalf("%s: query %d: %s", stage, qi, d)
			}
			for _, h := range got {
				if r := m.live[h.id]; h.score != vector.L2.Distance(q, r.vec) {
					t.Fatalf("%s: id %d returned at distance %v, its live vector is at %v", stage, h.id, h.score, vector.L2.Distance(q, r.vec))
				}
			}
			got = runSearch(t, tbl, mem, Query{Nearest: nq, Filter: "cat = 2", Columns: []string{"id", "cat"}})
			want := exactNearest(m.live, q, 10, vector.L2, func(_ int64, r srow) bool { return r.cat == 2 })
			if d := sameHits(want, got, 0); d != "" {
				t.Fatalf("%s: query %d with prefilter: %s", stage, qi, d)
			}
			limit := int64(3)
			got = runSearch(t, tbl, mem, Query{Nearest: nq, Limit: &limit})
			if d := sameHits(exactNearest(m.live, q, 3, vector.L2, nil), got, 0); d != "" {
				t.Fatalf("%s: query %d with limit: %s", stage, qi, d)
			}
		}
	}
	check("fresh", tbl, mem)
	waitIndexed(t, tbl)
	check("indexed", tbl, mem)
	fp := tbl.idx.vecs[0].model.Load().Fingerprint()

	flushes.unblock()
	db.Close()
	mem.AssertSize(t, 0)
	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer func() {
		db2.Close()
		mem2.AssertSize(t, 0)
	}()
	tbl2, err := db2.Table(ctx, "nn")
	if err != nil {
		t.Fatal(err)
	}
	if md := tbl2.idx.vecs[0].model.Load(); md == nil || md.Fingerprint() != fp {
		t.Fatal("the model was not reloaded at open")
	}
	m.tbl, m.mem = tbl2, mem2
	check("restarted", tbl2, mem2)
	waitIndexed(t, tbl2)
	check("restarted, indexed", tbl2, mem2)
	// Replay re-indexed each replayed row once: the memtable indexes hold
	// exactly the non-null vectors of the upsert batches.
	s := tbl2.Snapshot()
	defer s.Release()
	replayed := 0
	for _, rs := range s.regions {
		for _, mv := range rs.mems {
			want := 0
			for _, b := range mv.list {
				if b.op == OpUpsert {
					want += b.rows() - b.rec.Column(1).NullN()
				}
			}
			replayed += want
			if n := mv.m.idx.vecs[0].ix.Load().Len(); n != want {
				t.Fatalf("memtable index holds %d rows, the memtable %d", n, want)
			}
		}
	}
	if replayed == 0 {
		t.Fatal("nothing was replayed: the test does not test replay")
	}
}

// TestNearestBadInput: wrong dimension, NaN or infinite components, k out
// of range, unknown column, a column without an ivf_pq index, another
// metric, a zero vector under cosine, and pk together with nearest are
// rejected before any read.
func TestNearestBadInput(t *testing.T) {
	ctx := context.Background()
	db, mem := testDB(t, objstore.NewMem(), Options{})
	defer func() {
		db.Close()
		mem.AssertSize(t, 0)
	}()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "bad", Schema: searchSchema(4), Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Metric: "cosine"},
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(0)
	nan = nan / nan
	inf := float32(1e38)
	inf *= 10
	good := []float32{1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		q    Query
		want error
	}{
		{"wrong dimension", Query{Nearest: &NearestQuery{Column: "vec", Vector: []float32{1, 2, 3}, K: 10}}, ErrInvalidArgument},
		{"NaN", Query{Nearest: &NearestQuery{Column: "vec", Vector: []float32{1, nan, 3, 4}, K: 10}}, ErrInvalidArgument},
		{"Inf", Query{Nearest: &NearestQuery{Column: "vec", Vector: []float32{1, 2, inf, 4}, K: 10}}, ErrInvalidArgument},
		{"k zero", Query{Nearest: &NearestQuery{Column: "vec", Vector: good, K: 0}}, ErrInvalidArgument},
		{"k huge", Query{Nearest: &NearestQuery{Column: "vec", Vector: good, K: MaxK + 1}}, ErrInvalidArgument},
		{"unknown column", Query{Nearest: &NearestQuery{Column: "nope", Vector: good, K: 10}}, ErrNotFound},
		{"no ivf_pq index", Query{Nearest: &NearestQuery{Column: "text", Vector: good, K: 10}}, ErrInvalidArgument},
		{"other metric", Query{Nearest: &NearestQuery{Column: "vec", Vector: good, K: 10, Metric: "l2"}}, ErrInvalidArgument},
		{"zero vector under cosine", Query{Nearest: &NearestQuery{Column: "vec", Vector: []float32{0, 0, 0, 0}, K: 10}}, ErrInvalidArgument},
		{"pk and nearest", Query{PK: []any{1}, Nearest: &NearestQuery{Column: "vec", Vector: good, K: 10}}, ErrInvalidArgument},
		{"empty search", Query{Search: &SearchQuery{Query: "  ", K: 10}}, ErrInvalidArgument},
		{"search without fts index", Query{Search: &SearchQuery{Query: "x", Columns: []string{"vec"}, K: 10}}, ErrInvalidArgument},
		{"search unknown column", Query{Search: &SearchQuery{Query: "x", Columns: []string{"nope"}, K: 10}}, ErrNotFound},
		{"search bad operator", Query{Search: &SearchQuery{Query: "x", K: 10, Operator: "xor"}}, ErrInvalidArgument},
	} {
		if _, err := tbl.Prepare(tc.q); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// A good query on an empty table returns nothing, with the score column.
	p, err := tbl.Prepare(Query{Nearest: &NearestQuery{Column: "vec", Vector: good, K: 10, Metric: "cosine"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Schema(); s.Field(s.NumFields()-1).Name != DistanceColumn {
		t.Fatalf("schema %v lacks %s", s, DistanceColumn)
	}
	if hits := runSearch(t, tbl, mem, Query{Nearest: &NearestQuery{Vector: good, K: 10}}); len(hits) != 0 {
		t.Fatalf("empty table: %v", hits)
	}
}

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
