package lsm

import (
	"testing"
	"time"
)

func TestLatencyCountsCumulativeBuckets(t *testing.T) {
	l := newLatency()
	b := l.bounds
	for _, d := range []time.Duration{0, b[0], b[0] + 1, b[3], b[len(b)-1] + time.Hour} {
		l.observe(d)
	}
	h := l.snapshot()
	if h.Count != 5 {
		t.Fatalf("count %d, want 5", h.Count)
	}
	if h.Counts[0] != 2 || h.Counts[1] != 3 || h.Counts[3] != 4 || h.Counts[len(b)-1] != 4 {
		t.Fatalf("cumulative counts %v", h.Counts)
	}
	if want := 2*b[0] + 1 + b[3] + b[len(b)-1] + time.Hour; h.Sum != want {
		t.Fatalf("sum %v, want %v", h.Sum, want)
	}
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] {
			t.Fatalf("bounds not ascending: %v", b)
		}
	}
}
