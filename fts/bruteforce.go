package fts

// BruteForce is the reference scorer: it analyzes every live document of
// docs at call time, computes the collection statistics over the live
// documents (Stats semantics: documents with at least one term), and
// scores every document with the same BM25 formula and arithmetic as
// Index.Search. It returns the k best live documents, best first (score
// descending, then index ascending), with Result.Pos the index in docs.
// live == nil means every document is live; q must have been parsed with
// cfg.
//
// Given the same live rows, Index.Search over any split of them into
// layers, with the layers' summed TermStats, returns the same results.
// Tests and benchmarks of this and other packages use it as ground truth.
func BruteForce(docs []string, live func(i int) bool, q Query, cfg TokenizerConfig, k int) []Result {
	if k <= 0 || len(q.clauses) == 0 {
		return nil
	}
	terms := q.Terms()
	slot := make(map[string]int, len(terms))
	for i, t := range terms {
		slot[t] = i
	}
	// A document holding a query term: its length and, per query term,
	// its token positions.
	type match struct {
		doc int
		dl  uint32
		pos [][]uint32
	}
	var (
		matches []match
		st      = Stats{DF: make(map[string]int64, len(terms))}
		a       = analyzer{cfg: cfg.normalized()}
		cache   = newTermCache[int]() // word → query term slot, -1 other, -2 dropped
	)
	for i, text := range docs {
		if live != nil && !live(i) {
			continue
		}
		var m *match
		dl := uint32(0)
		a.it.reset(text)
		for p := uint32(0); a.it.next(); p = satInc(p) {
			s, ok := cache.get(a.it.word)
			if !ok {
				s = -2
				if t, keep := a.term(a.it.word, a.it.runes); keep {
					s = -1
					if j, isQ := slot[t]; isQ {
						s = j
					}
				}
				cache.put(a.it.word, s)
			}
			if s == -2 {
				continue
			}
			dl++
			if s >= 0 {
				if m == nil {
					matches = append(matches, match{doc: i, pos: make([][]uint32, len(terms))})
					m = &matches[len(matches)-1]
				}
				m.pos[s] = append(m.pos[s], p)
			}
		}
		if dl > 0 {
			st.Docs++
			st.TotalLen += int64(dl)
		}
		if m != nil {
			m.dl = dl
			for j, ps := range m.pos {
				if len(ps) > 0 {
					st.DF[terms[j]]++
				}
			}
		}
	}
	ws := q.weights(st)
	scorer := newBM25(st)
	top := NewTopK(k)
	for _, m := range matches {
		score, all, any := 0.0, true, false
		for ci, c := range q.clauses {
			f := clauseFreq(c, func(t string) []uint32 { return m.pos[slot[t]] })
			if f == 0 {
				all = false
				continue
			}
			any = true
			score += scorer.score(ws[ci], f, m.dl)
		}
		if (q.op == And && !all) || !any {
			continue
		}
		top.Push(Hit{Score: float32(score), Pos: uint32(m.doc)})
	}
	hits := top.Hits()
	rs := make([]Result, len(hits))
	for i, h := range hits {
		rs[i] = Result{Pos: h.Pos, Score: h.Score}
	}
	return rs
}

// clauseFreq counts the occurrences of clause c in a document, given each
// term's positions in it: the positions p with c.terms[i] at p + c.offs[i]
// for every i, by direct search (independent of cursor.go's merge).
func clauseFreq(c clause, positions func(term string) []uint32) uint32 {
	n := uint32(0)
	for _, p := range positions(c.terms[0]) {
		ok := true
		for i := 1; i < len(c.terms) && ok; i++ {
			ok = containsPos(positions(c.terms[i]), uint64(p)+uint64(c.offs[i]))
		}
		if ok {
			n++
		}
	}
	return n
}

func containsPos(ps []uint32, want uint64) bool {
	for _, p := range ps {
		if uint64(p) == want {
			return true
		}
	}
	return false
}
