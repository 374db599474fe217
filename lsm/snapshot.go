package lsm

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Snapshot is a consistent read view of a table (invariant 6): per region
// the visible watermark and the memtables that existed when it was taken.
// Later appends, freezes and flushes do not change what it returns.
type Snapshot struct {
	t       *Table
	regions []regionSnap
	base    *baseLayer
	err     error // the table was closed while the snapshot was taken: Run returns it
}

type regionSnap struct {
	w    uint64        // visible watermark
	mems []memView     // newest first
	gens []*Generation // flushed generations, newest first
}

// memView is a memtable as of the snapshot: the batches published then.
type memView struct {
	m    *MemTable
	list []*memBatch
}

// Snapshot takes a snapshot. The caller must Release it. A snapshot of a
// table one of whose region writers found itself fenced holds ErrFenced
// (Run returns it): the data here may be stale.
func (t *Table) Snapshot() *Snapshot {
	s := &Snapshot{t: t, regions: make([]regionSnap, t.NumRegions())}
	for i := range s.regions {
		var prev *RegionWriter
		for s.err == nil {
			t.mu.Lock()
			r, closed := t.regions[i], t.closed
			t.mu.Unlock()
			if err := r.Failure(); errors.Is(err, ErrFenced) {
				// A newer server owns the region: what this one holds
				// is stale (invariant 4), and it says so.
				s.err = fmt.Errorf("table %q: this server no longer serves region %d, a newer server claimed it: %w", t.name, i, err)
				break
			}
			rs, ok := r.snapshot()
			switch {
			case ok:
				s.regions[i] = rs
			case closed:
				s.err = t.closedErr()
			case r == prev:
				// Table.region closes a failed region and opens its
				// successor under t.mu; still the same one after that
				// means the reopen failed.
				s.err = fmt.Errorf("%w: region %d of %q failed and is not open", ErrUnavailable, i, t.name)
			default:
				prev = r
				continue
			}
			break
		}
	}
	// The base is loaded after the generations: compaction stores the new
	// base before it retires the merged generations, so a snapshot never
	// holds the new generation set with the old base (invariant 5).
	s.base = t.base.Load()
	// A generation the base already holds (compaction committed it but has
	// not retired it yet, or a crash kept it in the region manifest) must
	// not be read twice: tables without a primary key would show its rows
	// twice.
	for i := range s.regions {
		s.regions[i].dropMerged(s.base.merged(s.t.layout.ident(i)))
	}
	return s
}

// Run executes plan over the snapshot, calling emit with each result batch
// (emit must Retain a batch it keeps); see run. A read that fails because
// the table was dropped under it (its files deleted) says so: NotFound.
func (s *Snapshot) Run(ctx context.Context, mem memory.Allocator, p *Plan, emit func(arrow.RecordBatch) error) error {
	if err := s.t.Unservable(); err != nil {
		return err
	}
	err := s.t.formatFailed(s.run(ctx, mem, p, emit))
	if err != nil && s.t.dropped.Load() && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: table %q was dropped while it was read (%v)", ErrNotFound, s.t.name, err)
	}
	return err
}

// snapshot reads the watermark and then the memtables' published batches,
// under the state lock so a freeze or flush swap is either wholly before or
// wholly after. The watermark is loaded first: every batch at or below it
// was published before it, so the lists taken next contain them all.
//
// ok is false if the region is closed: its memtables may be released.
func (r *RegionWriter) snapshot() (rs regionSnap, ok bool) {
	r.stateMu.RLock()
	defer r.stateMu.RUnlock()
	if r.state == nil {
		return rs, false
	}
	rs = regionSnap{w: r.durable.Load(), gens: r.state.gens}
	for _, m := range r.state.memtables {
		m.ref()
		rs.mems = append(rs.mems, memView{m: m, list: m.published()})
	}
	for _, g := range rs.gens {
		g.ref()
	}
	return rs, true
}

// dropMerged releases the generations numbered upTo or below.
func (rs *regionSnap) dropMerged(upTo uint64) {
	if upTo == 0 {
		return
	}
	var kept []*Generation
	for _, g := range rs.gens {
		if g.number > upTo {
			kept = append(kept, g)
		} else {
			g.unref()
		}
	}
	rs.gens = kept
}

// Release drops the snapshot's references.
func (s *Snapshot) Release() {
	for _, r := range s.regions {
		for _, mv := range r.mems {
			mv.m.unref()
		}
		for _, g := range r.gens {
			g.unref()
		}
	}
	s.regions = nil
}

// Watermarks returns each region's visible watermark in the snapshot.
func (s *Snapshot) Watermarks() map[int]uint64 {
	out := make(map[int]uint64, len(s.regions))
	for i, r := range s.regions {
		out[i] = r.w
	}
	return out
}
