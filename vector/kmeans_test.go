package vector

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// separated returns n points around k far-apart centres (centre j is
// 100*j on every axis) and the centres.
func separated(n, k, dim int, seed uint64) (data, centres []float32) {
	rng := rand.New(rand.NewPCG(seed, 0))
	centres = make([]float32, k*dim)
	for j := range k {
		for d := range dim {
			centres[j*dim+d] = float32(100 * j * (1 - 2*(d%2)))
		}
	}
	data = make([]float32, n*dim)
	for i := range n {
		j := i % k
		for d := range dim {
			data[i*dim+d] = centres[j*dim+d] + float32(rng.NormFloat64())
		}
	}
	return data, centres
}

func TestKmeansFindsSeparatedClusters(t *testing.T) {
	const dim, k = 8, 6
	data, centres := separated(600, k, dim, 1)
	got := kmeans(data, dim, k, 20, rand.New(rand.NewPCG(1, 2)), 2)
	// Every true centre has a centroid within 0.5 (the mean of 100 unit
	// Gaussians is within ~0.1 per axis).
	for j := range k {
		best := inf32()
		for c := range k {
			best = min(best, l2sq(centres[j*dim:(j+1)*dim], got[c*dim:(c+1)*dim]))
		}
		if best > 0.25 {
			t.Errorf("centre %d: nearest centroid at squared distance %v", j, best)
		}
	}
}

func TestKmeansDeterministic(t *testing.T) {
	data := GenerateClustered(3000, 40, 12, 3)
	run := func(w int, bounds uint64) []float32 {
		return runKmeans(data, 40, 30, 15, rand.New(rand.NewPCG(7, 7)), w, bounds)
	}
	a := run(1, maxElkanBounds)
	if b := run(2, maxElkanBounds); !slices.Equal(a, b) {
		t.Error("result depends on the number of workers")
	}
	if b := run(3, maxElkanBounds); !slices.Equal(a, b) {
		t.Error("result depends on the number of workers")
	}
	// Elkan's bounds only skip distance computations that cannot change
	// an assignment, so plain Lloyd converges to the same centroids (up
	// to float rounding in near-ties, which these data do not have).
	plain := run(2, 0)
	var worst float32
	for j := range 30 {
		worst = max(worst, l2sq(a[j*40:(j+1)*40], plain[j*40:(j+1)*40]))
	}
	if worst > 1e-6 {
		t.Errorf("Elkan and Lloyd centroids differ by up to %v", worst)
	}
}

func TestKmeansSmallInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	// k >= n: every point is a centroid, cycled.
	data := []float32{1, 2, 3, 4, 5, 6}
	got := kmeans(data, 2, 5, 10, rng, 1)
	want := []float32{1, 2, 3, 4, 5, 6, 1, 2, 3, 4}
	if !slices.Equal(got, want) {
		t.Errorf("k >= n: %v, want %v", got, want)
	}
	// Heavy duplicates: k-means++ runs out of distinct points and
	// clusters go empty; every centroid must still be finite and every
	// distinct point must be a centroid.
	dup := make([]float32, 0, 200)
	for i := range 100 {
		dup = append(dup, float32(i%3), 0)
	}
	got = kmeans(dup, 2, 8, 10, rng, 2)
	if err := CheckVectors(got, 2); err != nil {
		t.Fatal(err)
	}
	for _, v := range []float32{0, 1, 2} {
		found := false
		for j := range 8 {
			found = found || (got[2*j] == v && got[2*j+1] == 0)
		}
		if !found {
			t.Errorf("point (%v, 0) is not a centroid: %v", v, got)
		}
	}
}

func TestKmeansReseedsEmptyClusters(t *testing.T) {
	// Two tight groups far apart plus one outlier; with 3 centroids
	// k-means must give the outlier its own centroid eventually, and no
	// centroid may be left without points.
	data := []float32{}
	for i := range 50 {
		data = append(data, float32(i%5)*0.01, 0)
		data = append(data, 10+float32(i%5)*0.01, 0)
	}
	data = append(data, 1000, 1000)
	got := kmeans(data, 2, 3, 20, rand.New(rand.NewPCG(2, 2)), 1)
	c := newCentroids(3, 2, got)
	counts := make([]int, 3)
	scratch := make([]float32, 3)
	for i := range len(data) / 2 {
		counts[c.nearest(data[2*i:2*i+2], scratch)]++
	}
	if slices.Contains(counts, 0) {
		t.Errorf("a centroid has no points: counts %v, centroids %v", counts, got)
	}
}
