package fts

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// The benchmark layer: 62,000 documents of about 100 words in one Index,
// built once per process.
const benchDocs, benchWords = 62000, 100

var benchFixture = sync.OnceValues(func() ([]string, *Index) {
	docs := GenerateCorpus(benchDocs, benchWords, 42)
	ix := NewIndex(DefaultTokenizerConfig())
	for i, d := range docs {
		if err := ix.Add(uint32(i), d); err != nil {
			panic(err)
		}
	}
	return docs, ix
})

// benchQueries are the benchmarked queries: two-term ORs at three
// frequency levels, an AND, a phrase.
var benchQueries = []struct {
	name, q string
	op      Operator
}{
	{"or2-top", "you he", Or},            // df ≈ 70%, 62% of documents: worst case
	{"or2-frequent", "water people", Or}, // df ≈ 10%
	{"or2-mid", "picture running", Or},   // df ≈ 4%, 8%
	{"or2-rare", "wai fearnongchea", Or}, // df ≈ 0.7%, 0.3%
	{"and2-frequent", "water people", And},
	{"phrase2", `"mother earth"`, Or},
}

// latencies records per-operation durations to report percentiles.
type latencies []time.Duration

func (l latencies) p50() time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSearch compares Index.Search with BruteForce, top 10, on the
// benchmark layer; both report p50 latency, and BruteForce the speedup.
func BenchmarkSearch(b *testing.B) {
	docs, ix := benchFixture()
	cfg := ix.Config()
	for _, bq := range benchQueries {
		q, err := ParseQuery(bq.q, cfg, WithOperator(bq.op))
		if err != nil {
			b.Fatal(err)
		}
		st := ix.TermStats(q.Terms(), ix.Len(), nil)
		if got, want := ix.Search(q, st, 10, ix.Len(), nil), BruteForce(docs, nil, q, cfg, 10); !slices.Equal(got, want) || len(got) == 0 {
			b.Fatalf("%s: %v != %v", bq.name, got, want)
		}
		var indexP50 time.Duration
		b.Run(bq.name+"/index", func(b *testing.B) {
			lat := make(latencies, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				st := ix.TermStats(q.Terms(), ix.Len(), nil)
				ix.Search(q, st, 10, ix.Len(), nil)
				lat = append(lat, time.Since(t0))
			}
			indexP50 = lat.p50()
			b.ReportMetric(float64(indexP50.Nanoseconds())/1e3, "p50-µs")
			for _, t := range q.Terms() {
				b.ReportMetric(float64(st.DF[t]), "df-"+t)
			}
		})
		b.Run(bq.name+"/bruteforce", func(b *testing.B) {
			lat := make(latencies, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				BruteForce(docs, nil, q, cfg, 10)
				lat = append(lat, time.Since(t0))
			}
			p50 := lat.p50()
			b.ReportMetric(float64(p50.Nanoseconds())/1e3, "p50-µs")
			if indexP50 > 0 {
				b.ReportMetric(float64(p50)/float64(indexP50), "x-slower")
			}
		})
	}
}

// BenchmarkSearchLive is the or2-frequent search of a layer with a third of
// its rows dead, statistics and search both filtered through a live
// predicate; and the statistics alone, through the predicate (O(rows))
// and through TermStatsExcept with a roaring bitmap of the dead rows
// (O(dead)), with a third and with 1% of the rows dead.
func BenchmarkSearchLive(b *testing.B) {
	_, ix := benchFixture()
	q, _ := ParseQuery(benchQueries[1].q, ix.Config())
	dead := roaring.New()
	for p := uint32(0); p < ix.Len(); p += 3 {
		dead.Add(p)
	}
	allow := func(p uint32) bool { return p%3 != 0 }
	b.Run("predicate", func(b *testing.B) {
		for b.Loop() {
			st := ix.TermStats(q.Terms(), ix.Len(), allow)
			ix.Search(q, st, 10, ix.Len(), allow)
		}
	})
	b.Run("stats-predicate", func(b *testing.B) {
		for b.Loop() {
			ix.TermStats(q.Terms(), ix.Len(), allow)
		}
	})
	b.Run("stats-bitmap", func(b *testing.B) {
		for b.Loop() {
			ix.TermStatsExcept(q.Terms(), ix.Len(), dead)
		}
	})
	few := roaring.New() // 1% dead
	for p := uint32(0); p < ix.Len(); p += 100 {
		few.Add(p)
	}
	allowFew := func(p uint32) bool { return p%100 != 0 }
	b.Run("stats-predicate-1pct-dead", func(b *testing.B) {
		for b.Loop() {
			ix.TermStats(q.Terms(), ix.Len(), allowFew)
		}
	})
	b.Run("stats-bitmap-1pct-dead", func(b *testing.B) {
		for b.Loop() {
			ix.TermStatsExcept(q.Terms(), ix.Len(), few)
		}
	})
}

// BenchmarkAdd builds the benchmark layer from scratch: docs/s and MB/s of
// text indexed, and the index's memory per document.
func BenchmarkAdd(b *testing.B) {
	docs, _ := benchFixture()
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	for _, tc := range []struct {
		name string
		cfg  TokenizerConfig
	}{{"default", DefaultTokenizerConfig()}, {"plain", TokenizerConfig{}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			var ix *Index
			for b.Loop() {
				ix = NewIndex(tc.cfg)
				for i, d := range docs {
					if err := ix.Add(uint32(i), d); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(docs))/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(ix.MemBytes())/float64(len(docs)), "index-B/doc")
			b.ReportMetric(float64(size)/float64(len(docs)), "text-B/doc")
		})
	}
}

// BenchmarkSidecar encodes and decodes the benchmark layer's sidecar.
func BenchmarkSidecar(b *testing.B) {
	_, ix := benchFixture()
	data, err := ix.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("marshal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := ix.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data))/benchDocs, "sidecar-B/doc")
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := UnmarshalIndex(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
