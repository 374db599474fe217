package fts

import (
	"math"
	"testing"
)

func TestIDF(t *testing.T) {
	for _, tc := range []struct {
		n, df int64
		want  float64
	}{
		{2, 2, math.Log(1.2)},
		{2, 1, math.Log(2)},
		{10, 1, math.Log(1 + 9.5/1.5)},
		{1000, 1000, math.Log(1 + 0.5/1000.5)}, // never negative
		{0, 0, math.Log(2)},
	} {
		if got := IDF(tc.n, tc.df); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("IDF(%d, %d) = %v, want %v", tc.n, tc.df, got, tc.want)
		}
	}
}

// TestBM25ByHand checks the example of the package documentation against
// the formula evaluated by hand: live documents "quick brown bear" (length
// 3) and "quick brown fox jump over lazi dog" (7), so N = 2, avgdl = 5,
// df(quick) = df(brown) = 2, df(fox) = 1, query `"quick brown" fox`.
func TestBM25ByHand(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	docs := []string{"A quick brown bear", "The quick brown fox jumps over the lazy dog"}
	q, err := ParseQuery(`"quick brown" fox`, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wPhrase := 2 * math.Log(1+0.5/2.5)
	wFox := math.Log(2) // 1 + (2 - 1 + 0.5) / (1 + 0.5)
	score := func(w, tf, dl float64) float64 { return w * tf * 2.2 / (tf + 1.2*(0.25+0.75*dl/5)) }
	want := []Result{
		{Pos: 1, Score: float32(score(wPhrase, 1, 7) + score(wFox, 1, 7))},
		{Pos: 0, Score: float32(score(wPhrase, 1, 3))},
	}
	checkResults(t, "brute force", BruteForce(docs, nil, q, cfg, 10), want)
	ix := buildIndex(t, cfg, docs)
	st := ix.TermStats(q.Terms(), ix.Len(), nil)
	if st.Docs != 2 || st.TotalLen != 10 || st.DF["quick"] != 2 || st.DF["fox"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	checkResults(t, "index", ix.Search(q, st, 10, ix.Len(), nil), want)
}

func TestStatsAdd(t *testing.T) {
	var s Stats
	a := Stats{Docs: 2, TotalLen: 10, DF: map[string]int64{"x": 1}}
	s.Add(a)
	s.Add(Stats{Docs: 1, TotalLen: 3, DF: map[string]int64{"x": 1, "y": 1}})
	s.Add(Stats{})
	if s.Docs != 3 || s.TotalLen != 13 || s.DF["x"] != 2 || s.DF["y"] != 1 || a.DF["x"] != 1 {
		t.Fatalf("%+v (a %+v)", s, a)
	}
}
