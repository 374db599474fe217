package lsm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// TestSidecarOfAnotherFragment: a sidecar that indexes positions beyond
// its fragment's rows (here: the base fragment's sidecars, 600 rows,
// stored over a 100-row generation's) is unusable: it is rebuilt, and
// queries stay exact. It used to be loaded as is: nearest then looked up
// the keys of rows the fragment does not have and panicked (index out of
// range: a crash of the server), and search scored rows that do not exist.
func TestSidecarOfAnotherFragment(t *testing.T) {
	ctx := context.Background()
	const dim = 8
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "sc", Schema: searchSchema(dim), Indexes: []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 4, TrainAfter: 100},
		{Name: "t", Column: "text", Type: "fts"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	data := vector.GenerateClustered(700, dim, 5, 7)
	m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
	rows := func(lo, hi int64, text string) map[int64]srow {
		out := map[int64]srow{}
		for i := lo; i < hi; i++ {
			out[i] = srow{vec: data[i*dim : (i+1)*dim], text: text}
		}
		return out
	}
	m.upsert(rows(0, 600, "hello world"))
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	m.upsert(rows(600, 700, "hello apple"))
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, tbl)
	db.Close()
	mem.AssertSize(t, 0)

	objs, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	base, gen := map[string]string{}, map[string]string{}
	for _, o := range objs {
		for _, ext := range []string{".ivfpq", ".fts"} {
			if strings.HasSuffix(o.Key, ext) && strings.Contains(o.Key, "_gen_") {
				gen[ext] = o.Key
			} else if strings.HasSuffix(o.Key, ext) {
				base[ext] = o.Key
			}
		}
	}
	for _, ext := range []string{".ivfpq", ".fts"} {
		if base[ext] == "" || gen[ext] == "" {
			t.Fatalf("sidecars %s not found: %v %v", ext, base, gen)
		}
		b, err := store.Get(ctx, base[ext])
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, gen[ext], b); err != nil {
			t.Fatal(err)
		}
	}

	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer func() {
		db2.Close()
		mem2.AssertSize(t, 0)
	}()
	tbl2, err := db2.Table(ctx, "sc")
	if err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		cfg := tbl2.idx.texts[0].cfg
		for _, text := range []string{"apple", "hello"} {
			fq, err := fts.ParseQuery(text, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tryRunSearch(tbl2, mem2, Query{Search: &SearchQuery{Query: text, K: 5}})
			if err != nil {
				t.Fatalf("%s: search %q: %v", stage, text, err)
			}
			if d := sameHits(ftsTruth(m.live, fq, cfg, 5, nil), got, 1e-6); d != "" {
				t.Fatalf("%s: search %q: %s", stage, text, d)
			}
		}
		for _, i := range []int64{5, 650, 699} {
			q := data[i*dim : (i+1)*dim]
			got, err := tryRunSearch(tbl2, mem2, Query{Nearest: &NearestQuery{Vector: q, K: 5, NProbes: 4, RefineFactor: 100}})
			if err != nil {
				t.Fatalf("%s: nearest: %v", stage, err)
			}
			if d := sameHits(exactNearest(m.live, q, 5, vector.L2, nil), got, 1e-6); d != "" {
				t.Fatalf("%s: nearest: %s", stage, d)
			}
		}
	}
	check("sidecars of another fragment")
	waitIndexed(t, tbl2)
	check("rebuilt")
}

// TestUnusableModelKeepsTableOpen: a stored ivf_pq model that is corrupt,
// or of another dimension, concerns one index, not the table's data. The
// table used to refuse to open ("the model of index is unreadable"): no
// reads, no writes, no WAL replay of acknowledged rows. It now opens, its
// index is searched exactly, and no other model is trained over it.
func TestUnusableModelKeepsTableOpen(t *testing.T) {
	ctx := context.Background()
	const dim = 4
	other, err := vector.Train(vector.GenerateClustered(64, 8, 4, 1), 8, vector.Params{Partitions: 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	otherDim, err := other.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{"corrupt": []byte("garbage"), "other dimension": otherDim} {
		t.Run(name, func(t *testing.T) {
			store := objstore.NewMem()
			db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
			tbl, err := db.CreateTable(ctx, TableSpec{Name: "cm", Schema: searchSchema(dim), Indexes: []IndexDef{
				{Name: "v", Column: "vec", Type: "ivf_pq", Partitions: 2, TrainAfter: 50},
			}})
			if err != nil {
				t.Fatal(err)
			}
			m := &searchModel{t: t, tbl: tbl, mem: mem, dim: dim, live: map[int64]srow{}}
			rows := func(lo, hi int64) map[int64]srow {
				out := map[int64]srow{}
				for i := lo; i < hi; i++ {
					out[i] = srow{vec: []float32{float32(i % 13), 1, float32(i % 7), 3}}
				}
				return out
			}
			m.upsert(rows(0, 100))
			waitIndexed(t, tbl)
			if _, err := tbl.Flush(ctx, -1); err != nil {
				t.Fatal(err)
			}
			waitIndexed(t, tbl)
			m.upsert(rows(50, 150)) // in the WAL: replayed at open
			db.Close()
			mem.AssertSize(t, 0)
			if err := store.Put(ctx, "cm.lance/"+indexDir+"/v.model", bad); err != nil {
				t.Fatal(err)
			}

			db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
			defer func() {
				db2.Close()
				mem2.AssertSize(t, 0)
			}()
			tbl2, err := db2.Table(ctx, "cm")
			if err != nil {
				t.Fatalf("the table does not open: %v", err)
			}
			m.tbl, m.mem = tbl2, mem2
			m.upsert(rows(140, 300))
			time.Sleep(50 * time.Millisecond) // a training would start now
			if tbl2.idx.vecs[0].model.Load() != nil || tbl2.idx.vecs[0].training.Load() {
				t.Fatal("a model is used or trained over the stored one")
			}
			for _, i := range []int64{3, 77, 290} {
				q := []float32{float32(i % 13), 1, float32(i % 7), 3.5}
				got := runSearch(t, tbl2, mem2, Query{Nearest: &NearestQuery{Vector: q, K: 7}})
				if d := sameHits(exactNearest(m.live, q, 7, vector.L2, nil), got, 1e-6); d != "" {
					t.Fatal(d)
				}
			}
		})
	}
}
