package vector

import (
	"math"
	"math/rand/v2"
	"slices"
)

// maxElkanBounds bounds the per-(point, centroid) lower bounds Elkan's
// algorithm keeps (n*k float32s, 64 MiB); larger runs use plain Lloyd.
const maxElkanBounds = 1 << 24

// kmeans clusters the n = len(data)/dim points of data (row-major) into k
// centroids and returns them (k*dim, row-major). It is the one clustering
// routine of the package: IVF centroids and every PQ codebook come from it.
//
//   - Seeding is k-means++ (D^2 sampling) from rng, so a seed fixes the
//     result. With k >= n every point becomes a centroid (cycled).
//   - Lloyd iterations use Elkan's triangle-inequality bounds while n*k
//     fits maxElkanBounds (else plain full scans): each point keeps an
//     upper bound on the distance to its centroid and a lower bound per
//     other centroid, and computes a distance only where the bounds cannot
//     rule the centroid out. Once the centroids settle, an iteration
//     computes few distances. (Hamerly's single lower bound was measured
//     useless here: in high dimension the second-nearest centroid is
//     almost as near as the nearest.)
//   - It stops after maxIters centroid updates, or once at most n/1000
//     points changed cluster in an iteration.
//   - An empty cluster is re-seeded at the point farthest from its own
//     centroid (by upper bound), so no centroid is wasted.
//
// The assignment passes run on w goroutines over disjoint points and the
// centroid sums run in point order, so the result does not depend on w.
func kmeans(data []float32, dim, k, maxIters int, rng *rand.Rand, w int) []float32 {
	return runKmeans(data, dim, k, maxIters, rng, w, maxElkanBounds)
}

// runKmeans is kmeans with the Elkan memory bound as a parameter (tests
// compare both paths).
func runKmeans(data []float32, dim, k, maxIters int, rng *rand.Rand, w int, elkanBounds uint64) []float32 {
	n := len(data) / dim
	if k >= n {
		out := make([]float32, k*dim)
		for j := range k {
			copy(out[j*dim:(j+1)*dim], data[(j%n)*dim:])
		}
		return out
	}
	km := &kmeansState{data: data, dim: dim, n: n, k: k, w: w}
	km.seed(rng, elkanBounds)
	km.assignAll()
	for it := 1; ; it++ {
		km.update()
		if it >= maxIters || km.changed <= n/1000 {
			break
		}
		km.reassign()
	}
	return km.c.data
}

type kmeansState struct {
	data    []float32
	dim     int
	n, k, w int
	c       *centroids
	assign  []int32
	upper   []float32   // upper bound of |x_i - c_assign(i)|
	lower   []float32   // Elkan only: lower bound of |x_i - c_j| at i*k+j
	cc      []float32   // Elkan only: |c_j - c_o| / 2 at j*k+o
	half    []float32   // Elkan only: half the distance from c_j to its nearest other centroid
	shift   []float32   // how far c_j moved in the last update
	changed int         // points that changed cluster in the last pass
	scratch [][]float32 // one k-sized buffer per chunk of points
}

func (km *kmeansState) point(i int) []float32 { return km.data[i*km.dim : (i+1)*km.dim] }

func (km *kmeansState) elkan() bool { return km.lower != nil }

// seed runs k-means++ and allocates the state.
func (km *kmeansState) seed(rng *rand.Rand, elkanBounds uint64) {
	n, dim, k := km.n, km.dim, km.k
	out := make([]float32, k*dim)
	minD := make([]float32, n)
	copy(out[:dim], km.point(rng.IntN(n)))
	for j := 0; ; j++ {
		c := out[j*dim : (j+1)*dim]
		parallelFor(n, km.w, 256, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				if d := l2sq(km.point(i), c); j == 0 || d < minD[i] {
					minD[i] = d
				}
			}
		})
		if j == k-1 {
			break
		}
		var total float64
		for _, d := range minD {
			total += float64(d)
		}
		pick := rng.IntN(n) // when every point coincides with a centroid
		if total > 0 {
			r := rng.Float64() * total
			pick = n - 1
			for i, d := range minD {
				if r -= float64(d); r < 0 {
					pick = i
					break
				}
			}
		}
		copy(out[(j+1)*dim:(j+2)*dim], km.point(pick))
	}
	km.c = newCentroids(k, dim, out)
	km.assign = make([]int32, n)
	km.upper = make([]float32, n)
	km.shift = make([]float32, k)
	if uint64(n)*uint64(k) <= elkanBounds {
		km.lower = make([]float32, n*k)
		km.cc = make([]float32, k*k)
		km.half = make([]float32, k)
	}
}

