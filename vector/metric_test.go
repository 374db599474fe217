package vector

import (
	"errors"
	"testing"
)

func TestParseMetric(t *testing.T) {
	for in, want := range map[string]Metric{
		"": L2, "l2": L2, "L2": L2, " euclidean ": L2, "cosine": Cosine, "COSINE": Cosine, "dot": Dot,
	} {
		got, err := ParseMetric(in)
		if err != nil || got != want {
			t.Errorf("ParseMetric(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"hamming", "l1", "cos"} {
		if _, err := ParseMetric(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMetric(%q) error = %v, want ErrInvalid", in, err)
		}
	}
	for _, m := range []Metric{L2, Cosine, Dot} {
		if got, _ := ParseMetric(m.String()); got != m {
			t.Errorf("ParseMetric(%v.String()) = %v", m, got)
		}
	}
	if s := Metric(9).String(); s != "Metric(9)" {
		t.Errorf("Metric(9).String() = %q", s)
	}
}

func TestDistanceMatchesReference(t *testing.T) {
	for _, dim := range []int{1, 5, 128, 1024} {
		a, b := randVectors(1, dim, 10), randVectors(1, dim, 11)
		for _, m := range []Metric{L2, Cosine, Dot} {
			if got, want := m.Distance(a, b), refDistance(m, a, b); !near(got, want, 1e-4) {
				t.Errorf("%v dim %d: %v, want %v", m, dim, got, want)
			}
		}
	}
}

func TestDistanceConventions(t *testing.T) {
	a := []float32{1, 0}
	b := []float32{0, 2}
	zero := []float32{0, 0}
	cases := []struct {
		m    Metric
		x, y []float32
		want float32
	}{
		{L2, a, b, 5},     // squared, no root
		{Cosine, a, b, 1}, // orthogonal
		{Cosine, a, a, 0}, // identical
		{Cosine, a, []float32{-3, 0}, 2},
		{Cosine, a, zero, 1},    // zero vector: defined as 1
		{Cosine, zero, zero, 1}, // both zero
		{Dot, a, []float32{3, 1}, -3},
	}
	for _, c := range cases {
		if got := c.m.Distance(c.x, c.y); got != c.want {
			t.Errorf("%v(%v, %v) = %v, want %v", c.m, c.x, c.y, got, c.want)
		}
	}
}
