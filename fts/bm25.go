package fts

import "math"

// BM25 parameters, as in Lucene and tantivy.
const (
	K1 = 1.2
	B  = 0.75
)

// Scoring. For a document d of length |d| (its number of indexed terms)
// and a query with clauses c:
//
//	score(d) = Σ_c  w(c) · f(c,d) · (K1 + 1) / (f(c,d) + K1 · (1 − B + B · |d| / avgdl))
//
// summed in the query's clause order over the clauses d matches, where
//
//   - for a term t: f = the number of occurrences of t in d, and
//     w = idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5)), the
//     Lucene/tantivy idf, which is never negative;
//   - for a phrase: f = the number of positions where the phrase occurs in
//     d, and w = the sum of idf over the phrase's terms (Lucene and tantivy
//     weigh phrases the same way);
//   - N = Stats.Docs, df = Stats.DF, avgdl = Stats.TotalLen / Stats.Docs.
//
// The (K1 + 1) factor (kept by tantivy, dropped by Lucene since 8.0)
// scales every score alike and does not change rankings. Lengths are exact
// counts, not Lucene's one-byte norms, so scores are reproducible from the
// text alone (BruteForce does exactly that). Arithmetic is in float64 in a
// fixed order; the reported score is that sum rounded to float32, and
// rankings compare the float32 scores.

// Stats are the collection statistics BM25 needs, over the documents of a
// snapshot. flightwal computes them over the snapshot's live rows across
// every layer (see Index.TermStats), so a row scores the same whichever
// layer holds it and results equal BruteForce over the live rows.
type Stats struct {
	// Docs is the number of documents with at least one indexed term
	// (N). Rows whose text is null, empty, or all stop words do not count,
	// as in Lucene, so adding them or not changes nothing.
	Docs int64
	// TotalLen is the sum of those documents' lengths.
	TotalLen int64
	// DF maps a term to the number of documents holding it. A term absent
	// from DF has document frequency 0.
	DF map[string]int64
}

// Add sums o into s (statistics of disjoint sets of documents add up).
func (s *Stats) Add(o Stats) {
	s.Docs += o.Docs
	s.TotalLen += o.TotalLen
	if len(o.DF) > 0 && s.DF == nil {
		s.DF = make(map[string]int64, len(o.DF))
	}
	for t, df := range o.DF {
		s.DF[t] += df
	}
}

// IDF returns ln(1 + (n − df + 0.5) / (df + 0.5)).
func IDF(n, df int64) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// bm25 holds the per-query constants of the BM25 formula.
type bm25 struct {
	norm0 float64 // K1 · (1 − B)
	norm1 float64 // K1 · B / avgdl
}

func newBM25(st Stats) bm25 {
	avgdl := 1.0
	if st.Docs > 0 && st.TotalLen > 0 {
		avgdl = float64(st.TotalLen) / float64(st.Docs)
	}
	return bm25{norm0: K1 * (1 - B), norm1: K1 * B / avgdl}
}

// score is the contribution of a clause of weight w occurring f times in a
// document of length dl.
func (s bm25) score(w float64, f, dl uint32) float64 {
	ff := float64(f)
	return w * ff * (K1 + 1) / (ff + s.norm0 + s.norm1*float64(dl))
}

// weights returns the BM25 weight of each clause of q under st.
func (q Query) weights(st Stats) []float64 {
	ws := make([]float64, len(q.clauses))
	for i, c := range q.clauses {
		for _, t := range c.terms {
			ws[i] += IDF(st.Docs, st.DF[t])
		}
	}
	return ws
}
