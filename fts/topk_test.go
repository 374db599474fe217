package fts

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{0, 1, 5, 100} {
		var all []Hit
		top := NewTopK(k)
		for range 500 {
			h := Hit{Score: float32(r.IntN(20)), Key: uint64(r.IntN(5)), Layer: uint32(r.IntN(3)), Pos: uint32(r.IntN(50))}
			all = append(all, h)
			top.Push(h)
		}
		slices.SortStableFunc(all, func(a, b Hit) int {
			switch {
			case a.before(b):
				return -1
			case b.before(a):
				return 1
			}
			return 0
		})
		want := all[:min(k, len(all))]
		if got := top.Hits(); !slices.Equal(got, want) {
			t.Fatalf("k=%d: got %v, want %v", k, got, want)
		}
	}
	top := NewTopK(2)
	top.Push(Hit{Score: float32(math.NaN()), Pos: 1})
	top.Push(Hit{Score: 1, Pos: 2})
	top.Push(Hit{Score: float32(math.Inf(-1)), Pos: 0})
	if got := top.Hits(); got[0].Pos != 2 || got[1].Pos != 0 {
		t.Fatalf("NaN must rank as -Inf: %v", got)
	}
}

// TestPushResults: merging per-layer top-k lists gives the top k of the
// union, including across ties, when Key is monotone in Pos per layer.
func TestPushResults(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		k := 1 + r.IntN(8)
		var all []Hit
		top := NewTopK(k)
		for layer := range uint32(3) {
			var rs []Result
			for pos := range uint32(r.IntN(30)) {
				rs = append(rs, Result{Pos: pos, Score: float32(r.IntN(4))})
			}
			key := func(pos uint32) uint64 { return uint64(layer)*1000 + uint64(pos) }
			for _, x := range rs {
				all = append(all, Hit{Score: x.Score, Key: key(x.Pos), Layer: layer, Pos: x.Pos})
			}
			// The layer's own top k, as Search returns it.
			slices.SortFunc(rs, func(a, b Result) int {
				if a.Score != b.Score {
					if a.Score > b.Score {
						return -1
					}
					return 1
				}
				return int(a.Pos) - int(b.Pos)
			})
			top.PushResults(layer, rs[:min(k, len(rs))], key)
		}
		want := NewTopK(k)
		for _, h := range all {
			want.Push(h)
		}
		if got, w := top.Hits(), want.Hits(); !slices.Equal(got, w) {
			t.Fatalf("trial %d k=%d: got %v, want %v", trial, k, got, w)
		}
	}
}
