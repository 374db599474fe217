package lsm

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
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

// prepareSearch validates the nearest or search part of a query.
func (p *Plan) prepareSearch() error {
	q := p.q
	if q.Nearest != nil && q.Search != nil || q.PK != nil {
		return fmt.Errorf("%w: a query may carry at most one of pk, nearest, search", ErrInvalidArgument)
	}
	if q.Nearest != nil {
		return p.prepareNearest(q.Nearest)
	}
	return p.prepareFullText(q.Search)
}

// checkK validates the k of a nearest or search query.
func checkK(k int) error {
	if k < 1 || k > MaxK {
		return fmt.Errorf("%w: k = %d: want 1 to %d", ErrInvalidArgument, k, MaxK)
	}
	return nil
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

// hitRef is one winner: its segment, position and score.
type hitRef struct {
	layer, pos uint32
	score      float32
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
