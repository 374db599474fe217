package fts

import (
	"slices"
	"strings"
	"testing"
)

func TestGenerateCorpus(t *testing.T) {
	a := GenerateCorpus(2000, 100, 7)
	if !slices.Equal(a, GenerateCorpus(2000, 100, 7)) {
		t.Fatal("same seed, different corpus")
	}
	if slices.Equal(a, GenerateCorpus(2000, 100, 8)) {
		t.Fatal("different seeds, same corpus")
	}
	if len(GenerateCorpus(0, 10, 1)) != 0 {
		t.Fatal("n=0")
	}
	words := 0
	df := map[string]int{}
	for _, d := range a {
		ws := strings.Fields(d)
		if len(ws) < 50 || len(ws) > 150 {
			t.Fatalf("document of %d words, want 50..150", len(ws))
		}
		words += len(ws)
		seen := map[string]bool{}
		for _, tok := range DefaultTokenizerConfig().Tokenize(d) {
			if !seen[tok.Term] {
				seen[tok.Term] = true
				df[tok.Term]++
			}
		}
	}
	if avg := words / len(a); avg < 90 || avg > 110 {
		t.Fatalf("average %d words per document", avg)
	}
	// Zipf-like: a few terms in most documents, most terms in few.
	var dfs []int
	for _, n := range df {
		dfs = append(dfs, n)
	}
	slices.Sort(dfs)
	slices.Reverse(dfs)
	if dfs[0] < len(a)/2 || dfs[len(dfs)/2] > 5 || len(dfs) < 5000 {
		t.Fatalf("df distribution not Zipf-like: top %d, median %d, %d terms", dfs[0], dfs[len(dfs)/2], len(dfs))
	}
}
