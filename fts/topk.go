package fts

import (
	"math"
	"slices"
)

// Result is one search hit: a row position of the searched layer and its
// BM25 score (larger is better).
type Result struct {
	Pos   uint32
	Score float32
}

// Hit is a TopK entry: a score and the row it belongs to. Layer and Pos
// name the row (Layer is the caller's number for where it lives, e.g. 0
// for the active memtable and 1.. for older layers); Key is an optional
// caller-chosen tie-breaker ranked before them (e.g. a global row id).
//
// Per-layer truncation (Index.Search keeps a layer's k best by score, then
// position) is consistent with the TopK order as long as, within one
// layer, Key does not decrease as Pos increases (e.g. Key zero, or a
// function of the layer alone): then merging each layer's top k gives the
// exact top k of the union.
type Hit struct {
	Score float32
	Key   uint64
	Layer uint32
	Pos   uint32
}

// before is the total order of hits: higher score first, then smaller
// Key, Layer, Pos. NaN scores never reach it (Push maps them to -Inf).
func (a Hit) before(b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	if a.Layer != b.Layer {
		return a.Layer < b.Layer
	}
	return a.Pos < b.Pos
}

// TopK keeps the k best hits pushed into it, in the order of Hit: a bounded
// heap, O(log k) per Push, O(1) to reject a hit that cannot enter. The
// zero value keeps nothing; use NewTopK. Not safe for concurrent use.
type TopK struct {
	k    int
	heap []Hit // heap[0] is the worst kept hit
}

// NewTopK returns an empty TopK keeping the k best hits (k <= 0 keeps none).
func NewTopK(k int) *TopK {
	k = max(k, 0)
	return &TopK{k: k, heap: make([]Hit, 0, min(k, 1024))}
}

// Len returns the number of hits kept.
func (t *TopK) Len() int { return len(t.heap) }

// Push offers h and reports whether it was kept.
func (t *TopK) Push(h Hit) bool {
	if h.Score != h.Score {
		h.Score = float32(math.Inf(-1))
	}
	if len(t.heap) < t.k {
		t.heap = append(t.heap, h)
		t.up(len(t.heap) - 1)
		return true
	}
	if t.k == 0 || !h.before(t.heap[0]) {
		return false
	}
	t.heap[0] = h
	t.down(0)
	return true
}

// PushResults offers a layer's search results as hits of that layer, with
// Key from key (nil: zero).
func (t *TopK) PushResults(layer uint32, rs []Result, key func(pos uint32) uint64) {
	for _, r := range rs {
		h := Hit{Score: r.Score, Layer: layer, Pos: r.Pos}
		if key != nil {
			h.Key = key(r.Pos)
		}
		if !t.Push(h) && t.Len() == t.k {
			// rs is in decreasing score order: once a result cannot enter
			// on score alone, none after it can.
			if r.Score < t.heap[0].Score {
				return
			}
		}
	}
}

// Hits returns the kept hits, best first. t is unchanged.
func (t *TopK) Hits() []Hit {
	hs := slices.Clone(t.heap)
	slices.SortFunc(hs, func(a, b Hit) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	return hs
}

// up and down maintain the heap: a parent never ranks before its children.
func (t *TopK) up(i int) {
	h := t.heap
	for i > 0 {
		p := (i - 1) / 2
		if !h[p].before(h[i]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (t *TopK) down(i int) {
	h := t.heap
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c].before(h[c+1]) {
			c++
		}
		if !h[i].before(h[c]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
