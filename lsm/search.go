package lsm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/vector"
)

// Nearest and search over a snapshot.
//
// A snapshot is cut into segments: each memtable (its batches at or below
// the region's watermark) and each fragment of each flushed generation and
// of the base table. Every segment is searched for its own top k among the
// rows it may return: live in the snapshot (the newest version of their
// key: not superseded within the memtable, not present in a newer layer,
// not masked by a deletion file) and passing the prefilter. Because every
// segment returns only such rows, a superseded or deleted version never
// takes the place of a valid row in the top k. The segments' results are
// merged with a top-k heap, then the winners are read (memtables: a slice
// of the batch; Lance: Take) into the result with its score column.

type nearestPlan struct {
	vi      *vecIndex
	query   []float32
	k       int
	nprobes int
	refine  int
}

type searchPlan struct {
	ti *textIndex
	q  fts.Query
	k  int
}

// prepareSearch validates the nearest or search part of a query.
func (p *Plan) prepareSearch() error {
	q, t := p.q, p.t
	if q.Nearest != nil && q.Search != nil || q.PK != nil {
		return fmt.Errorf("%w: a query may carry at most one of pk, nearest, search", ErrInvalidArgument)
	}
	checkK := func(k int) error {
		if k < 1 || k > MaxK {
			return fmt.Errorf("%w: k = %d: want 1 to %d", ErrInvalidArgument, k, MaxK)
		}
		return nil
	}
	if nq := q.Nearest; nq != nil {
		vi, err := t.vecIndexFor(nq.Column)
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
	sq := q.Search
	col := ""
	switch len(sq.Columns) {
	case 0:
	case 1:
		col = sq.Columns[0]
	default:
		return fmt.Errorf("%w: search over %d columns: name one column with an fts index", ErrInvalidArgument, len(sq.Columns))
	}
	ti, err := t.textIndexFor(col)
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

// vecIndexFor finds the ivf_pq index of column ("" = the only one).
func (t *Table) vecIndexFor(column string) (*vecIndex, error) {
	return indexFor(t, t.idx.vecs, func(v *vecIndex) string { return v.def.Column }, "ivf_pq", `nearest needs "column"`, column)
}

// textIndexFor finds the fts index of column ("" = the only one).
func (t *Table) textIndexFor(column string) (*textIndex, error) {
	return indexFor(t, t.idx.texts, func(x *textIndex) string { return x.def.Column }, "fts", `search needs "columns"`, column)
}

// indexFor finds the index of type kind on column among idxs; column ""
// means the table's only index of that type (need says what to add when
// there are several).
func indexFor[I any](t *Table, idxs []I, columnOf func(I) string, kind, need, column string) (I, error) {
	var none I
	if column == "" {
		switch len(idxs) {
		case 0:
			return none, fmt.Errorf("%w: table %q has no %s index to search", ErrInvalidArgument, t.name, kind)
		case 1:
			return idxs[0], nil
		}
		return none, fmt.Errorf("%w: table %q has %d %s indexes: %s", ErrInvalidArgument, t.name, len(idxs), kind, need)
	}
	if !t.schema.HasField(column) {
		return none, fmt.Errorf("%w: column %q in table %q", ErrNotFound, column, t.name)
	}
	for _, x := range idxs {
		if columnOf(x) == column {
			return x, nil
		}
	}
	return none, fmt.Errorf("%w: column %q has no %s index (declare one at create_table)", ErrInvalidArgument, column, kind)
}

// segment is a memtable or a Lance fragment of a snapshot.
type segment struct {
	layer uint32 // index in the snapshot's segment list

	// memtable: its view, the visible batches and their end position
	mv  *memView
	vis []*memBatch
	end uint32

	// Lance fragment: dataset, its root in the table store, the fragment
	ds   *lance.Dataset
	root string
	frag lance.Fragment

	dead *roaring.Bitmap       // rows that are not live in the snapshot; nil: none
	live func(pos uint32) bool // or: whether a row is live; nil: all
	pass []bool                // prefilter result per position; nil: all pass
}

// allow admits the live rows that pass the prefilter.
func (sg *segment) allow(pos uint32) bool {
	if sg.dead != nil && sg.dead.Contains(pos) {
		return false
	}
	if sg.live != nil && !sg.live(pos) {
		return false
	}
	return sg.pass == nil || (int(pos) < len(sg.pass) && sg.pass[pos])
}

// batchAt locates a memtable position in the visible batches.
func (sg *segment) batchAt(pos uint32) (int, int) { return locateIndex(sg.vis, pos) }

func deadOf(m map[uint64]*roaring.Bitmap, frag uint64) *roaring.Bitmap {
	bm := m[frag]
	if bm == nil {
		bm = roaring.New()
		m[frag] = bm
	}
	return bm
}

// segments cuts the snapshot into segments and says which of their rows
// are live. A row is dead if its key has a version in a newer layer of its
// region (memtables newest first, then generations newest first, then the
// base), if a newer batch of its own memtable superseded it at or below
// the watermark, or if a base deletion file masks it.
//
// With dead, every segment gets the bitmap of its dead rows (full-text
// statistics need them all): the newer layers' keys are probed in the
// older layers' key indexes, so the cost grows with the rows above the
// base, not with the base. Without, every segment gets a liveness check
// for single rows, which nearest calls only for its candidates.
func (s *Snapshot) segments(ctx context.Context, dead bool) ([]*segment, error) {
	if !dead {
		return s.segmentsLive(ctx)
	}
	t := s.t
	var segs []*segment
	var allNewer [][]Key // keys of every layer above the base
	for ri := range s.regions {
		rs := &s.regions[ri]
		var newer [][]Key
		for li := range rs.mems {
			mv := &rs.mems[li]
			sg := memSegment(mv, rs.w)
			if t.pkCol >= 0 {
				dead := roaring.New()
				var keys []Key
				// Keys are needed only if an older layer exists.
				older := li < len(rs.mems)-1 || len(rs.gens) > 0 || (s.base != nil && len(s.base.ds.Fragments()) > 0)
				for _, b := range sg.vis {
					if older {
						read := keyReader(b.rec.Column(mv.m.keyColumn(b.op)))
						for i := 0; i < b.rows(); i++ {
							keys = append(keys, read(i))
						}
					}
					if b.op != OpUpsert {
						continue
					}
					for i := 0; i < b.rows(); i++ {
						if !b.live(i, rs.w) {
							dead.Add(b.first + uint32(i))
						}
					}
				}
				for _, nk := range newer {
					for _, k := range nk {
						if b, row, ok := mv.m.lookup(k, rs.w); ok && b.op == OpUpsert {
							dead.Add(b.first + uint32(row))
						}
					}
				}
				sg.dead = dead
				newer = append(newer, keys)
			}
			segs = append(segs, sg)
		}
		for _, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				return nil, err
			}
			dead := map[uint64]*roaring.Bitmap{}
			if t.pkCol >= 0 {
				for _, nk := range newer {
					for _, k := range nk {
						if loc, ok := g.keys[k]; ok {
							deadOf(dead, loc.frag).Add(loc.row)
						}
					}
				}
				keys := make([]Key, 0, len(g.keys)+len(g.tombs))
				for k := range g.keys {
					keys = append(keys, k)
				}
				for k := range g.tombs {
					keys = append(keys, k)
				}
				newer = append(newer, keys)
			}
			for _, f := range g.ds.Fragments() {
				segs = append(segs, &segment{ds: g.ds, root: g.root, frag: f, dead: dead[f.ID]})
			}
		}
		allNewer = append(allNewer, newer...)
	}
	if b := s.base; b != nil && len(b.ds.Fragments()) > 0 {
		if err := b.load(ctx, t); err != nil {
			return nil, err
		}
		dead := map[uint64]*roaring.Bitmap{}
		for f, bm := range b.dels {
			dead[f] = bm.Clone()
		}
		if t.pkCol >= 0 {
			for _, nk := range allNewer {
				for _, k := range nk {
					if loc, ok := b.keys[k]; ok {
						deadOf(dead, loc.frag).Add(loc.row)
					}
				}
			}
		}
		for _, f := range b.ds.Fragments() {
			segs = append(segs, &segment{ds: b.ds, frag: f, dead: dead[f.ID]})
		}
	}
	for i, sg := range segs {
		sg.layer = uint32(i)
	}
	return segs, nil
}

