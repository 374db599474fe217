package fts

import (
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// lsmSim is a seeded LSM snapshot over keys 0..n-1: three layers (0 the
// oldest, 2 the newest), each an Index holding some keys' versions in key
// order. Every live key has exactly one live version; older versions are
// shadowed, deleted keys have none; the newest layer also holds rows
// written after the snapshot (at positions >= its bound).
type lsmSim struct {
	final []string // the live text of each key (brute force input)
	live  []bool   // whether the key is live (not deleted)
	ix    []*Index
	key   [][]uint64 // key of each row, per layer
	alive [][]bool   // whether the row is the key's live version
	bound []uint32   // snapshot bound per layer
}

func newLSMSim(t testing.TB, cfg TokenizerConfig, n int, seed int64) *lsmSim {
	const layers = 3
	r := rand.New(rand.NewPCG(uint64(seed), 99))
	s := &lsmSim{
		final: GenerateCorpus(n, 100, seed),
		live:  make([]bool, n),
		ix:    make([]*Index, layers),
		key:   make([][]uint64, layers),
		alive: make([][]bool, layers),
		bound: make([]uint32, layers),
	}
	stale := GenerateCorpus(n, 100, seed+1000)
	type row struct {
		text  string
		alive bool
	}
	rows := make([][]row, layers)
	keys := make([][]uint64, layers)
	for k := range n {
		newest := r.IntN(layers)
		deleted := r.IntN(10) == 0
		s.live[k] = !deleted
		for l := 0; l <= newest; l++ {
			switch {
			case l == newest:
				text := s.final[k]
				if deleted { // the last version before the tombstone
					text = stale[k]
				}
				rows[l] = append(rows[l], row{text, !deleted})
			case r.IntN(2) == 0:
				rows[l] = append(rows[l], row{stale[(k+l)%n], false})
			default:
				continue
			}
			keys[l] = append(keys[l], uint64(k))
		}
	}
	for l := range layers {
		s.ix[l] = NewIndex(cfg)
		for pos, rw := range rows[l] {
			if err := s.ix[l].Add(uint32(pos), rw.text); err != nil {
				t.Fatal(err)
			}
			s.alive[l] = append(s.alive[l], rw.alive)
		}
		s.key[l] = keys[l]
		s.bound[l] = uint32(len(rows[l]))
	}
	// Writes after the snapshot: new versions in the newest layer, beyond
	// its bound. A reader that ignored the bound would see them.
	top := layers - 1
	for i := range n / 20 {
		pos := s.bound[top] + uint32(i)
		if err := s.ix[top].Add(pos, stale[r.IntN(n)]); err != nil {
			t.Fatal(err)
		}
		s.alive[top] = append(s.alive[top], true)
		s.key[top] = append(s.key[top], uint64(r.IntN(n)))
	}
	return s
}

// allow returns layer l's live-row predicate.
func (s *lsmSim) allow(l int) func(uint32) bool {
	return func(pos uint32) bool { return s.alive[l][pos] }
}

// stats sums the layers' statistics for q's terms.
func (s *lsmSim) stats(q Query) Stats {
	var st Stats
	for l, ix := range s.ix {
		st.Add(ix.TermStats(q.Terms(), s.bound[l], s.allow(l)))
	}
	return st
}

// search merges the layers' top k under global statistics; filter, if
// set, further restricts the rows by key (a prefilter: it narrows results
// without changing statistics).
func (s *lsmSim) search(q Query, k int, filter func(key uint64) bool) []Result {
	st := s.stats(q)
	top := NewTopK(k)
	for l, ix := range s.ix {
		allow := s.allow(l)
		if filter != nil {
			allow = func(pos uint32) bool { return s.alive[l][pos] && filter(s.key[l][pos]) }
		}
		rs := ix.Search(q, st, k, s.bound[l], allow)
		top.PushResults(uint32(l), rs, func(pos uint32) uint64 { return s.key[l][pos] })
	}
	var out []Result
	for _, h := range top.Hits() {
		out = append(out, Result{Pos: uint32(h.Key), Score: h.Score})
	}
	return out
}

// TestLayersMatchBruteForce: documents split across three Index layers,
// with shadowed versions, deletes and post-snapshot writes disallowed or
// bounded, searched with global statistics and merged with TopK, give
// exactly BruteForce's top k over the live documents.
func TestLayersMatchBruteForce(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	s := newLSMSim(t, cfg, corpusSize(), 21)
	liveKey := func(i int) bool { return s.live[i] }
	m := newQueryMaker(s.final, 22)
	matched := 0
	for i, tq := range m.queries(12) {
		q, ok := tq.parse(t, cfg)
		if !ok {
			continue
		}
		k := []int{10, 1, 50}[i%3]
		want := BruteForce(s.final, liveKey, q, cfg, k)
		checkResults(t, tq.String(), s.search(q, k, nil), want)
		if len(want) > 0 {
			matched++
		}
	}
	if matched < 8 {
		t.Fatalf("only %d queries matched anything", matched)
	}
}

// TestLayersPrefilter: a filter passed through allow narrows the merged
// results without changing scores: the result is BruteForce's ranking over
// all live rows, filtered, cut at k.
func TestLayersPrefilter(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	s := newLSMSim(t, cfg, corpusSize()/5, 31)
	filter := func(key uint64) bool { return key%3 == 0 }
	m := newQueryMaker(s.final, 32)
	for _, tq := range m.queries(4) {
		q, ok := tq.parse(t, cfg)
		if !ok {
			continue
		}
		all := BruteForce(s.final, func(i int) bool { return s.live[i] }, q, cfg, len(s.final))
		var want []Result
		for _, r := range all {
			if filter(uint64(r.Pos)) && len(want) < 10 {
				want = append(want, r)
			}
		}
		checkResults(t, tq.String(), s.search(q, 10, filter), want)
	}
}

// TestTermStatsExcept: the dead-bitmap form of TermStats agrees with the
// predicate form.
func TestTermStatsExcept(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	s := newLSMSim(t, cfg, 5000, 41)
	m := newQueryMaker(s.final, 42)
	for _, tq := range m.queries(6) {
		q, ok := tq.parse(t, cfg)
		if !ok {
			continue
		}
		for l, ix := range s.ix {
			// The layer's dead rows (many), and a few rows (few dead: the
			// bitmap-driven path of countCommon).
			dead, few := roaring.New(), roaring.New()
			for pos, a := range s.alive[l] {
				if !a {
					dead.Add(uint32(pos))
				}
				if pos%97 == 0 {
					few.Add(uint32(pos))
				}
			}
			for _, tc := range []struct {
				dead  *roaring.Bitmap
				bound uint32
			}{{dead, s.bound[l]}, {dead, s.bound[l] / 2}, {dead, ix.Len()}, {few, s.bound[l]}} {
				dead, bound := tc.dead, tc.bound
				allow := func(pos uint32) bool { return !dead.Contains(pos) }
				want := ix.TermStats(q.Terms(), bound, allow)
				got := ix.TermStatsExcept(q.Terms(), bound, dead)
				if got.Docs != want.Docs || got.TotalLen != want.TotalLen || !maps.Equal(got.DF, want.DF) {
					t.Fatalf("layer %d bound %d %v: TermStatsExcept %+v, TermStats %+v", l, bound, tq, got, want)
				}
			}
			// No dead rows: the O(1) path equals the predicate-free one.
			got := ix.TermStatsExcept(q.Terms(), ix.Len(), nil)
			want := ix.TermStats(q.Terms(), ix.Len(), nil)
			if got.Docs != want.Docs || got.TotalLen != want.TotalLen || !maps.Equal(got.DF, want.DF) {
				t.Fatalf("nil dead: %+v vs %+v", got, want)
			}
		}
	}
}
