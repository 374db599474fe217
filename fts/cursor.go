package fts

import "math"

// noDoc is the document of an exhausted cursor; real documents are below
// it (Add rejects position math.MaxUint32).
const noDoc = math.MaxUint32

// cursor walks the postings of one term in document order.
type cursor struct {
	post []posting
	pos  []uint32
	i    int
}

func (c *cursor) doc() uint32 {
	if c.i < len(c.post) {
		return c.post[c.i].doc
	}
	return noDoc
}

// seek moves to the first posting whose document is at least target.
func (c *cursor) seek(target uint32) {
	if c.i < len(c.post) && c.post[c.i].doc < target {
		c.i += searchDoc(c.post[c.i:], target)
	}
}

func (c *cursor) tf() uint32 {
	start, end := span(c.post, c.i)
	return end - start
}

// positions returns the token positions of the current posting.
func (c *cursor) positions() []uint32 {
	start, end := span(c.post, c.i)
	return c.pos[start:end]
}

// clauseIter walks the documents matching one clause of a query, with
// the clause's frequency in each: the term frequency for a term, the
// number of occurrences for a phrase.
type clauseIter struct {
	w    float64  // BM25 weight
	curs []cursor // one per term of the clause
	offs []uint32 // the clause's offsets
	doc  uint32   // current document, noDoc when exhausted
	freq uint32   // the clause's frequency in doc
	buf  []uint32 // phrase matching scratch
}

// advance moves to the first matching document at or after target.
func (c *clauseIter) advance(target uint32) {
	if len(c.curs) == 1 {
		cu := &c.curs[0]
		cu.seek(target)
		if c.doc = cu.doc(); c.doc != noDoc {
			c.freq = cu.tf()
		}
		return
	}
	for d := target; ; d++ {
		d = leapfrog(c.curs, d)
		if d == noDoc {
			c.doc = noDoc
			return
		}
		if f := c.phraseFreq(); f > 0 {
			c.doc, c.freq = d, f
			return
		}
	}
}

// leapfrog moves every cursor to the first document at or after d that
// all hold, and returns it (noDoc if none).
func leapfrog(curs []cursor, d uint32) uint32 {
	for i := 0; i < len(curs); {
		cu := &curs[i]
		cu.seek(d)
		switch nd := cu.doc(); {
		case nd == noDoc:
			return noDoc
		case nd > d:
			d, i = nd, 0
			continue
		}
		i++
	}
	return d
}

// phraseFreq returns the number of positions p of the current document
// (every cursor on it) such that term i occurs at p + offs[i] for all i.
func (c *clauseIter) phraseFreq() uint32 {
	// Candidates are the starts implied by term 0 (offs[0] == 0), filtered
	// by each further term.
	cand := append(c.buf[:0], c.curs[0].positions()...)
	for i := 1; i < len(c.curs) && len(cand) > 0; i++ {
		cand = filterStarts(cand, c.curs[i].positions(), c.offs[i])
	}
	c.buf = cand
	return uint32(len(cand))
}

// filterStarts keeps the starts s of cand (increasing) such that s+off is
// in ps (increasing), in place.
func filterStarts(cand, ps []uint32, off uint32) []uint32 {
	out, j := cand[:0], 0
	for _, s := range cand {
		want := uint64(s) + uint64(off)
		for j < len(ps) && uint64(ps[j]) < want {
			j++
		}
		if j == len(ps) {
			break
		}
		if uint64(ps[j]) == want {
			out = append(out, s)
		}
	}
	return out
}
