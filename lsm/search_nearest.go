package lsm

// nearest: vector search over a snapshot's segments.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/vector"
)

type nearestPlan struct {
	vi      *vecIndex
	query   []float32
	k       int
	nprobes int
	refine  int
}

// prepareNearest validates the nearest part of a query.
func (p *Plan) prepareNearest(nq *NearestQuery) error {
	vi, err := p.t.vecIndexFor(nq.Column)
	if err != nil {
		return err
	}
	if err := checkK(nq.K); err != nil {
		return err
	}
	if len(nq.Vector) == 0 {
		return fmt.Errorf("%w: nearest needs a query vector", ErrInvalidArgument)
	}
	if err := vector.CheckQuery(nq.Vector, vi.dim); err != nil {
		return fmt.Errorf("%w: nearest on %q: %w", ErrInvalidArgument, vi.def.Column, err)
	}
	if nq.Metric != "" {
		m, err := vector.ParseMetric(nq.Metric)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		if m != vi.metric {
			return fmt.Errorf("%w: metric %q: the ivf_pq index %q on %q uses %s", ErrInvalidArgument, nq.Metric, vi.def.Name, vi.def.Column, vi.metric)
		}
	}
	if vi.metric == vector.Cosine && !slices.ContainsFunc(nq.Vector, func(x float32) bool { return x != 0 }) {
		// Every cosine distance to a zero vector is 1: no ranking.
		return fmt.Errorf("%w: nearest on %q: a zero query vector has no cosine distance", ErrInvalidArgument, vi.def.Column)
	}
	if nq.NProbes < 0 || nq.NProbes > vector.MaxPartitions {
		return fmt.Errorf("%w: nprobes = %d: want 0 (default) to %d", ErrInvalidArgument, nq.NProbes, vector.MaxPartitions)
	}
	if nq.RefineFactor < 0 || nq.RefineFactor > 1000 {
		return fmt.Errorf("%w: refine_factor = %d: want 0 (default) to 1000", ErrInvalidArgument, nq.RefineFactor)
	}
	np := &nearestPlan{vi: vi, query: slices.Clone(nq.Vector), k: nq.K, nprobes: nq.NProbes, refine: nq.RefineFactor}
	if np.nprobes == 0 {
		np.nprobes = vector.DefaultNProbes
	}
	if np.refine == 0 {
		np.refine = vector.DefaultRefineFactor
	}
	p.nearest = np
	return nil
}

// vecIndexFor finds the ivf_pq index of column ("" = the only one).
func (t *Table) vecIndexFor(column string) (*vecIndex, error) {
	return indexFor(t, t.idx.vecs, func(v *vecIndex) string { return v.def.Column }, "ivf_pq", `nearest needs "column"`, column)
}

func searchErr(err error) error {
	if errors.Is(err, vector.ErrInvalid) {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return err
}

// runNearest answers a nearest query.
func (s *Snapshot) runNearest(ctx context.Context, mem memory.Allocator, p *Plan, emit func(arrow.RecordBatch) error) error {
	np := p.nearest
	segs, err := s.segments(ctx, false)
	if err != nil {
		return err
	}
	for _, sg := range segs {
		if err := s.prefilter(ctx, mem, p, sg); err != nil {
			return err
		}
	}
	// Fragments probe strictly nprobes partitions first; only if that
	// finds fewer than k rows (a selective prefilter) is it run again
	// probing until k are found, so k results come back when k exist.
	top, err := s.nearestOnce(ctx, mem, segs, np, true)
	if err == nil && top.Len() < np.k {
		top, err = s.nearestOnce(ctx, mem, segs, np, false)
	}
	if err != nil {
		return searchErr(err)
	}
	hits := top.Hits()
	refs := make([]hitRef, len(hits))
	for i, h := range hits {
		refs[i] = hitRef{layer: h.Layer, pos: h.Pos, score: h.Distance}
	}
	return s.materialize(ctx, mem, p, segs, refs, emit)
}

// nearestOnce searches every segment and returns the k best rows.
// Indexed Lance fragments give ADC candidates; they are merged across
// fragments (one model: estimates compare) and only the best
// k*refine_factor of them all are read and re-ranked exactly. Per
// fragment, a base of 620 small fragments would read every vector.
func (s *Snapshot) nearestOnce(ctx context.Context, mem memory.Allocator, segs []*segment, np *nearestPlan, strict bool) (*vector.TopK, error) {
	model := np.vi.model.Load()
	var pq *vector.PreparedQuery // the query's model tables, shared by every fragment
	if model != nil {
		pq = model.Prepare(np.query)
		defer pq.Release()
	}
	top := vector.NewTopK(np.k)
	cands := vector.NewTopK(min(np.k*np.refine, vector.MaxK))
	for _, sg := range segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var res []vector.Result
		var err error
		adc := false
		if sg.mv != nil {
			res, err = nearestMem(sg, np, model)
		} else {
			res, adc, err = s.nearestFrag(ctx, mem, sg, np, model, pq, strict)
		}
		if err != nil {
			return nil, err
		}
		into := top
		if adc {
			into = cands
		}
		for _, r := range res {
			into.Push(vector.Hit{Distance: r.Distance, Layer: sg.layer, Pos: r.Pos})
		}
	}
	return top, s.refineExact(ctx, mem, segs, np, cands.Hits(), top)
}

