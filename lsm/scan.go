package lsm

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lsm/filter"
)

// errLimitReached stops a scan early; Run turns it into success.
var errLimitReached = errors.New("limit reached")

// scanBatchRows is the batch size of scans over Lance datasets.
const scanBatchRows = 8192

// run executes plan over the snapshot, calling emit with each result batch
// (emit must Retain a batch it keeps). Rows are newest-wins per primary key:
// within a memtable a row is skipped once superseded at or below the
// watermark; a key present in a newer layer hides it in every older one.
func (s *Snapshot) run(ctx context.Context, mem memory.Allocator, p *Plan, emit func(arrow.RecordBatch) error) error {
	if s.err != nil {
		return s.err
	}
	out := &sink{p: p, mem: mem, emit: emit, limit: -1}
	if p.q.Limit != nil {
		out.limit = *p.q.Limit
		if out.limit == 0 {
			return nil
		}
	}
	var err error
	switch {
	case p.nearest != nil:
		err = s.runNearest(ctx, mem, p, emit)
	case p.search != nil:
		err = s.runSearch(ctx, mem, p, emit)
	case p.hasKeys:
		err = s.lookup(ctx, mem, p, out)
	default:
		err = s.scan(ctx, mem, p, out)
	}
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

func (s *Snapshot) scan(ctx context.Context, mem memory.Allocator, p *Plan, out *sink) error {
	for ri := range s.regions {
		rs := &s.regions[ri]
		for li, mv := range rs.mems {
			for _, b := range mv.list {
				if b.seq > rs.w {
					break // lists are in sequence order
				}
				if b.op == OpDelete {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				mask := rs.liveMask(b.rec.NumRows(), mv.m.pkCol, b.rec, func(i int) bool { return b.live(i, rs.w) }, li)
				if err := out.add(ctx, b.rec, mask); err != nil {
					return err
				}
			}
		}
		for gi, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				return err
			}
			li := len(rs.mems) + gi
			pkCol := -1
			err := g.ds.Scan(ctx, mem, p.scanColumns, scanBatchRows, func(frag lance.Fragment, first uint64, rec arrow.RecordBatch) error {
				if g.pkCol >= 0 && pkCol < 0 {
					pkCol = rec.Schema().FieldIndices(s.t.PrimaryKey())[0]
				}
				var live func(int) bool
				if g.dead[frag.ID] != nil {
					live = func(i int) bool { return g.live(frag.ID, uint32(first)+uint32(i)) }
				}
				mask := rs.liveMask(rec.NumRows(), pkCol, rec, live, li)
				return out.add(ctx, rec, mask)
			})
			if err != nil {
				return wrapStoreErr(err)
			}
		}
	}
	return s.scanBase(ctx, mem, p, out)
}

// scanBase reads the base table version of the snapshot: rows not deleted
// by its deletion files and not present in any newer layer of their region.
func (s *Snapshot) scanBase(ctx context.Context, mem memory.Allocator, p *Plan, out *sink) error {
	b := s.base
	if b == nil || len(b.ds.Fragments()) == 0 {
		return nil
	}
	if err := b.load(ctx, s.t); err != nil {
		return err
	}
	pkCol := -1
	err := b.ds.Scan(ctx, mem, p.scanColumns, scanBatchRows, func(frag lance.Fragment, first uint64, rec arrow.RecordBatch) error {
		if s.t.pkCol >= 0 && pkCol < 0 {
			pkCol = rec.Schema().FieldIndices(s.t.PrimaryKey())[0]
		}
		return out.add(ctx, rec, s.baseMask(b, frag.ID, first, rec, pkCol))
	})
	return wrapStoreErr(err)
}

// baseMask marks the live rows of a base batch; nil means all.
func (s *Snapshot) baseMask(b *baseLayer, frag, first uint64, rec arrow.RecordBatch, pkCol int) []bool {
	dels := b.dels[frag]
	var read func(int) Key
	if pkCol >= 0 {
		read = keyReader(rec.Column(pkCol))
	}
	var mask []bool
	for i := 0; i < int(rec.NumRows()); i++ {
		ok := dels == nil || !dels.Contains(uint32(first)+uint32(i))
		if ok && read != nil {
			k := read(i)
			rs := &s.regions[s.t.layout.keyRegion(k, s.t.kt)]
			ok = !rs.shadowed(k, rs.layers())
		}
		if !ok && mask == nil {
			mask = make([]bool, rec.NumRows())
			for j := 0; j < i; j++ {
				mask[j] = true
			}
		}
		if mask != nil {
			mask[i] = ok
		}
	}
	return mask
}

// liveMask says which rows of rec, read from layer li, are the newest
// visible version of their key in the snapshot (layers.go): live(i) within
// their own layer (nil: all) and not shadowed by a newer layer. A nil
// mask means all rows.
func (rs *regionSnap) liveMask(rows int64, pkCol int, rec arrow.RecordBatch, live func(int) bool, li int) []bool {
	if pkCol < 0 || (live == nil && li == 0) {
		return nil
	}
	var mask []bool
	var read func(int) Key
	for i := 0; i < int(rows); i++ {
		ok := live == nil || live(i)
		if ok && li > 0 {
			if read == nil {
				read = keyReader(rec.Column(pkCol))
			}
			ok = !rs.shadowed(read(i), li)
		}
		if !ok && mask == nil {
			mask = make([]bool, rows)
			for j := 0; j < i; j++ {
				mask[j] = true
			}
		}
		if mask != nil {
			mask[i] = ok
		}
	}
	return mask
}