// forPoints runs fn over chunks of the points in parallel, handing each
// chunk its own k-float scratch buffer, and sums what fn returns.
func (km *kmeansState) forPoints(fn func(lo, hi int, scratch []float32) int) int {
	const minChunk = 64
	chunks, _ := split(km.n, km.w, minChunk)
	for len(km.scratch) < chunks {
		km.scratch = append(km.scratch, make([]float32, km.k))
	}
	counts := make([]int, chunks)
	parallelFor(km.n, km.w, minChunk, func(c, lo, hi int) {
		counts[c] = fn(lo, hi, km.scratch[c])
	})
	total := 0
	for _, c := range counts {
		total += c
	}
	return total
}

// assignAll assigns every point by a full scan and sets exact bounds.
func (km *kmeansState) assignAll() {
	k := km.k
	km.forPoints(func(lo, hi int, scratch []float32) int {
		for i := lo; i < hi; i++ {
			x := km.point(i)
			km.c.partial(x, scratch)
			xn := dot(x, x)
			best := 0
			for j, d := range scratch[:k] {
				if d < scratch[best] {
					best = j
				}
			}
			km.assign[i] = int32(best)
			km.upper[i] = sqrt32(xn + scratch[best])
			if km.elkan() {
				lb := km.lower[i*k : (i+1)*k]
				for j, d := range scratch[:k] {
					lb[j] = sqrt32(xn + d)
				}
			}
		}
		return 0
	})
	km.changed = km.n
}

// update moves every centroid to the mean of its points, re-seeds empty
// clusters, and records how far each centroid moved.
func (km *kmeansState) update() {
	k, dim := km.k, km.dim
	sums := make([]float64, k*dim)
	counts := make([]int, k)
	for i := range km.n {
		a := int(km.assign[i])
		counts[a]++
		s := sums[a*dim : (a+1)*dim]
		for d, v := range km.point(i) {
			s[d] += float64(v)
		}
	}
	next := make([]float32, k*dim)
	var empty []int
	for j := range k {
		c := next[j*dim : (j+1)*dim]
		if counts[j] == 0 {
			empty = append(empty, j)
			continue
		}
		inv := 1 / float64(counts[j])
		for d := range c {
			c[d] = float32(sums[j*dim+d] * inv)
		}
	}
	if len(empty) > 0 {
		// Re-seed at the points farthest from their centroids. Their
		// bounds stay valid: the re-seeded centroid's shift is applied to
		// them like any other.
		far := make([]int, km.n)
		for i := range far {
			far[i] = i
		}
		slices.SortStableFunc(far, func(a, b int) int { return -cmpF32(km.upper[a], km.upper[b]) })
		for e, j := range empty {
			copy(next[j*dim:(j+1)*dim], km.point(far[e%km.n]))
		}
	}
	for j := range k {
		km.shift[j] = sqrt32(l2sq(km.c.row(j), next[j*dim:(j+1)*dim]))
	}
	km.c = newCentroids(k, dim, next)
	if !km.elkan() {
		return
	}
	parallelFor(k, km.w, 8, func(_, lo, hi int) {
		for j := lo; j < hi; j++ {
			cj := km.c.row(j)
			for o := range k {
				km.cc[j*k+o] = sqrt32(l2sq(cj, km.c.row(o))) / 2
			}
		}
	})
	for j := range k {
		best := inf32()
		for o, d := range km.cc[j*k : (j+1)*k] {
			if o != j {
				best = min(best, d)
			}
		}
		km.half[j] = best
	}
}

// reassign runs one assignment pass and counts the points that changed
// cluster.
func (km *kmeansState) reassign() {
	if !km.elkan() {
		km.changed = km.forPoints(func(lo, hi int, scratch []float32) int {
			changed := 0
			for i := lo; i < hi; i++ {
				if b := int32(km.c.nearest(km.point(i), scratch)); b != km.assign[i] {
					km.assign[i] = b
					changed++
				}
			}
			return changed
		})
		return
	}
	k := km.k
	km.changed = km.forPoints(func(lo, hi int, _ []float32) int {
		changed := 0
		for i := lo; i < hi; i++ {
			// A lower bound that goes negative is still a (useless)
			// lower bound: no clamping needed.
			lb := km.lower[i*k : (i+1)*k]
			shift := km.shift[:len(lb)]
			for j := range lb {
				lb[j] -= shift[j]
			}
			a := int(km.assign[i])
			u := km.upper[i] + km.shift[a]
			if u > km.half[a] {
				x := km.point(i)
				tight := false
				for j, l := range lb {
					if j == a || u <= l || u <= km.cc[a*k+j] {
						continue
					}
					if !tight {
						u = sqrt32(l2sq(x, km.c.row(a)))
						lb[a] = u
						tight = true
						if u <= l || u <= km.cc[a*k+j] {
							continue
						}
					}
					dj := sqrt32(l2sq(x, km.c.row(j)))
					lb[j] = dj
					if dj < u {
						a, u = j, dj
					}
				}
			}
			if int32(a) != km.assign[i] {
				km.assign[i] = int32(a)
				changed++
			}
			km.upper[i] = u
		}
		return changed
	})
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(max(x, 0)))) }

func cmpF32(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
