package lsm

// search: full-text (BM25) search over a snapshot's segments.

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/fts"
)

type searchPlan struct {
	ti *textIndex
	q  fts.Query
	k  int
}

// prepareFullText validates the search part of a query.
func (p *Plan) prepareFullText(sq *SearchQuery) error {
	col := ""
	switch len(sq.Columns) {
	case 0:
	case 1:
		col = sq.Columns[0]
	default:
		return fmt.Errorf("%w: search over %d columns: name one column with an fts index", ErrInvalidArgument, len(sq.Columns))
	}
	ti, err := p.t.textIndexFor(col)
	if err != nil {
		return err
	}
	if err := checkK(sq.K); err != nil {
		return err
	}
	op, err := fts.ParseOperator(sq.Operator)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	fq, err := fts.ParseQuery(sq.Query, ti.cfg, fts.WithOperator(op))
	if err != nil {
		return fmt.Errorf("%w: search query: %w", ErrInvalidArgument, err)
	}
	p.search = &searchPlan{ti: ti, q: fq, k: sq.K}
	return nil
}

// textIndexFor finds the fts index of column ("" = the only one).
func (t *Table) textIndexFor(column string) (*textIndex, error) {
	return indexFor(t, t.idx.texts, func(x *textIndex) string { return x.def.Column }, "fts", `search needs "columns"`, column)
}

// ftsPart is one index searched for a full-text query: a memtable's
// index (below its bound), a temporary index of the memtable rows past the
// bound (positions shifted by offset), or a fragment's index.
type ftsPart struct {
	sg     *segment
	ix     *fts.Index
	maxPos uint32
	offset uint32
}

// runSearch answers a full-text query: BM25 statistics over the live rows
// of every segment (not only those passing the prefilter), then each
// part's top k under them, merged.
func (s *Snapshot) runSearch(ctx context.Context, mem memory.Allocator, p *Plan, emit func(arrow.RecordBatch) error) error {
	sp := p.search
	ti := sp.ti
	terms := sp.q.Terms()
	segs, err := s.segments(ctx, true)
	if err != nil {
		return err
	}
	var parts []ftsPart
	var st fts.Stats
	for _, sg := range segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if sg.mv == nil {
			ix, err := s.t.idx.fragText(ctx, sg.ds, sg.root, sg.frag, ti)
			if err != nil {
				return err
			}
			st.Add(ix.TermStatsExcept(terms, math.MaxUint32, sg.dead))
			parts = append(parts, ftsPart{sg: sg, ix: ix, maxPos: math.MaxUint32})
			continue
		}
		var bound uint32
		if mi := sg.mv.m.idx; mi != nil {
			mt := &mi.texts[ti.pos]
			bound = min(mt.bound.Load(), sg.end)
			st.Add(mt.ix.TermStatsExcept(terms, bound, sg.dead))
			parts = append(parts, ftsPart{sg: sg, ix: mt.ix, maxPos: bound})
		}
		if bound < sg.end {
			tail := fts.NewIndex(ti.cfg)
			for _, b := range sg.vis {
				end := b.first + uint32(b.rows())
				if end <= bound || b.op != OpUpsert {
					continue
				}
				lo := max(bound, b.first) - b.first
				part := array.NewSlice(b.rec.Column(ti.col), int64(lo), int64(b.rows()))
				err := addTexts(tail, b.first+lo-bound, part)
				part.Release()
				if err != nil {
					return err
				}
			}
			off := bound
			st.Add(tail.TermStats(terms, math.MaxUint32, func(pos uint32) bool { return sg.dead == nil || !sg.dead.Contains(pos+off) }))
			parts = append(parts, ftsPart{sg: sg, ix: tail, maxPos: math.MaxUint32, offset: off})
		}
	}
	top := fts.NewTopK(sp.k)
	for _, pt := range parts {
		if err := s.prefilter(ctx, mem, p, pt.sg); err != nil {
			return err
		}
		res := pt.ix.Search(sp.q, st, sp.k, pt.maxPos, func(pos uint32) bool { return pt.sg.allow(pos + pt.offset) })
		for i := range res {
			res[i].Pos += pt.offset
		}
		top.PushResults(pt.sg.layer, res, nil)
	}
	hits := top.Hits()
	refs := make([]hitRef, len(hits))
	for i, h := range hits {
		refs[i] = hitRef{layer: h.Layer, pos: h.Pos, score: h.Score}
	}
	return s.materialize(ctx, mem, p, segs, refs, emit)
}
