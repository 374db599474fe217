package vector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTopKMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{0, 1, 2, 7, 50, 1000} {
		var all []Hit
		top := NewTopK(k)
		for i := range 500 {
			h := Hit{
				Distance: float32(rng.IntN(40)), // many ties
				Layer:    uint32(rng.IntN(3)),
				Pos:      uint32(i),
			}
			if i%97 == 0 {
				h.Distance = float32(math.NaN())
			}
			all = append(all, h)
			top.Push(h)
		}
		for i := range all {
			if all[i].Distance != all[i].Distance {
				all[i].Distance = float32(math.Inf(1))
			}
		}
		slices.SortFunc(all, func(a, b Hit) int {
			if a.less(b) {
				return -1
			}
			return 1
		})
		want := all[:min(k, len(all))]
		if got := top.Hits(); !slices.Equal(got, want) {
			t.Fatalf("k=%d: got %v\nwant %v", k, got, want)
		}
	}
}

func TestTopKOrderIsTotal(t *testing.T) {
	// Same candidates in any order give the same result: merges of
	// several layers are deterministic.
	hits := []Hit{{1, 0, 5}, {1, 0, 3}, {1, 1, 0}, {0.5, 2, 9}, {1, 0, 4}, {2, 0, 0}}
	var first []Hit
	for range 20 {
		rand.Shuffle(len(hits), func(i, j int) { hits[i], hits[j] = hits[j], hits[i] })
		top := NewTopK(3)
		for _, h := range hits {
			top.Push(h)
		}
		got := top.Hits()
		if first == nil {
			first = got
		} else if !slices.Equal(got, first) {
			t.Fatalf("order-dependent: %v vs %v", got, first)
		}
	}
	want := []Hit{{0.5, 2, 9}, {1, 0, 3}, {1, 0, 4}}
	if !slices.Equal(first, want) {
		t.Fatalf("got %v, want %v", first, want)
	}
}

func TestTopKAccessors(t *testing.T) {
	top := NewTopK(2)
	if _, ok := top.Worst(); ok || top.Full() || top.Len() != 0 || top.K() != 2 {
		t.Fatal("empty TopK state wrong")
	}
	if !top.Admits(Hit{Distance: 100}) {
		t.Fatal("non-full TopK must admit")
	}
	top.Push(Hit{Distance: 3, Pos: 1})
	top.Push(Hit{Distance: 1, Pos: 2})
	if w, ok := top.Worst(); !ok || w.Distance != 3 || !top.Full() {
		t.Fatalf("Worst = %v %v", w, ok)
	}
	if top.Admits(Hit{Distance: 3, Pos: 5}) || !top.Admits(Hit{Distance: 3, Pos: 0}) || top.Push(Hit{Distance: 4}) {
		t.Fatal("admission must follow (distance, layer, pos)")
	}
	res := top.Results()
	if !slices.Equal(res, []Result{{Pos: 2, Distance: 1}, {Pos: 1, Distance: 3}}) {
		t.Fatalf("Results = %v", res)
	}
	if top.Len() != 0 {
		t.Fatal("Results must empty the TopK")
	}
	if NewTopK(-1).Push(Hit{}) {
		t.Fatal("k<0 keeps nothing")
	}
}
