package vector

import (
	"fmt"
	"math"
	"strings"
)

// Metric is a distance function. Smaller distances are nearer for every
// metric (see the package documentation for the exact definitions).
type Metric uint8

const (
	// L2 is the squared Euclidean distance (Lance's "l2").
	L2 Metric = iota
	// Cosine is 1 - cosine similarity.
	Cosine
	// Dot is the negated inner product.
	Dot
)

// String returns the Lance name of the metric: "l2", "cosine" or "dot".
func (m Metric) String() string {
	switch m {
	case L2:
		return "l2"
	case Cosine:
		return "cosine"
	case Dot:
		return "dot"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

func (m Metric) valid() bool { return m <= Dot }

// ParseMetric parses a metric name as Lance spells it, case-insensitively:
// "l2" (also "euclidean"), "cosine", "dot". The empty string is L2, the
// default of the wire protocol. Anything else wraps ErrInvalid.
func ParseMetric(s string) (Metric, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "l2", "euclidean":
		return L2, nil
	case "cosine":
		return Cosine, nil
	case "dot":
		return Dot, nil
	}
	return 0, invalidf("unknown metric %q (want l2, cosine or dot)", s)
}

// Distance returns the distance between a and b under m. The slices must
// have the same length. It is the function FlatSearch and refinement use.
func (m Metric) Distance(a, b []float32) float32 {
	switch m {
	case Cosine:
		return cosineDistance(a, b, norm(a))
	case Dot:
		return -dot(a, b)
	default:
		return l2sq(a, b)
	}
}

// norm returns the Euclidean norm of v.
func norm(v []float32) float32 {
	return float32(math.Sqrt(float64(dot(v, v))))
}

// cosineDistance returns 1 - cos(q, x) given qNorm = norm(q); 1 when either
// vector is zero.
func cosineDistance(q, x []float32, qNorm float32) float32 {
	qx, xx := dotNorm(q, x)
	if qNorm == 0 || xx == 0 {
		return 1
	}
	return 1 - qx/(qNorm*float32(math.Sqrt(float64(xx))))
}

// distancer computes distances from one fixed query to many vectors with
// the per-query work (the query norm for cosine) done once.
type distancer struct {
	metric Metric
	query  []float32
	qNorm  float32
}

func newDistancer(m Metric, q []float32) distancer {
	d := distancer{metric: m, query: q}
	if m == Cosine {
		d.qNorm = norm(q)
	}
	return d
}

func (d *distancer) distance(x []float32) float32 {
	switch d.metric {
	case Cosine:
		return cosineDistance(d.query, x, d.qNorm)
	case Dot:
		return -dot(d.query, x)
	default:
		return l2sq(d.query, x)
	}
}

// inf32 returns +Inf as a float32.
func inf32() float32 { return math.Float32frombits(0x7f800000) }

func sqrt64(x float64) float64 { return math.Sqrt(x) }
