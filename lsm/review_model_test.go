package lsm

import (
	"context"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

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
