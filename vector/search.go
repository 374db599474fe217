package vector

import (
	"cmp"
	"slices"
)

// SearchParams are the options of Index.Search. Zero fields take defaults
// where a default exists.
type SearchParams struct {
	// K is how many results to return (1..MaxK).
	K int
	// NProbes is how many partitions to scan, nearest centroids first;
	// 0 means DefaultNProbes. When the probed partitions hold fewer than
	// K rows that pass MaxPos and Allow, further partitions are scanned,
	// in order, until K are found or every partition was scanned: a
	// selective filter still gets K results when K exist.
	NProbes int
	// MaxPos is the snapshot's visible bound: only positions < MaxPos are
	// considered (exclusive; 0 sees nothing, math.MaxUint32 everything).
	MaxPos uint32
	// Allow, if not nil, is the caller's row filter (prefilter, newest-wins
	// mask): rows for which it returns false are skipped. It is called
	// only for rows that would enter the candidate list, in no particular
	// order, from the calling goroutine.
	Allow func(pos uint32) bool
	// Exact, if not nil, turns on refinement: it returns the raw vector of
	// a position (the caller owns the vectors; the slice is only read, and
	// not retained), or nil to drop the row. The K*RefineFactor best ADC
	// candidates are then re-ranked by exact distance, and the distances
	// returned are exact. Without Exact, results carry ADC estimates.
	Exact func(pos uint32) []float32
	// RefineFactor is how many ADC candidates per result are re-ranked
	// when Exact is set; 0 means DefaultRefineFactor.
	RefineFactor int
	// StrictProbes stops after NProbes partitions even when they hold
	// fewer than K allowed rows. Callers that merge candidates from many
	// small indexes (one per Lance fragment) use it: otherwise a
	// 100-row index asked for 100 candidates scans every partition.
	StrictProbes bool
}

// maxCandidates bounds K*RefineFactor.
const maxCandidates = 1 << 22

// Search returns the K nearest rows to query among the rows of ix that are
// below p.MaxPos and allowed by p.Allow, best first, ties broken by
// position. See SearchParams for probing and refinement. Fewer than K
// results come back only when fewer such rows exist in the index. A bad
// query or parameter wraps ErrInvalid; so does an Exact vector of the
// wrong dimension.
func (ix *Index) Search(query []float32, p SearchParams) ([]Result, error) {
	if err := CheckQuery(query, ix.model.dim); err != nil {
		return nil, err
	}
	q := ix.model.Prepare(query)
	defer q.Release()
	return ix.SearchPrepared(q, p)
}

// PreparedQuery is a query's per-model state (its distances to the IVF
// centroids, the partition order, the PQ query tables), computed once and
// shared by searches of every index of that model: a snapshot searching
// hundreds of small per-fragment indexes would otherwise recompute it for
// each. It is not safe for concurrent use; Release returns it to a pool.
type PreparedQuery struct {
	s     *scan
	query []float32
}

// Prepare computes the per-query state of query (of the model's
// dimension, finite: check with CheckQuery first).
func (m *Model) Prepare(query []float32) *PreparedQuery {
	return &PreparedQuery{s: m.getScan(query), query: query}
}

// Release returns the state to the model's pool; q must not be used after.
func (q *PreparedQuery) Release() {
	if q.s != nil {
		q.s.m.cache.scans.Put(q.s)
		q.s = nil
	}
}

// SearchPrepared is Search with a prepared query of ix's model.
func (ix *Index) SearchPrepared(q *PreparedQuery, p SearchParams) ([]Result, error) {
	m := ix.model
	if q.s == nil || q.s.m != m {
		return nil, invalidf("prepared query of another model")
	}
	query := q.query
	if err := checkSearchArgs(query, m.dim, p.K, m.metric); err != nil {
		return nil, err
	}
	if p.NProbes < 0 || p.RefineFactor < 0 {
		return nil, invalidf("nprobes = %d and refine_factor = %d must not be negative", p.NProbes, p.RefineFactor)
	}
	nprobes := p.NProbes
	if nprobes == 0 {
		nprobes = DefaultNProbes
	}
	cand := p.K
	if p.Exact != nil {
		rf := p.RefineFactor
		if rf == 0 {
			rf = DefaultRefineFactor
		}
		cand = int(min(int64(p.K)*int64(rf), maxCandidates))
	}

	s := q.s
	top := NewTopK(cand)
	for i, part := range s.order {
		if i >= nprobes && (p.StrictProbes || top.Len() >= p.K) {
			break
		}
		s.scanPartition(&ix.lists[part], int(part), top, p.MaxPos, p.Allow)
	}
	if p.Exact == nil {
		return top.Results(), nil
	}
	return refine(top.Hits(), query, m, p)
}

