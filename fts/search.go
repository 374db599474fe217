package fts

import "slices"

// Search returns the k best documents of ix for q among positions below
// maxPos (and Len()) for which allow returns true (nil: all), best first:
// BM25 score descending (see bm25.go), then position ascending. Scores use
// st, which should be the snapshot's statistics summed over all its layers
// (see Index.TermStats), so that scores from different layers compare;
// st must cover q.Terms(). q must have been parsed with ix.Config().
//
// With Or, a document matches if it holds any clause; with And, every
// clause. Its score sums the clauses it matches. Search is exhaustive
// over the matching documents (no dynamic pruning): its cost is linear in
// the postings of q's terms below the bound.
func (ix *Index) Search(q Query, st Stats, k int, maxPos uint32, allow func(pos uint32) bool) []Result {
	if k <= 0 || len(q.clauses) == 0 {
		return nil
	}
	s := ix.snapshot(maxPos)
	its := make([]clauseIter, 0, len(q.clauses))
	ws := q.weights(st)
	for i, c := range q.clauses {
		it := clauseIter{w: ws[i], offs: c.offs, curs: make([]cursor, len(c.terms))}
		empty := false
		for j, text := range c.terms {
			if t := ix.dict.lookup(text); t != nil {
				it.curs[j].post, it.curs[j].pos = t.view(s.bound)
			}
			empty = empty || len(it.curs[j].post) == 0
		}
		if empty {
			if q.op == And {
				return nil
			}
			continue
		}
		it.advance(0)
		its = append(its, it)
	}
	if len(its) == 0 {
		return nil
	}
	top := NewTopK(k)
	scorer := newBM25(st)
	push := func(d uint32) {
		if allow != nil && !allow(d) {
			return
		}
		dl := s.docs.length(d)
		score := 0.0
		for i := range its {
			if its[i].doc == d {
				score += scorer.score(its[i].w, its[i].freq, dl)
			}
		}
		top.Push(Hit{Score: float32(score), Pos: d})
	}
	if q.op == And {
		searchAnd(its, push)
	} else {
		searchOr(its, push)
	}
	hits := top.Hits()
	rs := make([]Result, len(hits))
	for i, h := range hits {
		rs[i] = Result{Pos: h.Pos, Score: h.Score}
	}
	return rs
}

// searchOr calls fn for every document matching any clause, in order,
// with the matching clauses positioned on it.
func searchOr(its []clauseIter, fn func(doc uint32)) {
	for {
		d := uint32(noDoc)
		for i := range its {
			d = min(d, its[i].doc)
		}
		if d == noDoc {
			return
		}
		fn(d)
		for i := range its {
			if its[i].doc == d {
				its[i].advance(d + 1)
			}
		}
	}
}

// searchAnd calls fn for every document matching all clauses, in order,
// with every clause positioned on it.
func searchAnd(its []clauseIter, fn func(doc uint32)) {
	// Drive by the rarest clause first: fewer, longer jumps.
	order := make([]*clauseIter, len(its))
	for i := range its {
		order[i] = &its[i]
	}
	slices.SortStableFunc(order, func(a, b *clauseIter) int {
		return len(a.curs[0].post) - len(b.curs[0].post)
	})
	d := uint32(0)
	for {
		for i := 0; i < len(order); {
			c := order[i]
			if c.doc < d {
				c.advance(d)
			}
			switch {
			case c.doc == noDoc:
				return
			case c.doc > d:
				d, i = c.doc, 0
				continue
			}
			i++
		}
		fn(d)
		d++
	}
}
