package lsm

// The memtable side of the indexes: a region's indexer goroutine brings
// every memtable's indexes up to its published batches.

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// indexChunkRows bounds the vectors a memtable indexer adds at once.
// Below 128 the vector package encodes on one goroutine (it splits
// work in chunks of at least 64): the indexer then takes at most one
// core and leaves the others to ingest, which it must not slow down.
// Each chunk publishes a new bound, so readers also see progress
// inside large batches.
const indexChunkRows = 127

// memIndexes are a memtable's indexes: each kind's state, one per index
// of the kind, at the index's pos.
type memIndexes struct {
	vecs  []memVec  // ivf_pq
	texts []memText // fts
}

func (x *tableIndexes) newMemIndexes() *memIndexes {
	if x == nil || !x.any() {
		return nil
	}
	mi := &memIndexes{}
	for _, ix := range x.all {
		ix.newMem(mi)
	}
	return mi
}

// indexMemTables is the body of a region's indexer goroutine: it indexes
// the published upsert batches of the region's memtables, in position
// order, and publishes each index's bound after the rows below it are in.
func (r *RegionWriter) indexMemTables() {
	x := r.tidx
	mts := r.refMemTables(nil)
	defer unrefMemTables(mts)
	for i := len(mts) - 1; i >= 0; i-- { // oldest first
		m := mts[i]
		if m.idx == nil {
			continue
		}
		list := m.published()
		for _, ix := range x.all {
			if !ix.indexMem(r, m.idx, list) {
				return
			}
		}
	}
}

// refMemTables appends the region's memtables (newest first) to mts,
// each with a reference the caller drops (unrefMemTables).
func (r *RegionWriter) refMemTables(mts []*MemTable) []*MemTable {
	r.stateMu.RLock()
	defer r.stateMu.RUnlock()
	if r.state != nil {
		for _, m := range r.state.memtables {
			m.ref()
			mts = append(mts, m)
		}
	}
	return mts
}

func unrefMemTables(mts []*MemTable) {
	for _, m := range mts {
		m.unref()
	}
}

// unindexedRows counts the rows of memtables mts that an index does not
// cover yet; bound is the index's bound in a memtable's indexes.
func unindexedRows(mts []*MemTable, bound func(mi *memIndexes) uint32) int64 {
	var n int64
	for _, m := range mts {
		if m.idx != nil {
			n += max(0, m.Rows()-int64(bound(m.idx)))
		}
	}
	return n
}

func (r *RegionWriter) closingNow() bool { return closed(r.closing) }

// indexBatches feeds the upsert batches of list from *next on to add, in
// chunks of indexChunkRows at their memtable positions, publishing the
// indexed bound after each chunk and pacing itself while writes arrive;
// false if the region is closing.
func (r *RegionWriter) indexBatches(list []*memBatch, next *int, bound *atomic.Uint32, col int, add func(first uint32, part arrow.Array)) bool {
	for ; *next < len(list); *next++ {
		if r.closingNow() {
			return false
		}
		b := list[*next]
		if b.op == OpUpsert {
			arr := b.rec.Column(col)
			for lo := 0; lo < b.rows(); lo += indexChunkRows {
				if r.closingNow() {
					return false
				}
				hi := min(lo+indexChunkRows, b.rows())
				part := array.NewSlice(arr, int64(lo), int64(hi))
				t0, seen := time.Now(), r.appends.Load()
				add(b.first+uint32(lo), part)
				part.Release()
				bound.Store(b.first + uint32(hi))
				r.yieldToWriters(t0, seen)
			}
		}
		bound.Store(b.first + uint32(b.rows()))
	}
	return true
}

// indexerRest is how long the indexer rests after each chunk, in units of
// the chunk's own time, while writes arrive.
const indexerRest = 4

// yieldToWriters paces the indexer while writes arrive: after a chunk
// that took d while the region took appends, it rests for indexerRest*d,
// so indexing takes at most a fifth of the time (of one or, when the
// vector encoder fans out, two cores) from ingest. Rows it has not reached
// are searched exactly meanwhile, and it catches up at full speed once
// writes pause. Without writes it runs flat out.
func (r *RegionWriter) yieldToWriters(start time.Time, appendsBefore uint64) {
	if r.appends.Load() == appendsBefore {
		runtime.Gosched()
		return
	}
	select {
	case <-r.closing:
	case <-time.After(indexerRest * time.Since(start)):
	}
}
