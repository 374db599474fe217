package lsm

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the buckets of every latency
// histogram lsm keeps (Metrics): 100µs times powers of 2.5, up to about
// 6 minutes. The binary uses the same bounds for its own histograms.
func LatencyBounds() []time.Duration {
	b := make([]time.Duration, latencyBuckets)
	d := float64(100 * time.Microsecond)
	for i := range b {
		b[i] = time.Duration(d)
		d *= 2.5
	}
	return b
}

const latencyBuckets = 17

// Histogram is a copy of a latency distribution. Counts[i] is the number
// of observations at or below Bounds[i] (cumulative, as Prometheus counts
// buckets); Count includes those above the last bound.
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// latency is a live histogram over LatencyBounds, safe for concurrent
// use; observations are lock-free.
type latency struct {
	bounds  []time.Duration
	buckets [latencyBuckets + 1]atomic.Uint64 // the last: above every bound
	sum     atomic.Int64
}

func newLatency() *latency { return &latency{bounds: LatencyBounds()} }

func (l *latency) observe(d time.Duration) {
	i := 0
	for i < len(l.bounds) && d > l.bounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(int64(d))
}

func (l *latency) snapshot() Histogram {
	h := Histogram{Bounds: l.bounds, Counts: make([]uint64, len(l.bounds)), Sum: time.Duration(l.sum.Load())}
	for i := range l.buckets {
		h.Count += l.buckets[i].Load()
		if i < len(l.bounds) {
			h.Counts[i] = h.Count
		}
	}
	return h
}
