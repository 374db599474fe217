package fts_test

import (
	"fmt"

	"github.com/flightwal/flightwal/fts"
)

// Two layers of a snapshot: an older one where row 1 was later updated
// (its new version is in the newer layer) and row 2 deleted.
func Example() {
	cfg := fts.DefaultTokenizerConfig()
	older, newer := fts.NewIndex(cfg), fts.NewIndex(cfg)
	for _, row := range []struct {
		ix   *fts.Index
		pos  uint32
		text string
	}{
		{older, 0, "The quick brown fox jumps over the lazy dog"},
		{older, 1, "A slow brown bear"},
		{older, 2, "Quick thinking, quick foxes"},
		{newer, 0, "A quick brown bear"}, // the new version of older row 1
	} {
		if err := row.ix.Add(row.pos, row.text); err != nil {
			panic(err)
		}
	}

	type layer struct {
		ix   *fts.Index
		live func(uint32) bool
	}
	layers := []layer{
		{newer, nil},
		{older, func(pos uint32) bool { return pos == 0 }}, // 1 shadowed, 2 deleted
	}
	q, err := fts.ParseQuery(`"quick brown" fox`, cfg)
	if err != nil {
		panic(err)
	}
	var st fts.Stats
	for _, l := range layers {
		st.Add(l.ix.TermStats(q.Terms(), l.ix.Len(), l.live))
	}
	top := fts.NewTopK(10)
	for i, l := range layers {
		top.PushResults(uint32(i), l.ix.Search(q, st, 10, l.ix.Len(), l.live), nil)
	}
	for _, h := range top.Hits() {
		fmt.Printf("layer %d row %d score %.3f\n", h.Layer, h.Pos, h.Score)
	}
	// Output:
	// layer 1 row 0 score 0.909
	// layer 0 row 0 score 0.436
}
