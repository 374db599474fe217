package lsm

// The ivf_pq index kind: vector indexes in memtables and Lance fragments
// (the model they encode with is trained in index_model.go).

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

const (
	// DefaultTrainAfter is the row count at which an ivf_pq index's model
	// is trained when the index does not say (train_after): 32 training
	// rows for each of DefaultPartitions centroids, which is also what the
	// PQ codebooks (256 codes each) want.
	DefaultTrainAfter = 8192
	// DefaultPartitions is the IVF partition count of a model when the
	// index does not say: train_after/32 (32 training rows per centroid),
	// at most 256. The model is trained once, early, and shared by the
	// whole table, so its partition count is sized for tables of about
	// 50,000 to 500,000 rows rather than for the rows seen at training.
	DefaultPartitions = 256
)

// vecIndex is one ivf_pq index of the table.
type vecIndex struct {
	pos        int // in tableIndexes.vecs
	def        IndexDef
	col        int
	dim        int
	metric     vector.Metric
	trainAfter int64
	partitions int

	model    atomic.Pointer[vector.Model]
	unusable atomic.Bool // the stored model cannot be used: searches stay exact
	training atomic.Bool
	rowsSeen atomic.Int64 // rows the indexers passed (a hint for training)
	failedAt atomic.Int64 // rowsSeen when a training attempt gave up
}

type memVec struct {
	ix    atomic.Pointer[vector.Index] // nil until the model exists
	bound atomic.Uint32                // positions below are indexed
	next  int                          // indexer: next batch to index
	seen  int                          // indexer: batches counted for training
}

// indexVectors brings a memtable's vector index up to list; false if the
// region is closing.
func (r *RegionWriter) indexVectors(m *MemTable, list []*memBatch, v *vecIndex, mv *memVec) bool {
	model := v.model.Load()
	if model == nil {
		var n int64
		for ; mv.seen < len(list); mv.seen++ {
			if b := list[mv.seen]; b.op == OpUpsert {
				n += int64(b.rows()) - int64(b.rec.Column(v.col).NullN())
			}
		}
		if n > 0 {
			r.tidx.noteRows(v, n)
		}
		return true
	}
	ix := mv.ix.Load()
	if ix == nil {
		ix = vector.NewIndex(model)
		mv.ix.Store(ix)
		mv.next = 0
	}
	return r.indexBatches(list, &mv.next, &mv.bound, v.col, func(first uint32, part arrow.Array) { addVectors(ix, first, part) })
}

// addVectors indexes arr at positions first.. . Rows the index refuses
// (NaN or infinite components) are left out, one by one: such a row has no
// meaningful distance, and exact search ranks it last anyway.
func addVectors(ix *vector.Index, first uint32, arr arrow.Array) {
	if ix.AddArrow(first, arr) == nil {
		return
	}
	vals, dim, err := vector.Float32Vectors(arr)
	if err != nil {
		return
	}
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			continue
		}
		_ = ix.Add(first+uint32(i), vals[i*dim:(i+1)*dim])
	}
}

// fragVectors returns the index of fragment frag of ds (root: the
// dataset's root in the table store) for v. With build false it only
// loads a sidecar (or returns nil, and the caller searches exactly); with
// build it builds and stores a missing or unusable one.
func (x *tableIndexes) fragVectors(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, v *vecIndex, build bool) (*vector.Index, error) {
	model := v.model.Load()
	if model == nil {
		return nil, nil
	}
	e := x.fragEntry(fragKey(root, frag, v.def.Name))
	if ix := e.vec.Load(); ix != nil {
		return ix, nil
	}
	if build {
		e.mu.Lock()
	} else if e.noSidecar.Load() || !e.mu.TryLock() {
		return nil, nil // being built: search exactly meanwhile
	}
	ix, data, key, err := x.loadOrBuildVectors(ctx, ds, root, frag, v, model, e, build)
	e.mu.Unlock()
	if data != nil {
		// Persisted after the index is published and the entry unlocked:
		// a slow store never holds searches back.
		if err := x.t.store.Put(ctx, key, data); err != nil {
			x.t.opts.Logger.Warn("storing a vector index sidecar failed", "key", key, "err", err)
		}
	}
	return ix, err
}

// loadOrBuildVectors loads the sidecar into e or builds the index; data is
// the sidecar to store when it built one. e.mu is held.
func (x *tableIndexes) loadOrBuildVectors(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, v *vecIndex, model *vector.Model, e *fragIndex, build bool) (*vector.Index, []byte, string, error) {
	if ix := e.vec.Load(); ix != nil {
		return ix, nil, "", nil
	}
	key := sidecarKey(root, frag, v.def.Name, "ivfpq")
	data, err := x.t.store.Get(ctx, key)
	switch {
	case err == nil:
		ix := vector.NewIndex(model)
		uerr := ix.UnmarshalBinary(data)
		if uerr == nil && uint64(ix.NextPos()) > frag.PhysicalRows {
			// Positions past the fragment's rows: the sidecar is not
			// this fragment's (searching it would read keys and rows
			// that do not exist).
			uerr = fmt.Errorf("sidecar indexes positions up to %d, the fragment has %d rows", ix.NextPos(), frag.PhysicalRows)
		}
		if uerr == nil {
			e.vec.Store(ix)
			return ix, nil, "", nil
		} else if !build {
			e.noSidecar.Store(true)
			return nil, nil, "", nil
		} else {
			x.t.opts.Logger.Warn("rebuilding an unusable vector index sidecar", "key", key, "err", uerr)
		}
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, nil, "", wrapStoreErr(err)
	case !build:
		e.noSidecar.Store(true)
		return nil, nil, "", nil
	}
	rec, err := ds.Take(ctx, x.t.opts.Allocator, frag.ID, allRows(frag), []string{v.def.Column})
	if err != nil {
		return nil, nil, "", wrapStoreErr(fmt.Errorf("reading %s for indexing: %w", key, err))
	}
	ix := vector.NewIndex(model)
	addVectors(ix, 0, rec.Column(0))
	rec.Release()
	if data, err = ix.MarshalBinary(); err != nil {
		return nil, nil, "", err
	}
	e.vec.Store(ix)
	return ix, data, key, nil
}
