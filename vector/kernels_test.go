package vector

import (
	"math/rand/v2"
	"testing"
)

func TestKernelsMatchReference(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 64, 100, 128, 1024} {
		a, b := randVectors(1, n, 1), randVectors(1, n, 2)
		var ab, bb, l2 float64
		for i := range a {
			ab += float64(a[i]) * float64(b[i])
			bb += float64(b[i]) * float64(b[i])
			l2 += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		}
		if got := dot(a, b); !near(got, ab, 1e-5) {
			t.Errorf("dot n=%d: %v, want %v", n, got, ab)
		}
		if got := l2sq(a, b); !near(got, l2, 1e-5) {
			t.Errorf("l2sq n=%d: %v, want %v", n, got, l2)
		}
		gab, gbb := dotNorm(a, b)
		if !near(gab, ab, 1e-5) || !near(gbb, bb, 1e-5) {
			t.Errorf("dotNorm n=%d: %v %v, want %v %v", n, gab, gbb, ab, bb)
		}
		y := append([]float32(nil), b...)
		axpy(0.5, a, y)
		for i := range y {
			if want := b[i] + 0.5*a[i]; y[i] != want {
				t.Fatalf("axpy n=%d [%d]: %v, want %v", n, i, y[i], want)
			}
		}
	}
}

func TestAdcSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, m := range []int{1, 3, 4, 5, 8, 16, 64, 128} {
		lut := randVectors(1, m*256, uint64(m))
		code := make([]byte, m)
		var want float64
		for s := range code {
			code[s] = byte(rng.IntN(256))
			want += float64(lut[s*256+int(code[s])])
		}
		if got := adcSum(lut, code); !near(got, want, 1e-5) {
			t.Errorf("adcSum m=%d: %v, want %v", m, got, want)
		}
	}
}

func TestKernelsDoNotAllocate(t *testing.T) {
	a, b := randVectors(1, 1024, 1), randVectors(1, 1024, 2)
	lut, code := randVectors(1, 64*256, 3), make([]byte, 64)
	var sink float32
	allocs := testing.AllocsPerRun(100, func() {
		sink += dot(a, b) + l2sq(a, b) + adcSum(lut, code)
		x, y := dotNorm(a, b)
		sink += x + y
		for _, m := range []Metric{L2, Cosine, Dot} {
			sink += m.Distance(a, b)
		}
	})
	if allocs != 0 {
		t.Errorf("kernels allocate %v times per run", allocs)
	}
	_ = sink
}