// memSegment is the segment of a memtable's batches at or below
// watermark w.
func memSegment(mv *memView, w uint64) *segment {
	sg := &segment{mv: mv}
	for _, b := range mv.list {
		if b.seq > w {
			break // lists are in sequence order
		}
		sg.vis = append(sg.vis, b)
	}
	if n := len(sg.vis); n > 0 {
		sg.end = sg.vis[n-1].first + uint32(sg.vis[n-1].rows())
	}
	return sg
}

// segmentsLive cuts the snapshot into segments with a liveness check per
// row (see segments).
func (s *Snapshot) segmentsLive(ctx context.Context) ([]*segment, error) {
	t := s.t
	pk := t.pkCol >= 0
	var segs []*segment
	for ri := range s.regions {
		rs := &s.regions[ri]
		for li := range rs.mems {
			mv := &rs.mems[li]
			sg := memSegment(mv, rs.w)
			if pk {
				newer := rs.mems[:li]
				readers := make([]func(int) Key, len(sg.vis))
				sg.live = func(pos uint32) bool {
					bi, i := sg.batchAt(pos)
					b := sg.vis[bi]
					if !b.live(i, rs.w) {
						return false
					}
					if len(newer) == 0 {
						return true
					}
					if readers[bi] == nil {
						readers[bi] = keyReader(b.rec.Column(mv.m.keyColumn(b.op)))
					}
					return !rs.hiddenByNewer(newer, nil, readers[bi](i))
				}
			}
			segs = append(segs, sg)
		}
		for gi, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				return nil, err
			}
			newerGens := rs.gens[:gi]
			for _, f := range g.ds.Fragments() {
				sg := &segment{ds: g.ds, root: g.root, frag: f}
				if rk := g.rowKeys[f.ID]; pk && (len(rs.mems) > 0 || len(newerGens) > 0) {
					sg.live = func(pos uint32) bool { return !rs.hiddenByNewer(rs.mems, newerGens, rk[pos]) }
				}
				segs = append(segs, sg)
			}
		}
	}
	if b := s.base; b != nil && len(b.ds.Fragments()) > 0 {
		if err := b.load(ctx, t); err != nil {
			return nil, err
		}
		for _, f := range b.ds.Fragments() {
			sg := &segment{ds: b.ds, frag: f}
			dels, rk := b.dels[f.ID], b.rowKeys[f.ID]
			sg.live = func(pos uint32) bool {
				if dels != nil && dels.Contains(pos) {
					return false
				}
				if !pk {
					return true
				}
				k := rk[pos]
				rs := &s.regions[t.kt.hash(k)%uint64(len(s.regions))]
				return !rs.hiddenByNewer(rs.mems, rs.gens, k)
			}
			segs = append(segs, sg)
		}
	}
	for i, sg := range segs {
		sg.layer = uint32(i)
	}
	return segs, nil
}

