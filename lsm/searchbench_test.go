package lsm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// Benchmarks of the search issues (run with -bench; figures in the
// README): nearest and search on a 62,000-row memtable against exact
// search in the same run, and ingest with and without the indexes.

// searchBenchDB opens a DB whose memtables hold the whole data set.
func searchBenchDB(b *testing.B) (*DB, *memory.CheckedAllocator) {
	b.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	db, err := Open(context.Background(), objstore.NewMem(), testOptions(Options{
		Allocator: mem, Logger: discardLogger(),
		MemTableMaxBytes: 4 << 30, MaxUnflushedBytes: 8 << 30, CompactAfterGenerations: -1,
	}))
	if err != nil {
		b.Fatal(err)
	}
	return db, mem
}

func benchWrite(b *testing.B, tbl *Table, mem memory.Allocator, rec arrow.RecordBatch) {
	w, err := tbl.NewWriter(rec.Schema(), OpUpsert)
	if err != nil {
		b.Fatal(err)
	}
	res, err := w.Write(context.Background(), mem, rec)
	if err != nil {
		b.Fatal(err)
	}
	if err := tbl.WaitDurable(context.Background(), res); err != nil {
		b.Fatal(err)
	}
}

func p50(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func benchSearch(b *testing.B, tbl *Table, mem memory.Allocator, q Query) []hit {
	p, err := tbl.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	s := tbl.Snapshot()
	defer s.Release()
	var out []hit
	err = s.Run(context.Background(), mem, p, func(rec arrow.RecordBatch) error {
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			out = append(out, hit{id: ids.Value(i)})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkNearestMemtable: 62,000 x 1024 clustered vectors in one
// memtable, indexed; nearest k=10 at default settings against exact
// FlatSearch over the same vectors, p50 of each, and recall@10.
func BenchmarkNearestMemtable(b *testing.B) {
	const rows, dim, queries, k = 62000, 1024, 50, 10
	db, mem := searchBenchDB(b)
	defer func() {
		db.Close()
		mem.AssertSize(b, 0)
	}()
	tbl, err := db.CreateTable(context.Background(), TableSpec{Name: "nb", Schema: searchSchema(dim), Indexes: []IndexDef{{Name: "v", Column: "vec", Type: "ivf_pq"}}})
	if err != nil {
		b.Fatal(err)
	}
	data := vector.GenerateClustered(rows+queries, dim, 64, 5)
	for lo := 0; lo < rows; lo += 1000 {
		rec := vecBatch(mem, data, dim, lo, min(lo+1000, rows))
		benchWrite(b, tbl, mem, rec)
		rec.Release()
	}
	waitIndexed(b, tbl)
	b.ResetTimer()
	var idx, exact []time.Duration
	var found int
	for it := 0; it < b.N; it++ {
		for qi := 0; qi < queries; qi++ {
			q := data[(rows+qi)*dim : (rows+qi+1)*dim]
			t0 := time.Now()
			truth, err := vector.FlatSearch(data[:rows*dim], dim, q, k, vector.L2, nil)
			if err != nil {
				b.Fatal(err)
			}
			exact = append(exact, time.Since(t0))
			t0 = time.Now()
			got := benchSearch(b, tbl, mem, Query{Columns: []string{"id"}, Nearest: &NearestQuery{Vector: q, K: k}})
			idx = append(idx, time.Since(t0))
			want := map[int64]bool{}
			for _, r := range truth {
				want[int64(r.Pos)] = true
			}
			for _, h := range got {
				if want[h.id] {
					found++
				}
			}
		}
	}
	b.StopTimer()
	recall := float64(found) / float64(b.N*queries*k)
	b.ReportMetric(float64(p50(idx).Microseconds())/1000, "nearest_p50_ms")
	b.ReportMetric(float64(p50(exact).Microseconds())/1000, "exact_p50_ms")
	b.ReportMetric(float64(p50(exact))/float64(p50(idx)), "speedup")
	b.ReportMetric(recall, "recall@10")
}

// BenchmarkSearchMemtable: 62,000 generated documents of ~100 words in one
// memtable, indexed; a 2-term query (BM25 over the snapshot) against
// fts.BruteForce over the same documents, p50 of each.
func BenchmarkSearchMemtable(b *testing.B) {
	const rows = 62000
	db, mem := searchBenchDB(b)
	defer func() {
		db.Close()
		mem.AssertSize(b, 0)
	}()
	tbl, err := db.CreateTable(context.Background(), TableSpec{Name: "sb", Schema: searchSchema(4), Indexes: []IndexDef{{Name: "t", Column: "text", Type: "fts"}}})
	if err != nil {
		b.Fatal(err)
	}
	docs := fts.GenerateCorpus(rows, 100, 9)
	live := map[int64]srow{}
	ids := make([]int64, 0, 1000)
	for lo := 0; lo < rows; lo += 1000 {
		ids = ids[:0]
		for i := lo; i < min(lo+1000, rows); i++ {
			live[int64(i)] = srow{text: docs[i]}
			ids = append(ids, int64(i))
		}
		rec := searchBatch(mem, 4, ids, live)
		benchWrite(b, tbl, mem, rec)
		rec.Release()
	}
	waitIndexed(b, tbl)
	cfg := tbl.idx.texts[0].cfg
	r := rand.New(rand.NewPCG(1, 2))
	var queries []string
	for len(queries) < 20 {
		var ws []string
		for _, w := range strings.Fields(strings.NewReplacer(".", " ", ",", " ").Replace(docs[r.IntN(rows)])) {
			if len(cfg.Tokenize(w)) == 1 {
				ws = append(ws, w)
			}
		}
		if len(ws) >= 2 {
			queries = append(queries, ws[r.IntN(len(ws))]+" "+ws[r.IntN(len(ws))])
		}
	}
	b.ResetTimer()
	var idx, brute []time.Duration
	for it := 0; it < b.N; it++ {
		for qi, text := range queries {
			t0 := time.Now()
			benchSearch(b, tbl, mem, Query{Columns: []string{"id"}, Search: &SearchQuery{Query: text, K: 10}})
			idx = append(idx, time.Since(t0))
			if qi < 3 { // the brute-force scorer takes seconds
				q, err := fts.ParseQuery(text, cfg)
				if err != nil {
					b.Fatal(err)
				}
				t0 = time.Now()
				fts.BruteForce(docs, nil, q, cfg, 10)
				brute = append(brute, time.Since(t0))
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(p50(idx).Microseconds())/1000, "search_p50_ms")
	b.ReportMetric(float64(p50(brute).Microseconds())/1000, "bruteforce_p50_ms")
	b.ReportMetric(float64(p50(brute))/float64(p50(idx)), "speedup")
}

// BenchmarkIngestIndexes: durable ingest (batches of 1,000 rows, written
// and awaited one after another) of 62,000 rows of (id, 128-dim vector,
// ~100-word text) into a table without indexes, with an ivf_pq index
// (trained at 8,192 rows), with an fts index, and with both. rows/s is the
// acknowledged-ingest rate; indexed_s is how long after the first write
// every row was also indexed (the indexer runs behind, off the write
// path).
func BenchmarkIngestIndexes(b *testing.B) {
	const rows, dim = 62000, 128
	data := vector.GenerateClustered(rows, dim, 64, 5)
	docs := fts.GenerateCorpus(rows, 100, 9)
	batches := func(mem memory.Allocator) []arrow.RecordBatch {
		var out []arrow.RecordBatch
		for lo := 0; lo < rows; lo += 1000 {
			rec := vecBatch(mem, data, dim, lo, min(lo+1000, rows))
			tb := array.NewStringBuilder(mem)
			for i := lo; i < min(lo+1000, rows); i++ {
				tb.Append(docs[i])
			}
			text := tb.NewArray()
			tb.Release()
			cols := append([]arrow.Array(nil), rec.Columns()...)
			cols[2] = text
			out = append(out, array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()))
			text.Release()
			rec.Release()
		}
		return out
	}
	for _, cfg := range []struct {
		name    string
		indexes []IndexDef
	}{
		{"none", nil},
		{"ivf_pq", []IndexDef{{Name: "v", Column: "vec", Type: "ivf_pq"}}},
		{"fts", []IndexDef{{Name: "t", Column: "text", Type: "fts"}}},
		{"both", []IndexDef{{Name: "v", Column: "vec", Type: "ivf_pq"}, {Name: "t", Column: "text", Type: "fts"}}},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			var ingest, indexed time.Duration
			for it := 0; it < b.N; it++ {
				b.StopTimer()
				db, mem := searchBenchDB(b)
				recs := batches(mem)
				tbl, err := db.CreateTable(context.Background(), TableSpec{Name: fmt.Sprintf("i%d", it), Schema: searchSchema(dim), Indexes: cfg.indexes})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				for _, rec := range recs {
					benchWrite(b, tbl, mem, rec)
				}
				ingest += time.Since(t0)
				b.StopTimer()
				waitIndexed(b, tbl)
				indexed += time.Since(t0)
				for _, r := range recs {
					r.Release()
				}
				db.Close()
				mem.AssertSize(b, 0)
			}
			b.ReportMetric(float64(b.N*rows)/ingest.Seconds(), "rows/s")
			b.ReportMetric(indexed.Seconds()/float64(b.N), "indexed_s")
		})
	}
}
