package vector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randVectors returns n seeded N(0,1) vectors of dimension dim.
func randVectors(n, dim int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// refDistance is the float64 reference of every metric.
func refDistance(m Metric, a, b []float32) float64 {
	var ab, aa, bb, l2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
		l2 += (x - y) * (x - y)
	}
	switch m {
	case Cosine:
		if aa == 0 || bb == 0 {
			return 1
		}
		return 1 - ab/math.Sqrt(aa*bb)
	case Dot:
		return -ab
	}
	return l2
}

// near reports whether got is within a relative tolerance of want.
func near(got float32, want float64, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*math.Max(1, math.Abs(want))
}

// exactFunc serves the raw vectors of a row-major slice to refinement.
func exactFunc(data []float32, dim int) func(uint32) []float32 {
	return func(pos uint32) []float32 { return data[int(pos)*dim : int(pos+1)*dim] }
}

// mustTrain trains a model or fails the test.
func mustTrain(t testing.TB, data []float32, dim int, p Params, seed int64) *Model {
	t.Helper()
	m, err := Train(data, dim, p, seed)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	return m
}

// mustIndex builds an index over data (positions 0..) or fails the test.
func mustIndex(t testing.TB, m *Model, data []float32) *Index {
	t.Helper()
	ix := NewIndex(m)
	if err := ix.Add(0, data); err != nil {
		t.Fatalf("Add: %v", err)
	}
	return ix
}

const allPos = math.MaxUint32
