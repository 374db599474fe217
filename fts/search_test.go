package fts

import (
	"testing"
)

// TestSearchMatchesBruteForce: one Index over a seeded corpus of 50,000
// documents returns exactly BruteForce's top k (same rows, same order,
// same scores) for term (OR), AND and phrase queries, under both the
// default analysis and a plain one.
func TestSearchMatchesBruteForce(t *testing.T) {
	docs := GenerateCorpus(corpusSize(), 100, 1)
	for _, tc := range []struct {
		name    string
		cfg     TokenizerConfig
		queries int
	}{
		{"default", DefaultTokenizerConfig(), 18},
		{"plain", TokenizerConfig{}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := buildIndex(t, tc.cfg, docs)
			m := newQueryMaker(docs, 2)
			matched := 0
			for i, tq := range m.queries(tc.queries) {
				q, ok := tq.parse(t, tc.cfg)
				if !ok {
					continue
				}
				k := []int{10, 1, 100}[i%3]
				st := ix.TermStats(q.Terms(), ix.Len(), nil)
				got := ix.Search(q, st, k, ix.Len(), nil)
				want := BruteForce(docs, nil, q, tc.cfg, k)
				checkResults(t, tq.String(), got, want)
				if len(want) > 0 {
					matched++
				}
			}
			if matched < tc.queries*2/3 {
				t.Fatalf("only %d of %d queries matched anything: test queries too weak", matched, tc.queries)
			}
		})
	}
}

// TestSearchBoundAndAllow: a search sees only positions below maxPos that
// allow admits, and scores them with the statistics of those rows, exactly
// as BruteForce over them does.
func TestSearchBoundAndAllow(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	docs := GenerateCorpus(3000, 60, 3)
	ix := buildIndex(t, cfg, docs)
	m := newQueryMaker(docs, 4)
	allow := func(pos uint32) bool { return pos%3 != 1 }
	for _, maxPos := range []uint32{0, 1, 1234, 3000, 1 << 30} {
		live := func(i int) bool { return uint32(i) < maxPos && allow(uint32(i)) }
		for _, tq := range m.queries(6) {
			q, ok := tq.parse(t, cfg)
			if !ok {
				continue
			}
			st := ix.TermStats(q.Terms(), maxPos, allow)
			got := ix.Search(q, st, 20, maxPos, allow)
			want := BruteForce(docs, live, q, cfg, 20)
			checkResults(t, tq.String(), got, want)
			for _, r := range got {
				if r.Pos >= maxPos || !allow(r.Pos) {
					t.Fatalf("%v: result %v outside the bound %d or not allowed", tq, r, maxPos)
				}
			}
		}
	}
}

// TestSearchSmall pins hand-checked behaviour: phrase gaps, AND, misses,
// scores of a tiny corpus against the formula.
func TestSearchSmall(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	docs := []string{
		0: "The quick brown fox jumps over the lazy dog.",
		1: "A quick brown dog.",
		2: "Brown foxes are quick; the fox is brown.",
		3: "",
		4: "the of and", // stop words only: length 0
		5: "President of the United States",
		6: "united states of america, the states united",
	}
	ix := buildIndex(t, cfg, docs)
	search := func(s string, op Operator) []uint32 {
		t.Helper()
		q, err := ParseQuery(s, cfg, WithOperator(op))
		if err != nil {
			t.Fatal(err)
		}
		st := ix.TermStats(q.Terms(), ix.Len(), nil)
		rs := ix.Search(q, st, 10, ix.Len(), nil)
		checkResults(t, s, rs, BruteForce(docs, nil, q, cfg, 10))
		var pos []uint32
		for _, r := range rs {
			pos = append(pos, r.Pos)
		}
		return pos
	}
	eq := func(got []uint32, want ...uint32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	}
	eq(search(`"quick brown"`, Or), 1, 0) // doc 1 is shorter
	eq(search(`"brown quick"`, Or))
	eq(search(`"quick brown" fox`, And), 0)
	eq(search(`fox`, Or), 2, 0) // "foxes" stems to "fox": tf 2 in doc 2
	eq(search(`zebra`, Or))
	eq(search(`zebra fox`, And))
	eq(search(`"president of the united states"`, Or), 5)
	eq(search(`"united states"`, Or), 5, 6) // 5 is shorter
	eq(search(`"states united"`, Or), 6)

	st := ix.TermStats([]string{"fox", "quick"}, ix.Len(), nil)
	if st.Docs != 5 || st.DF["fox"] != 2 || st.DF["quick"] != 3 {
		t.Fatalf("stats %+v: want 5 docs (empty and stop-word docs not counted), df fox 2, quick 3", st)
	}
	var total int64
	for _, d := range docs {
		total += int64(len(cfg.Tokenize(d)))
	}
	if st.TotalLen != total {
		t.Fatalf("TotalLen %d, want %d", st.TotalLen, total)
	}
	// Score of doc 1 for "fox" by hand: not there; "dog" in docs 0 and 1.
	q, _ := ParseQuery("dog", cfg)
	st = ix.TermStats(q.Terms(), ix.Len(), nil)
	rs := ix.Search(q, st, 1, ix.Len(), nil)
	avg := float64(st.TotalLen) / float64(st.Docs)
	idf := IDF(5, 2)
	want := idf * 1 * (K1 + 1) / (1 + K1*(1-B+B*3/avg)) // doc 1: quick brown dog
	if rs[0].Pos != 1 || !closeScore(rs[0].Score, float32(want)) {
		t.Fatalf("dog: %v, want doc 1 scoring %v", rs, want)
	}
}

func TestSearchEdgeCases(t *testing.T) {
	cfg := DefaultTokenizerConfig()
	ix := NewIndex(cfg)
	q, err := ParseQuery("fox", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rs := ix.Search(q, Stats{}, 10, 100, nil); len(rs) != 0 {
		t.Fatalf("empty index: %v", rs)
	}
	if err := ix.Add(5, "a fox"); err != nil {
		t.Fatal(err)
	}
	st := ix.TermStats(q.Terms(), ix.Len(), nil)
	for _, k := range []int{0, -1} {
		if rs := ix.Search(q, st, k, ix.Len(), nil); rs != nil {
			t.Fatalf("k=%d: %v", k, rs)
		}
	}
	rs := ix.Search(q, st, 10, ix.Len(), nil)
	if len(rs) != 1 || rs[0].Pos != 5 || !(rs[0].Score > 0) {
		t.Fatalf("got %v", rs)
	}
	// Missing statistics do not break scoring (df 0, N 0).
	if rs := ix.Search(q, Stats{}, 10, ix.Len(), nil); len(rs) != 1 || rs[0].Score <= 0 {
		t.Fatalf("zero stats: %v", rs)
	}
	if ix.Len() != 6 {
		t.Fatalf("Len %d, want 6", ix.Len())
	}
	if docs, total := ix.DocStats(ix.Len(), nil); docs != 1 || total != 1 {
		t.Fatalf("DocStats %d %d", docs, total)
	}
}

func TestAddOrder(t *testing.T) {
	ix := NewIndex(TokenizerConfig{})
	if err := ix.Add(3, "x"); err != nil {
		t.Fatal(err)
	}
	for _, pos := range []uint32{0, 3, 1<<32 - 1} {
		if err := ix.Add(pos, "y"); err == nil {
			t.Fatalf("Add(%d) after 3 succeeded", pos)
		}
	}
	if ix.Len() != 4 {
		t.Fatalf("Len %d", ix.Len())
	}
	if err := ix.Add(4, ""); err != nil {
		t.Fatal(err)
	}
}
