package lsm

// Segments: a snapshot cut into memtables and Lance fragments, each with
// the rows it may return (live, passing the prefilter).

import (
	"context"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
)

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
	pk := t.pkCol >= 0
	hasBase := s.base != nil && len(s.base.ds.Fragments()) > 0
	var segs []*segment
	var allKeys [][]Key // keys of every layer of every region (they shadow the base)
	for ri := range s.regions {
		rs := &s.regions[ri]
		var newer [][]Key // keys of the layers above the current one
		for li := range rs.layers() {
			if li >= len(rs.mems) {
				if err := rs.gen(li).load(ctx); err != nil {
					return nil, err
				}
			}
			dead := map[uint64]*roaring.Bitmap{}
			deadIn := func(frag uint64) *roaring.Bitmap { return deadOf(dead, frag) }
			if pk {
				rs.shadowedRows(li, newer, deadIn)
				// Keys are needed only if an older layer exists.
				if li < rs.layers()-1 || hasBase {
					newer = append(newer, rs.keysOf(li))
				}
			}
			if li < len(rs.mems) {
				sg := memSegment(&rs.mems[li], rs.w)
				if pk {
					// Rows a newer batch of the same memtable superseded.
					for _, b := range sg.vis {
						if b.op != OpUpsert {
							continue
						}
						for i := 0; i < b.rows(); i++ {
							if !b.live(i, rs.w) {
								deadIn(0).Add(b.first + uint32(i))
							}
						}
					}
					sg.dead = dead[0]
					if sg.dead == nil {
						sg.dead = roaring.New()
					}
				}
				segs = append(segs, sg)
				continue
			}
			g := rs.gen(li)
			for _, f := range g.ds.Fragments() {
				segs = append(segs, &segment{ds: g.ds, root: g.root, frag: f, dead: dead[f.ID]})
			}
		}
		allKeys = append(allKeys, newer...)
	}
	if hasBase {
		b := s.base
		if err := b.load(ctx, t); err != nil {
			return nil, err
		}
		dead := map[uint64]*roaring.Bitmap{}
		for f, bm := range b.dels {
			dead[f] = bm.Clone()
		}
		if pk {
			shadowedBaseRows(b, allKeys, func(frag uint64) *roaring.Bitmap { return deadOf(dead, frag) })
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
				readers := make([]func(int) Key, len(sg.vis))
				sg.live = func(pos uint32) bool {
					bi, i := sg.batchAt(pos)
					b := sg.vis[bi]
					if !b.live(i, rs.w) {
						return false
					}
					if li == 0 {
						return true
					}
					if readers[bi] == nil {
						readers[bi] = keyReader(b.rec.Column(mv.m.keyColumn(b.op)))
					}
					return !rs.shadowed(readers[bi](i), li)
				}
			}
			segs = append(segs, sg)
		}
		for gi, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				return nil, err
			}
			li := len(rs.mems) + gi
			for _, f := range g.ds.Fragments() {
				sg := &segment{ds: g.ds, root: g.root, frag: f}
				if rk := g.rowKeys[f.ID]; pk && li > 0 {
					sg.live = func(pos uint32) bool { return !rs.shadowed(rk[pos], li) }
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
				rs := &s.regions[t.layout.keyRegion(k, t.kt)]
				return !rs.shadowed(k, rs.layers())
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
