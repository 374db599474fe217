package vector

import (
	"math"
	"slices"
)

// Result is one search hit: a row position of the searched layer and its
// distance to the query (smaller is nearer).
type Result struct {
	Pos      uint32
	Distance float32
}

// Hit is a TopK entry: a distance and the (layer, position) it belongs to.
// Layer is the caller's name for where the row lives (e.g. 0 for the
// active memtable, 1.. for older layers); the package gives it no meaning
// beyond ordering.
type Hit struct {
	Distance float32
	Layer    uint32
	Pos      uint32
}

// less is the total order of hits: distance, then layer, then position. It
// makes every merge deterministic, whatever order candidates arrive in.
// NaN distances never reach it (Push maps them to +Inf).
func (a Hit) less(b Hit) bool {
	if a.Distance != b.Distance {
		return a.Distance < b.Distance
	}
	if a.Layer != b.Layer {
		return a.Layer < b.Layer
	}
	return a.Pos < b.Pos
}

// TopK keeps the k smallest hits pushed into it, in the order of less. It
// is a bounded max-heap: Push is O(log k), and a hit that cannot enter is
// rejected in O(1). The zero value is not usable; call NewTopK. A TopK is
// not safe for concurrent use.
type TopK struct {
	k    int
	heap []Hit // max-heap by less: heap[0] is the worst kept hit
}

// NewTopK returns an empty TopK that keeps the k best hits (k >= 0).
func NewTopK(k int) *TopK {
	k = max(k, 0)
	return &TopK{k: k, heap: make([]Hit, 0, min(k, 1024))}
}

// K returns the capacity of t.
func (t *TopK) K() int { return t.k }

// Len returns the number of hits kept.
func (t *TopK) Len() int { return len(t.heap) }

// Full reports whether t holds k hits.
func (t *TopK) Full() bool { return len(t.heap) >= t.k }

// Worst returns the worst kept hit; ok is false when t is empty.
func (t *TopK) Worst() (h Hit, ok bool) {
	if len(t.heap) == 0 {
		return Hit{}, false
	}
	return t.heap[0], true
}

// Admits reports whether h would be kept by Push, without pushing it. A NaN
// distance counts as +Inf.
func (t *TopK) Admits(h Hit) bool {
	if h.Distance != h.Distance {
		h.Distance = float32(math.Inf(1))
	}
	if len(t.heap) < t.k {
		return true
	}
	return t.k > 0 && h.less(t.heap[0])
}

// Push offers h and reports whether it was kept. A NaN distance counts as
// +Inf, so a broken vector sorts last instead of breaking the order.
func (t *TopK) Push(h Hit) bool {
	if h.Distance != h.Distance {
		h.Distance = float32(math.Inf(1))
	}
	if len(t.heap) < t.k {
		t.heap = append(t.heap, h)
		t.up(len(t.heap) - 1)
		return true
	}
	if t.k == 0 || !h.less(t.heap[0]) {
		return false
	}
	t.heap[0] = h
	t.down(0)
	return true
}

// Hits returns the kept hits, best first, and leaves t empty.
func (t *TopK) Hits() []Hit {
	out := t.heap
	t.heap = nil
	slices.SortFunc(out, func(a, b Hit) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	return out
}

// Results returns the kept hits as Results (dropping Layer), best first,
// and leaves t empty.
func (t *TopK) Results() []Result {
	hits := t.Hits()
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = Result{Pos: h.Pos, Distance: h.Distance}
	}
	return out
}

func (t *TopK) up(i int) {
	h := t.heap
	for i > 0 {
		p := (i - 1) / 2
		if !h[p].less(h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (t *TopK) down(i int) {
	h := t.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		big := l
		if r := l + 1; r < n && h[l].less(h[r]) {
			big = r
		}
		if !h[i].less(h[big]) {
			return
		}
		h[i], h[big] = h[big], h[i]
		i = big
	}
}