// refine re-ranks ADC candidates by exact distance and keeps the best K.
func refine(hits []Hit, query []float32, m *Model, p SearchParams) ([]Result, error) {
	d := newDistancer(m.metric, query)
	top := NewTopK(p.K)
	for _, h := range hits {
		v := p.Exact(h.Pos)
		if v == nil {
			continue
		}
		if len(v) != m.dim {
			return nil, invalidf("exact vector of position %d has dimension %d, want %d", h.Pos, len(v), m.dim)
		}
		top.Push(Hit{Distance: d.distance(v), Pos: h.Pos})
	}
	return top.Results(), nil
}

// scan is the per-query state of an IVF-PQ search. Scans are pooled per
// model; getScan resets every field a search reads.
type scan struct {
	m      *Model
	q      []float32 // the query, normalized for cosine
	coarse []float32 // per partition: |q-c|^2 (L2, cosine) or -<q,c> (dot)
	order  []int32   // partitions by ascending coarse distance
	qt     []float32 // query table: queryTable(q) (L2, cosine), dotTable(q) (dot)
	lut    []float32 // the lookup table of the partition being scanned
	rq     []float32 // residual query, when tables are not precomputed
	tables []float32 // the model's centroid tables, or nil
	scale  float32   // 0.5 for cosine (|q-x|^2 = 2(1-cos) on the sphere), else 1
}

// getScan returns scan state for query from the model's pool.
func (m *Model) getScan(query []float32) *scan {
	k, per := m.ivf.k, m.pq.m*codebookSize
	s, _ := m.cache.scans.Get().(*scan)
	if s == nil {
		s = &scan{
			m:      m,
			q:      make([]float32, m.dim),
			coarse: make([]float32, k),
			order:  make([]int32, k),
			qt:     make([]float32, per),
			lut:    make([]float32, per),
			rq:     make([]float32, m.dim),
		}
	}
	copy(s.q, query)
	s.scale = 1
	if m.metric == Cosine {
		normalize(s.q)
		s.scale = 0.5
	}
	if m.metric == Dot {
		for p := range k {
			s.coarse[p] = -dot(s.q, m.ivf.row(p))
		}
		m.pq.dotTable(s.q, s.qt)
		s.tables = nil
	} else {
		m.ivf.partial(s.q, s.coarse)
		qn := dot(s.q, s.q)
		for p := range s.coarse {
			s.coarse[p] = max(0, s.coarse[p]+qn)
		}
		if s.tables = m.centroidTables(); s.tables != nil {
			m.pq.queryTable(s.q, s.qt)
		}
	}
	for p := range s.order {
		s.order[p] = int32(p)
	}
	slices.SortFunc(s.order, func(a, b int32) int {
		if c := cmp.Compare(s.coarse[a], s.coarse[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return s
}

// scanPartition offers every visible, allowed row of partition part to
// top, with its ADC distance.
func (s *scan) scanPartition(l *postingList, part int, top *TopK, maxPos uint32, allow func(uint32) bool) {
	m := s.m.pq.m
	per := m * codebookSize
	base := s.coarse[part]
	lut := s.lut
	switch {
	case s.m.metric == Dot:
		lut = s.qt // the query table is the lookup table of every partition
	case s.tables != nil:
		add(lut, s.qt, s.tables[part*per:(part+1)*per])
	default:
		copy(s.rq, s.q)
		axpy(-1, s.m.ivf.row(part), s.rq)
		s.m.pq.queryTable(s.rq, lut)
	}
	scale := s.scale
	l.segments(m, func(pos []uint32, codes []byte) bool {
		for i, ps := range pos {
			if ps >= maxPos {
				return false // positions increase along a list
			}
			h := Hit{Distance: (base + adcSum(lut, codes[i*m:(i+1)*m])) * scale, Pos: ps}
			if !top.Admits(h) || (allow != nil && !allow(ps)) {
				continue
			}
			top.Push(h)
		}
		return true
	})
}
