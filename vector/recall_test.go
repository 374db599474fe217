package vector

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// recallCase measures recall@10 of Index.Search at default settings
// (DefaultParams, DefaultNProbes, DefaultRefineFactor) against FlatSearch
// on GenerateClustered data, with held-out queries.
type recallCase struct {
	rows, dim, clusters, queries int
	seed                         int64
}

type recallReport struct {
	params            Params
	train, add        time.Duration
	recall            float64
	indexP50, flatP50 time.Duration
}

func runRecall(t testing.TB, c recallCase) recallReport {
	all := GenerateClustered(c.rows+c.queries, c.dim, c.clusters, c.seed)
	data, queries := all[:c.rows*c.dim], all[c.rows*c.dim:]
	var rep recallReport
	rep.params = DefaultParams(c.dim, c.rows)

	start := time.Now()
	m := mustTrain(t, data, c.dim, rep.params, c.seed)
	rep.train = time.Since(start)

	start = time.Now()
	ix := NewIndex(m)
	for lo := 0; lo < c.rows; lo += 1000 {
		hi := min(lo+1000, c.rows)
		if err := ix.Add(uint32(lo), data[lo*c.dim:hi*c.dim]); err != nil {
			t.Fatal(err)
		}
	}
	rep.add = time.Since(start)

	// Ground truth, on every core; each query's flat search is timed
	// alone so that its latency is comparable with the index's.
	truth := make([][]Result, c.queries)
	flat := make([]time.Duration, c.queries)
	var wg sync.WaitGroup
	w := workers()
	for g := range w {
		wg.Go(func() {
			for q := g; q < c.queries; q += w {
				s := time.Now()
				truth[q], _ = FlatSearch(data, c.dim, queries[q*c.dim:(q+1)*c.dim], 10, L2, nil)
				flat[q] = time.Since(s)
			}
		})
	}
	wg.Wait()

	exact := exactFunc(data, c.dim)
	lat := make([]time.Duration, c.queries)
	var sum float64
	for q := range c.queries {
		s := time.Now()
		got, err := ix.Search(queries[q*c.dim:(q+1)*c.dim], SearchParams{K: 10, MaxPos: allPos, Exact: exact})
		lat[q] = time.Since(s)
		if err != nil {
			t.Fatal(err)
		}
		sum += recallAt(got, truth[q])
	}
	rep.recall = sum / float64(c.queries)
	slices.Sort(lat)
	slices.Sort(flat)
	rep.indexP50, rep.flatP50 = lat[len(lat)/2], flat[len(flat)/2]
	return rep
}

func checkRecall(t *testing.T, c recallCase) {
	if raceEnabled {
		t.Skip("numerics on large data: minutes under the race detector, and no concurrency to check")
	}
	rep := runRecall(t, c)
	t.Logf("%d x %d, %d clusters: params %+v", c.rows, c.dim, c.clusters, rep.params)
	t.Logf("train %v, add %v (%.0f vectors/s), recall@10 %.3f (nprobes %d, refine %d), p50 index %v vs flat %v (%.1fx)",
		rep.train.Round(time.Millisecond), rep.add.Round(time.Millisecond), float64(c.rows)/rep.add.Seconds(),
		rep.recall, DefaultNProbes, DefaultRefineFactor, rep.indexP50, rep.flatP50, float64(rep.flatP50)/float64(rep.indexP50))
	if rep.recall < 0.95 {
		t.Errorf("recall@10 %.3f < 0.95 at default settings", rep.recall)
	}
}

func TestRecall100kx128(t *testing.T) {
	checkRecall(t, recallCase{rows: 100_000, dim: 128, clusters: 100, queries: 100, seed: 1})
}

func TestRecall62kx1024(t *testing.T) {
	checkRecall(t, recallCase{rows: 62_000, dim: 1024, clusters: 100, queries: 100, seed: 2})
}