// lookup answers a primary-key query: for each key, the newest version in
// the snapshot, unless it is a tombstone.
func (s *Snapshot) lookup(ctx context.Context, mem memory.Allocator, p *Plan, out *sink) error {
	t := s.t
	var parts []arrow.RecordBatch
	defer func() {
		for _, r := range parts {
			r.Release()
		}
	}()
	for _, k := range p.keys {
		rs := &s.regions[t.layout.keyRegion(k, t.kt)]
		rec, found, err := rs.lookup(ctx, k)
		if err == nil && !found && s.base != nil {
			if err = s.base.load(ctx, t); err == nil {
				rec, err = s.base.lookupRow(ctx, t, k)
			}
		}
		if err != nil {
			return err
		}
		if rec != nil {
			parts = append(parts, rec)
		}
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		// One key (the common lookup): its row is a slice of the layer's
		// batch; copying it would cost more than finding it.
		return out.add(ctx, parts[0], nil)
	}
	rec, err := concatRecords(mem, t.schema, parts)
	if err != nil {
		return err
	}
	defer rec.Release()
	return out.add(ctx, rec, nil)
}

// lookup returns the newest version of key in the region's layers
// (layers.go) as a one-row batch in table schema; found reports whether
// any of them has a version (rec is nil for a delete).
func (rs *regionSnap) lookup(ctx context.Context, k Key) (rec arrow.RecordBatch, found bool, err error) {
	v, err := rs.newest(ctx, k)
	switch {
	case err != nil || v.layer < 0:
		return nil, false, err
	case v.b != nil: // a memtable
		if v.b.op == OpDelete {
			return nil, true, nil
		}
		return v.b.rec.NewSlice(int64(v.row), int64(v.row)+1), true, nil
	}
	g := rs.gen(v.layer)
	if _, deleted := g.tombs[k]; deleted {
		return nil, true, nil
	}
	rec, _, err = g.lookupRow(ctx, k)
	return rec, true, err
}

// concatRecords concatenates batches of one schema.
func concatRecords(mem memory.Allocator, schema *arrow.Schema, recs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for c := range cols {
		arrs := make([]arrow.Array, len(recs))
		for i, r := range recs {
			arrs[i] = r.Column(c)
		}
		a, err := array.Concatenate(arrs, mem)
		if err != nil {
			for _, x := range cols[:c] {
				x.Release()
			}
			return nil, err
		}
		cols[c] = a
	}
	rec := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// sink applies the filter, projection and limit to candidate batches and
// hands the result to emit. Candidate batches hold at least the columns
// the plan reads, in any order: memtables give the table schema, Lance
// scans give the projection the plan asked for.
type sink struct {
	p       *Plan
	mem     memory.Allocator
	emit    func(arrow.RecordBatch) error
	limit   int64 // -1 = unlimited
	emitted int64
}

// add takes a batch and its liveness mask (nil: all live).
func (s *sink) add(ctx context.Context, rec arrow.RecordBatch, live []bool) error {
	sel, err := s.selection(ctx, rec, live)
	if err != nil {
		return err
	}
	var picked arrow.RecordBatch
	all := sel == nil
	if sel != nil {
		defer sel.Release() // the one release of sel
		switch countTrue(sel) {
		case 0:
			return nil
		case sel.Len():
			all = true
		}
	}
	if all {
		picked = rec
		rec.Retain()
	} else {
		res, err := compute.FilterRecordBatch(compute.WithAllocator(ctx, s.mem), rec, sel, compute.DefaultFilterOptions())
		if err != nil {
			return fmt.Errorf("filtering: %w", err)
		}
		picked = res
	}
	defer picked.Release()
	n := picked.NumRows()
	if n == 0 {
		return nil
	}
	limited := s.limit >= 0
	if limited && s.emitted+n > s.limit {
		n = s.limit - s.emitted
	}
	cols := make([]arrow.Array, s.p.schema.NumFields())
	for i, f := range s.p.schema.Fields() {
		idx := picked.Schema().FieldIndices(f.Name)
		if len(idx) == 0 {
			return fmt.Errorf("internal: column %q missing from a scanned batch", f.Name)
		}
		cols[i] = picked.Column(idx[0])
	}
	out := array.NewRecordBatch(s.p.schema, cols, picked.NumRows())
	if n < picked.NumRows() {
		sliced := out.NewSlice(0, n)
		out.Release()
		out = sliced
	}
	err = s.emit(out)
	out.Release()
	if err != nil {
		return err
	}
	s.emitted += n
	if limited && s.emitted >= s.limit {
		return errLimitReached
	}
	return nil
}

// selection combines the liveness mask and the filter; nil selects all.
func (s *sink) selection(ctx context.Context, rec arrow.RecordBatch, live []bool) (*array.Boolean, error) {
	var fmask *array.Boolean
	if s.p.filter != nil {
		m, err := s.p.filter.Eval(ctx, s.mem, rec)
		if err != nil {
			return nil, fmt.Errorf("%w: evaluating filter: %w", ErrInvalidArgument, err)
		}
		fmask = m
	}
	if live == nil {
		return fmask, nil
	}
	b := array.NewBooleanBuilder(s.mem)
	defer b.Release()
	b.Reserve(len(live))
	for i, l := range live {
		b.UnsafeAppend(l && (fmask == nil || fmask.Value(i)))
	}
	if fmask != nil {
		fmask.Release()
	}
	return b.NewBooleanArray(), nil
}

func countTrue(b *array.Boolean) int {
	n := 0
	for i := 0; i < b.Len(); i++ {
		if b.Value(i) {
			n++
		}
	}
	return n
}

func isUnknownColumn(err error) bool { return errors.Is(err, filter.ErrUnknownColumn) }
