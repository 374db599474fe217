package fts

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentAddSearch runs one writer against readers that search,
// gather statistics and serialize while documents arrive. Each reader
// fixes a bound (Len at that moment) and must get exactly BruteForce's
// answer over the documents below it: no torn postings, no documents past
// the bound, no missing ones. Run with -race.
func TestConcurrentAddSearch(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	n := 3000
	if raceEnabled {
		n = 1500
	}
	docs := GenerateCorpus(n, 40, 51)
	ix := NewIndex(cfg)
	m := newQueryMaker(docs, 52)
	var queries []Query
	for _, tq := range m.queries(12) {
		if q, ok := tq.parse(t, cfg); ok {
			queries = append(queries, q)
		}
	}
	var done atomic.Bool
	var checks, during atomic.Int64 // checks, and those made mid-ingest
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !done.Load(); i++ {
				q := queries[i%len(queries)]
				bound := ix.Len()
				st := ix.TermStats(q.Terms(), bound, nil)
				got := ix.Search(q, st, 10, bound, nil)
				want := BruteForce(docs[:bound], nil, q, cfg, 10)
				if len(got) != len(want) {
					errs <- "result count differs"
					return
				}
				for j := range got {
					if got[j] != want[j] {
						errs <- "results differ"
						return
					}
				}
				if r == 0 && i%8 == 0 {
					b, err := ix.MarshalBinary()
					if err != nil {
						errs <- err.Error()
						return
					}
					ix2, err := UnmarshalIndex(b)
					if err != nil || ix2.Len() < bound {
						errs <- "sidecar taken during Add does not load"
						return
					}
				}
				checks.Add(1)
				if int(bound) < n {
					during.Add(1)
				}
			}
		}()
	}
	for i, d := range docs {
		if err := ix.Add(uint32(i), d); err != nil {
			t.Fatal(err)
		}
		if i%64 == 0 {
			runtime.Gosched() // interleave with the readers
		}
	}
	// Let readers check the final state too.
	for c := checks.Load(); checks.Load() < c+8; {
		select {
		case e := <-errs:
			t.Fatal(e)
		default:
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	t.Logf("%d checks, %d during ingest", checks.Load(), during.Load())
	if during.Load() < 10 {
		t.Fatalf("only %d checks ran during ingest", during.Load())
	}
}

// TestConcurrentAddsSerialize: Add from several goroutines is safe (it
// serializes itself); positions must still be increasing, so out-of-order
// ones fail cleanly.
func TestConcurrentAddsSerialize(t *testing.T) {
	ix := NewIndex(TokenizerConfig{})
	var next atomic.Uint32
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if err := ix.Add(next.Add(1)-1, "alpha beta"); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	docs, total := ix.DocStats(ix.Len(), nil)
	if docs+failed.Load() != 800 || total != 2*docs {
		t.Fatalf("%d docs, %d failed, total length %d", docs, failed.Load(), total)
	}
}