// prefilter evaluates the plan's filter over a segment's rows.
func (s *Snapshot) prefilter(ctx context.Context, mem memory.Allocator, p *Plan, sg *segment) error {
	if p.filter == nil || sg.pass != nil {
		return nil
	}
	eval := func(rec arrow.RecordBatch, into []bool) error {
		m, err := p.filter.Eval(ctx, mem, rec)
		if err != nil {
			return fmt.Errorf("%w: evaluating filter: %w", ErrInvalidArgument, err)
		}
		defer m.Release()
		for i := range into {
			into[i] = m.Value(i)
		}
		return nil
	}
	if sg.mv != nil {
		pass := make([]bool, sg.end)
		for _, b := range sg.vis {
			if b.op != OpUpsert {
				continue
			}
			if err := eval(b.rec, pass[b.first:b.first+uint32(b.rows())]); err != nil {
				return err
			}
		}
		sg.pass = pass
		return nil
	}
	rec, err := sg.ds.Take(ctx, mem, sg.frag.ID, allRows(sg.frag), p.filterCols)
	if err != nil {
		return wrapStoreErr(err)
	}
	defer rec.Release()
	pass := make([]bool, rec.NumRows())
	if err := eval(rec, pass); err != nil {
		return err
	}
	sg.pass = pass
	return nil
}

