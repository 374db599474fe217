package lsm

// Snapshot is a consistent read view of a table (invariant 6): per region
// the visible watermark and the memtables that existed when it was taken.
// Later appends, freezes and flushes do not change what it returns.
type Snapshot struct {
	t       *Table
	regions []regionSnap
	base    *baseLayer
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

// Snapshot takes a snapshot. The caller must Release it.
func (t *Table) Snapshot() *Snapshot {
	t.mu.Lock()
	regions := append([]*RegionWriter(nil), t.regions...)
	t.mu.Unlock()
	s := &Snapshot{t: t, regions: make([]regionSnap, len(regions))}
	for i, r := range regions {
		s.regions[i] = r.snapshot()
	}
	// The base is loaded after the generations: compaction stores the new
	// base before it retires the merged generations, so a snapshot never
	// holds the new generation set with the old base (invariant 5).
	s.base = t.base.Load()
	return s
}

// snapshot reads the watermark and then the memtables' published batches,
// under the state lock so a freeze or flush swap is either wholly before or
// wholly after. The watermark is loaded first: every batch at or below it
// was published before it, so the lists taken next contain them all.
func (r *RegionWriter) snapshot() regionSnap {
	r.stateMu.RLock()
	defer r.stateMu.RUnlock()
	rs := regionSnap{w: r.durable.Load(), gens: r.state.gens}
	for _, m := range r.state.memtables {
		m.ref()
		rs.mems = append(rs.mems, memView{m: m, list: m.published()})
	}
	for _, g := range rs.gens {
		g.ref()
	}
	return rs
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

// hiddenByNewer reports whether key has a version (row or tombstone) in a
// layer newer than the one being read: one of the memtables newer (at or
// below the watermark), or one of the generations newerGens. Generations
// are older than every memtable, so reading generation i passes all
// memtables and gens[:i].
func (rs *regionSnap) hiddenByNewer(newer []memView, newerGens []*Generation, key Key) bool {
	for _, mv := range newer {
		if _, _, ok := mv.m.lookup(key, rs.w); ok {
			return true
		}
	}
	for _, g := range newerGens {
		if g.has(key) {
			return true
		}
	}
	return false
}
