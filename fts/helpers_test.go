package fts

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// corpusSize is the size of the seeded corpora of the equivalence tests:
// at least 50,000 documents, fewer under -race or -short.
func corpusSize() int {
	if raceEnabled || testing.Short() {
		return 4000
	}
	return 50000
}

// buildIndex indexes docs at positions 0.. in one Index.
func buildIndex(t testing.TB, cfg TokenizerConfig, docs []string) *Index {
	t.Helper()
	ix := NewIndex(cfg)
	for i, d := range docs {
		if err := ix.Add(uint32(i), d); err != nil {
			t.Fatal(err)
		}
	}
	return ix
}

// checkResults fails unless got and want hold the same positions in the
// same order with scores equal within 1e-4 relative.
func checkResults(t testing.TB, what string, got, want []Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d\n got  %v\n want %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].Pos != want[i].Pos || !closeScore(got[i].Score, want[i].Score) {
			t.Fatalf("%s: result %d is %v, want %v\n got  %v\n want %v", what, i, got[i], want[i], got, want)
		}
	}
}

func closeScore(a, b float32) bool {
	return math.Abs(float64(a)-float64(b)) <= 1e-4*math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
}

// queryMaker draws query strings from a corpus, so that their terms occur.
type queryMaker struct {
	r    *rand.Rand
	docs []string
}

func newQueryMaker(docs []string, seed uint64) *queryMaker {
	return &queryMaker{r: rand.New(rand.NewPCG(seed, 7)), docs: docs}
}

// words returns the words of a random non-empty document.
func (m *queryMaker) words() []string {
	for {
		ws := strings.FieldsFunc(m.docs[m.r.IntN(len(m.docs))], func(r rune) bool {
			return r == ' ' || r == ',' || r == '.'
		})
		if len(ws) > 0 {
			return ws
		}
	}
}

// terms returns n words of one document, separated by spaces.
func (m *queryMaker) terms(n int) string {
	ws := m.words()
	out := make([]string, n)
	for i := range out {
		out[i] = ws[m.r.IntN(len(ws))]
	}
	return strings.Join(out, " ")
}

// phrase returns n consecutive words of one document, in double quotes.
func (m *queryMaker) phrase(n int) string {
	ws := m.words()
	for len(ws) < n {
		ws = m.words()
	}
	i := m.r.IntN(len(ws) - n + 1)
	return `"` + strings.Join(ws[i:i+n], " ") + `"`
}

// queries returns a mix of query strings of each shape, each with its
// operator: OR terms, AND terms, phrases, phrases with terms.
func (m *queryMaker) queries(n int) []testQuery {
	var qs []testQuery
	for i := range n {
		switch i % 6 {
		case 0:
			qs = append(qs, testQuery{m.terms(2), Or})
		case 1:
			qs = append(qs, testQuery{m.terms(3), And})
		case 2:
			qs = append(qs, testQuery{m.phrase(2), Or})
		case 3:
			qs = append(qs, testQuery{m.phrase(3) + " " + m.terms(1), Or})
		case 4:
			qs = append(qs, testQuery{m.phrase(2) + " " + m.terms(1), And})
		case 5:
			qs = append(qs, testQuery{m.terms(1), Or})
		}
	}
	return qs
}

type testQuery struct {
	s  string
	op Operator
}

func (q testQuery) String() string { return fmt.Sprintf("%s %q", q.op, q.s) }

// parse parses q with cfg, or reports false if it has no terms left.
func (q testQuery) parse(t testing.TB, cfg TokenizerConfig) (Query, bool) {
	t.Helper()
	pq, err := ParseQuery(q.s, cfg, WithOperator(q.op))
	if err != nil {
		if strings.Contains(err.Error(), "no searchable terms") {
			return Query{}, false
		}
		t.Fatalf("%v: %v", q, err)
	}
	return pq, true
}