// refineExact reads the vectors of the ADC candidates, fragment by
// fragment, and pushes them into top with their exact distance.
func (s *Snapshot) refineExact(ctx context.Context, mem memory.Allocator, segs []*segment, np *nearestPlan, cands []vector.Hit, top *vector.TopK) error {
	byLayer := map[uint32][]uint64{}
	for _, c := range cands {
		byLayer[c.Layer] = append(byLayer[c.Layer], uint64(c.Pos))
	}
	for layer, rows := range byLayer {
		sg := segs[layer]
		slices.Sort(rows)
		rows = slices.Compact(rows)
		rec, err := sg.ds.Take(ctx, mem, sg.frag.ID, rows, []string{np.vi.def.Column})
		if err != nil {
			return wrapStoreErr(err)
		}
		arr := rec.Column(0)
		vals, dim, err := vector.Float32Vectors(arr)
		if err != nil {
			rec.Release()
			return err
		}
		for i, row := range rows {
			if arr.IsValid(i) {
				top.Push(vector.Hit{Distance: np.vi.metric.Distance(np.query, vals[i*dim:(i+1)*dim]), Layer: layer, Pos: uint32(row)})
			}
		}
		rec.Release()
	}
	return nil
}

// nearestMem searches a memtable: its index below the index's published
// bound (exact distances: refinement reads the rows' vectors in memory),
// and the rows between that bound and the snapshot's end exactly.
func nearestMem(sg *segment, np *nearestPlan, model *vector.Model) ([]vector.Result, error) {
	vi := np.vi
	dim := vi.dim
	vecs := make([][]float32, len(sg.vis))
	batchVecs := func(bi int) ([]float32, error) {
		if vecs[bi] == nil {
			v, _, err := vector.Float32Vectors(sg.vis[bi].rec.Column(vi.col))
			if err != nil {
				return nil, err
			}
			vecs[bi] = v
		}
		return vecs[bi], nil
	}
	var out []vector.Result
	var idxMax uint32
	if model != nil && sg.mv.m.idx != nil {
		mx := &sg.mv.m.idx.vecs[vi.pos]
		if ix := mx.ix.Load(); ix != nil {
			idxMax = min(mx.bound.Load(), sg.end)
		}
		if idxMax > 0 {
			res, err := mx.ix.Load().Search(np.query, vector.SearchParams{
				K: np.k, NProbes: min(np.nprobes, model.Partitions()), MaxPos: idxMax,
				Allow: sg.allow,
				Exact: func(pos uint32) []float32 {
					bi, i := sg.batchAt(pos)
					v, err := batchVecs(bi)
					if err != nil {
						return nil
					}
					return v[i*dim : (i+1)*dim]
				},
				RefineFactor: np.refine,
			})
			if err != nil {
				return nil, err
			}
			out = append(out, res...)
		}
	}
	for bi, b := range sg.vis {
		end := b.first + uint32(b.rows())
		if end <= idxMax || b.op != OpUpsert {
			continue
		}
		lo := max(idxMax, b.first) - b.first
		v, err := batchVecs(bi)
		if err != nil {
			return nil, err
		}
		arr := b.rec.Column(vi.col)
		res, err := vector.FlatSearch(v[int(lo)*dim:b.rows()*dim], dim, np.query, np.k, vi.metric, func(p uint32) bool {
			i := lo + p
			return arr.IsValid(int(i)) && sg.allow(b.first+i)
		})
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			r.Pos += b.first + lo
			out = append(out, r)
		}
	}
	return out, nil
}

// nearestFrag searches a Lance fragment: with its index, the best
// k*refine_factor candidates by ADC (adc is true: the distances are
// estimates, refineExact re-ranks them); without one (the model or the
// fragment's index not built yet), exactly.
func (s *Snapshot) nearestFrag(ctx context.Context, mem memory.Allocator, sg *segment, np *nearestPlan, model *vector.Model, pq *vector.PreparedQuery, strict bool) (res []vector.Result, adc bool, err error) {
	x, vi := s.t.idx, np.vi
	if model != nil {
		ix, err := x.fragVectors(ctx, sg.ds, sg.root, sg.frag, vi, false)
		if err != nil {
			return nil, false, err
		}
		if ix != nil {
			cands, err := ix.SearchPrepared(pq, vector.SearchParams{
				K: min(np.k*np.refine, vector.MaxK), NProbes: min(np.nprobes, model.Partitions()),
				MaxPos: math.MaxUint32, Allow: sg.allow, StrictProbes: strict,
			})
			return cands, true, err
		}
		x.kick.kick() // build it in the background; exact meanwhile
	}
	rec, err := sg.ds.Take(ctx, mem, sg.frag.ID, allRows(sg.frag), []string{vi.def.Column})
	if err != nil {
		return nil, false, wrapStoreErr(err)
	}
	defer rec.Release()
	arr := rec.Column(0)
	vals, dim, err := vector.Float32Vectors(arr)
	if err != nil {
		return nil, false, err
	}
	res, err = vector.FlatSearch(vals[:arr.Len()*dim], dim, np.query, np.k, vi.metric, func(p uint32) bool {
		return arr.IsValid(int(p)) && sg.allow(p)
	})
	return res, false, err
}
