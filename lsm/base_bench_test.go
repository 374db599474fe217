package lsm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// baseTable creates a table whose base Lance dataset holds rows ids
// 0..rows-1 in fragments of fragRows rows (appended one commit each, as a
// stream of small appends would leave it), and opens it.
func baseTable(b *testing.B, rows, fragRows, dim int) (*DB, *Table) {
	b.Helper()
	ctx := context.Background()
	store, err := objstore.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(ctx, store, testOptions(Options{Logger: discardLogger(), CompactAfterGenerations: -1}))
	if err != nil {
		b.Fatal(err)
	}
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "base", Schema: datagen.Schema(dim)})
	if err != nil {
		b.Fatal(err)
	}
	ds := tbl.base.Load().ds
	mem := memory.DefaultAllocator
	for first := 0; first < rows; first += fragRows {
		rec := datagen.Batch(mem, dim, 1, int64(first), int64(min(fragRows, rows-first)))
		nf, err := lance.WriteFragment(ctx, store, "base.lance", tbl.schema, []arrow.RecordBatch{rec})
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
		if ds, err = ds.Commit(ctx, store, lance.Transaction{NewFragments: []lance.NewFragment{nf}}); err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	db, err = Open(ctx, store, testOptions(Options{Logger: discardLogger(), CompactAfterGenerations: -1}))
	if err != nil {
		b.Fatal(err)
	}
	if tbl, err = db.Table(ctx, "base"); err != nil {
		b.Fatal(err)
	}
	if got := len(tbl.base.Load().ds.Fragments()); got != (rows+fragRows-1)/fragRows {
		b.Fatalf("%d fragments", got)
	}
	return db, tbl
}

func runQuery(b *testing.B, tbl *Table, q Query) int64 {
	p, err := tbl.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	s := tbl.Snapshot()
	defer s.Release()
	var n int64
	if err := s.Run(context.Background(), memory.DefaultAllocator, p, func(r arrow.RecordBatch) error { n += r.NumRows(); return nil }); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkBaseLookup: a primary-key lookup in a base table of 620
// fragments (62,000 rows appended 100 at a time) against one fragment, and
// both against a full scan of the same table. The Lance project measured
// 2.86 ms (1 fragment) and 67.3 ms (620 fragments), a 23x gap.
func BenchmarkBaseLookup(b *testing.B) {
	const rows, dim = 62_000, 1024
	type arrangement struct {
		name     string
		fragRows int
	}
	var lookupNs [2]float64
	for i, a := range []arrangement{{"1fragment", rows}, {"620fragments", 100}} {
		b.Run(a.name, func(b *testing.B) {
			db, tbl := baseTable(b, rows, a.fragRows, dim)
			defer db.Close()
			// The primary-key index is built once per base version.
			if n := runQuery(b, tbl, Query{PK: []any{int64(7)}}); n != 1 {
				b.Fatalf("lookup found %d rows", n)
			}
			scanStart := time.Now()
			if n := runQuery(b, tbl, Query{}); n != rows {
				b.Fatalf("scan returned %d rows", n)
			}
			scan := time.Since(scanStart)
			// Steady state: a server's file-metadata cache is warm. Touch
			// every fragment once (the cold first lookups are reported
			// apart).
			coldStart := time.Now()
			for id := 0; id < rows; id += a.fragRows {
				runQuery(b, tbl, Query{PK: []any{int64(id)}})
			}
			cold := time.Since(coldStart) / time.Duration((rows+a.fragRows-1)/a.fragRows)
			b.ResetTimer()
			for j := 0; j < b.N; j++ {
				id := int64(j*7919) % rows
				if n := runQuery(b, tbl, Query{PK: []any{id}}); n != 1 {
					b.Fatalf("lookup of %d found %d rows", id, n)
				}
			}
			b.StopTimer()
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			lookupNs[i] = per
			b.ReportMetric(per/1e3, "lookup-us")
			b.ReportMetric(float64(cold.Microseconds()), "cold-lookup-us")
			b.ReportMetric(float64(scan.Microseconds()), "scan-us")
			b.ReportMetric(per/float64(scan.Nanoseconds()), "lookup/scan")
			if i == 1 && lookupNs[0] > 0 {
				b.ReportMetric(lookupNs[1]/lookupNs[0], "620frag/1frag")
			}
		})
	}
	fmt.Printf("BenchmarkBaseLookup: 620-fragment lookup / 1-fragment lookup = %.2f\n", lookupNs[1]/lookupNs[0])
}
