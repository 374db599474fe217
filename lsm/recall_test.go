package lsm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// vecBatch is rows [lo, hi) of data as (id, vec, text null, cat).
func vecBatch(mem memory.Allocator, data []float32, dim int, lo, hi int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, searchSchema(dim))
	defer b.Release()
	vl := b.Field(1).(*array.FixedSizeListBuilder)
	vv := vl.ValueBuilder().(*array.Float32Builder)
	vv.Reserve((hi - lo) * dim)
	for i := lo; i < hi; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		vl.Append(true)
		vv.AppendValues(data[i*dim:(i+1)*dim], nil)
		b.Field(2).AppendNull()
		b.Field(3).(*array.Int64Builder).Append(int64(i % 7))
	}
	return b.NewRecordBatch()
}

// TestNearestRecall: at default settings (model trained after the default
// train_after rows with the default partitions, nprobes and refine_factor)
// recall@10 against exact search is at least 0.95 on seeded clustered
// data spread over the base table, a flushed generation and the active
// memtable. make test runs 100,000 x 128 and 16,000 x 1024; -lsm.full
// runs 62,000 x 1024 too (the size; several minutes on 2 cores).
func TestNearestRecall(t *testing.T) {
	sets := []struct{ rows, dim int }{{100000, 128}, {16000, 1024}}
	if *fullSearchSets {
		sets[1].rows = 62000
	}
	if testing.Short() || raceEnabled {
		t.Skip("builds indexes over 100,000 vectors (too slow under -short or -race)")
	}
	for _, set := range sets {
		t.Run(fmt.Sprintf("%dx%d", set.rows, set.dim), func(t *testing.T) {
			testRecall(t, set.rows, set.dim)
		})
	}
}

func testRecall(t *testing.T, rows, dim int) {
	ctx := context.Background()
	const queries, k = 100, 10
	db, mem := testDB(t, objstore.NewMem(), Options{CompactAfterGenerations: -1})
	defer func() {
		db.Close()
		mem.AssertSize(t, 0)
	}()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "r", Schema: searchSchema(dim), Indexes: []IndexDef{{Name: "v", Column: "vec", Type: "ivf_pq"}}})
	if err != nil {
		t.Fatal(err)
	}
	data := vector.GenerateClustered(rows+queries, dim, 64, 3)
	start := time.Now()
	put := func(lo, hi int) {
		for b := lo; b < hi; b += 2000 {
			rec := vecBatch(mem, data, dim, b, min(b+2000, hi))
			write(t, tbl, mem, rec, OpUpsert)
			rec.Release()
		}
	}
	put(0, rows*4/10)
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	put(rows*4/10, rows*7/10)
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	put(rows*7/10, rows)
	ingested := time.Since(start)
	waitIndexed(t, tbl)
	indexed := time.Since(start)
	model := tbl.idx.vecs[0].model.Load()

	var hits int
	var took time.Duration
	for qi := 0; qi < queries; qi++ {
		q := data[(rows+qi)*dim : (rows+qi+1)*dim]
		truth, err := vector.FlatSearch(data[:rows*dim], dim, q, k, vector.L2, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]bool{}
		for _, r := range truth {
			want[int64(r.Pos)] = true
		}
		t0 := time.Now()
		got := runSearch(t, tbl, mem, Query{Nearest: &NearestQuery{Vector: q, K: k}})
		took += time.Since(t0)
		for _, h := range got {
			if want[h.id] {
				hits++
			}
		}
	}
	recall := float64(hits) / float64(queries*k)
	t.Logf("%d x %d over base, generation and memtable: recall@%d %.3f (partitions %d, sub_vectors %d); ingest %v, indexed after %v; mean query %v",
		rows, dim, k, recall, model.Partitions(), model.SubVectors(), ingested.Round(time.Millisecond), indexed.Round(time.Millisecond), (took / queries).Round(time.Microsecond))
	if recall < 0.95 {
		t.Fatalf("recall@%d = %.3f, want >= 0.95", k, recall)
	}
}
