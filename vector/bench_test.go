package vector

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// Benchmarks. `make bench` runs them with -benchtime 3x; the custom
// metrics (ns/query, p50-ns, vectors/s, recall@10, x-vs-flat) carry the
// figures, independent of b.N.

// BenchmarkDistance times one query-to-row distance as flat search and
// refinement compute it (per-query work, the query norm for cosine, done
// once), and one ADC lookup sum per code length.
func BenchmarkDistance(b *testing.B) {
	for _, dim := range []int{128, 1024} {
		x, y := randVectors(1, dim, 1), randVectors(1, dim, 2)
		for _, m := range []Metric{L2, Dot, Cosine} {
			b.Run(fmt.Sprintf("%v/dim=%d", m, dim), func(b *testing.B) {
				d := newDistancer(m, x)
				var sink float32
				for b.Loop() {
					sink += d.distance(y)
				}
				_ = sink
			})
		}
	}
	for _, subs := range []int{16, 64, 128} {
		lut, code := randVectors(1, subs*256, 3), make([]byte, subs)
		for i := range code {
			code[i] = byte(i * 37)
		}
		b.Run(fmt.Sprintf("adc/sub_vectors=%d", subs), func(b *testing.B) {
			var sink float32
			for b.Loop() {
				sink += adcSum(lut, code)
			}
			_ = sink
		})
	}
}

// benchSet is a trained model and a full index over a recall dataset,
// built once per process and shared by the benchmarks.
type benchSet struct {
	c       recallCase
	data    []float32
	queries []float32
	model   *Model
	index   *Index
	truth   [][]Result
	train   time.Duration
}

var benchSets sync.Map // recallCase -> func() *benchSet

func getBenchSet(b *testing.B, c recallCase) *benchSet {
	f, _ := benchSets.LoadOrStore(c, sync.OnceValue(func() *benchSet {
		all := GenerateClustered(c.rows+c.queries, c.dim, c.clusters, c.seed)
		s := &benchSet{c: c, data: all[:c.rows*c.dim], queries: all[c.rows*c.dim:]}
		start := time.Now()
		m, err := Train(s.data, c.dim, DefaultParams(c.dim, c.rows), c.seed)
		if err != nil {
			panic(err)
		}
		s.train, s.model = time.Since(start), m
		s.index = NewIndex(m)
		if err := s.index.Add(0, s.data); err != nil {
			panic(err)
		}
		s.truth = make([][]Result, c.queries)
		for q := range c.queries {
			s.truth[q], _ = FlatSearch(s.data, c.dim, s.query(q), 10, L2, nil)
		}
		return s
	}))
	return f.(func() *benchSet)()
}

func (s *benchSet) query(q int) []float32 { return s.queries[q*s.c.dim : (q+1)*s.c.dim] }

var (
	bench128  = recallCase{rows: 100_000, dim: 128, clusters: 100, queries: 100, seed: 1}
	bench1024 = recallCase{rows: 62_000, dim: 1024, clusters: 100, queries: 100, seed: 2}
)

// BenchmarkSearch times k=10 searches at default settings (one op = every
// query of the set, one after another), against FlatSearch on the same
// data in the same run.
func BenchmarkSearch(b *testing.B) {
	for _, c := range []recallCase{bench128, bench1024} {
		name := fmt.Sprintf("%dx%d", c.rows, c.dim)
		b.Run("ivfpq/"+name, func(b *testing.B) {
			s := getBenchSet(b, c)
			exact := exactFunc(s.data, c.dim)
			// Flat latency on a few queries, in this run.
			var flat []time.Duration
			for q := range 10 {
				start := time.Now()
				FlatSearch(s.data, c.dim, s.query(q), 10, L2, nil)
				flat = append(flat, time.Since(start))
			}
			var lat []time.Duration
			var recall float64
			b.ResetTimer()
			for b.Loop() {
				recall = 0
				for q := range c.queries {
					start := time.Now()
					got, err := s.index.Search(s.query(q), SearchParams{K: 10, MaxPos: allPos, Exact: exact})
					lat = append(lat, time.Since(start))
					if err != nil {
						b.Fatal(err)
					}
					recall += recallAt(got, s.truth[q])
				}
			}
			p50, flatP50 := median(lat), median(flat)
			b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(flatP50.Nanoseconds()), "flat-p50-ns")
			b.ReportMetric(float64(flatP50)/float64(p50), "x-vs-flat")
			b.ReportMetric(recall/float64(c.queries), "recall@10")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.queries), "ns/query")
		})
		b.Run("flat/"+name, func(b *testing.B) {
			s := getBenchSet(b, c)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				FlatSearch(s.data, c.dim, s.query(i%c.queries), 10, L2, nil)
				lat = append(lat, time.Since(start))
			}
			b.ReportMetric(float64(median(lat).Nanoseconds()), "p50-ns")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkAdd measures indexing throughput at 1024 dimensions with the
// model of the 62,000-row set, in batches of 1,000 (parallel encoding)
// and of 1 (a single writer's smallest append).
func BenchmarkAdd(b *testing.B) {
	for _, batch := range []int{1000, 1} {
		b.Run(fmt.Sprintf("dim=1024/batch=%d", batch), func(b *testing.B) {
			s := getBenchSet(b, bench1024)
			ix := NewIndex(s.model)
			dim := s.c.dim
			b.ResetTimer()
			pos := 0
			for b.Loop() {
				lo := pos % (s.c.rows - batch)
				if err := ix.Add(uint32(pos), s.data[lo*dim:(lo+batch)*dim]); err != nil {
					b.Fatal(err)
				}
				pos += batch
			}
			b.ReportMetric(float64(pos)/b.Elapsed().Seconds(), "vectors/s")
		})
	}
}

// BenchmarkTrain times Train at DefaultParams (one op = one model).
func BenchmarkTrain(b *testing.B) {
	for _, c := range []recallCase{bench128, bench1024} {
		b.Run(fmt.Sprintf("%dx%d", c.rows, c.dim), func(b *testing.B) {
			data := GenerateClustered(c.rows, c.dim, c.clusters, c.seed)
			p := DefaultParams(c.dim, c.rows)
			b.ResetTimer()
			for b.Loop() {
				if _, err := Train(data, c.dim, p, c.seed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/model")
		})
	}
}