// hitRef is one winner: its segment, position and score.
type hitRef struct {
	layer, pos uint32
	score      float32
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

// materialize reads the winning rows, in rank order, projected, with the
// score column, and emits them as one batch (limit applied).
func (s *Snapshot) materialize(ctx context.Context, mem memory.Allocator, p *Plan, segs []*segment, hits []hitRef, emit func(arrow.RecordBatch) error) error {
	if p.q.Limit != nil && int64(len(hits)) > *p.q.Limit {
		hits = hits[:*p.q.Limit]
	}
	if len(hits) == 0 {
		return nil
	}
	rowSchema := p.rowSchema
	names := make([]string, rowSchema.NumFields())
	for i, f := range rowSchema.Fields() {
		names[i] = f.Name
	}
	// Fragment rows: one Take per fragment.
	type taken struct {
		rec arrow.RecordBatch
		at  map[uint32]int
	}
	takes := map[uint32]*taken{}
	var parts []arrow.RecordBatch
	defer func() {
		for _, tk := range takes {
			if tk.rec != nil {
				tk.rec.Release()
			}
		}
		for _, r := range parts {
			r.Release()
		}
	}()
	if len(names) > 0 {
		rowsOf := map[uint32][]uint64{}
		for _, h := range hits {
			if segs[h.layer].mv == nil {
				rowsOf[h.layer] = append(rowsOf[h.layer], uint64(h.pos))
			}
		}
		for layer, rows := range rowsOf {
			slices.Sort(rows)
			rows = slices.Compact(rows)
			sg := segs[layer]
			rec, err := sg.ds.Take(ctx, mem, sg.frag.ID, rows, names)
			if err != nil {
				return wrapStoreErr(err)
			}
			cols := make([]arrow.Array, len(names))
			for i, n := range names {
				idx := rec.Schema().FieldIndices(n)
				if len(idx) == 0 {
					rec.Release()
					return fmt.Errorf("internal: column %q missing from a fragment read", n)
				}
				cols[i] = rec.Column(idx[0])
			}
			tk := &taken{rec: array.NewRecordBatch(rowSchema, cols, rec.NumRows()), at: map[uint32]int{}}
			rec.Release()
			for i, r := range rows {
				tk.at[uint32(r)] = i
			}
			takes[layer] = tk
		}
	}
	for _, h := range hits {
		sg := segs[h.layer]
		var full arrow.RecordBatch
		var row int
		switch {
		case len(names) == 0:
			full = array.NewRecordBatch(rowSchema, nil, 1)
		case sg.mv != nil:
			bi, i := sg.batchAt(h.pos)
			b := sg.vis[bi]
			cols := make([]arrow.Array, len(p.cols))
			for j, c := range p.cols {
				cols[j] = b.rec.Column(c)
			}
			full, row = array.NewRecordBatch(rowSchema, cols, b.rec.NumRows()), i
		default:
			tk := takes[h.layer]
			full, row = tk.rec, tk.at[h.pos]
			full.Retain()
		}
		parts = append(parts, full.NewSlice(int64(row), int64(row)+1))
		full.Release()
	}
	rec, err := concatRecords(mem, rowSchema, parts)
	if err != nil {
		return err
	}
	defer rec.Release()
	fb := array.NewFloat32Builder(mem)
	defer fb.Release()
	for _, h := range hits {
		fb.Append(h.score)
	}
	score := fb.NewArray()
	defer score.Release()
	cols := append(slices.Clone(rec.Columns()), score)
	out := array.NewRecordBatch(p.schema, cols, int64(len(hits)))
	defer out.Release()
	return emit(out)
}
