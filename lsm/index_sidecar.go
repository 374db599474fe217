package lsm

// The fragment side of the indexes: the cache of Lance fragments' indexes,
// their sidecars, and the background builder that makes them.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// fragIndex is the cached index of one Lance fragment for one index, in
// the slot of the index's kind (sidecarCodec.slot).
type fragIndex struct {
	mu   sync.Mutex                   // one load or build at a time
	vec  atomic.Pointer[vector.Index] // ivf_pq
	text atomic.Pointer[fts.Index]    // fts
	// noSidecar: a query found no usable sidecar. Later queries search
	// the fragment exactly without asking the store again, until the
	// builder stores the index.
	noSidecar atomic.Bool
}

// fragKey names a fragment's index in the cache.
func fragKey(root string, frag lance.Fragment, index string) string {
	f := ""
	if len(frag.Files) > 0 {
		f = frag.Files[0]
	}
	return root + "|" + f + "|" + index
}

// sidecarKey is where a fragment's index is persisted.
func sidecarKey(root string, frag lance.Fragment, index, ext string) string {
	f := fmt.Sprintf("frag-%d", frag.ID)
	if len(frag.Files) > 0 {
		f = path.Base(frag.Files[0])
	}
	return path.Join(root, indexDir, f+"."+index+"."+ext)
}

func (x *tableIndexes) fragEntry(key string) *fragIndex {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.frags[key]
	if !ok {
		e = &fragIndex{}
		x.frags[key] = e
	}
	return e
}

// allRows lists the row offsets of a fragment.
func allRows(frag lance.Fragment) []uint64 {
	rows := make([]uint64, frag.PhysicalRows)
	for i := range rows {
		rows[i] = uint64(i)
	}
	return rows
}

// sidecarCodec is how an index kind persists the index of a fragment.
type sidecarCodec[T any] interface {
	ext() string                          // the sidecar's extension: ivfpq, fts
	slot(e *fragIndex) *atomic.Pointer[T] // where a cache entry holds the index
	// decode reads a stored sidecar of frag; an error means unusable (it
	// is rebuilt).
	decode(data []byte, frag lance.Fragment) (*T, error)
	// build indexes a fragment's column, and returns the sidecar too.
	build(col arrow.Array) (*T, []byte, error)
}

// fragSidecar returns index def of fragment frag of ds (root: the
// dataset's root in the table store), cached, else loaded from its
// sidecar. With build, it builds and stores a missing or unusable one;
// without, it returns nil for one (the caller searches exactly, and later
// callers do not ask the store again until the builder has built it) and
// for an entry another caller is loading.
func fragSidecar[T any](ctx context.Context, x *tableIndexes, ds *lance.Dataset, root string, frag lance.Fragment, def IndexDef, build bool, c sidecarCodec[T]) (*T, error) {
	e := x.fragEntry(fragKey(root, frag, def.Name))
	slot := c.slot(e)
	if ix := slot.Load(); ix != nil {
		return ix, nil
	}
	if build {
		e.mu.Lock()
	} else if e.noSidecar.Load() || !e.mu.TryLock() {
		return nil, nil // being built: search exactly meanwhile
	}
	ix, data, key, err := loadOrBuildSidecar(ctx, x, e, slot, ds, root, frag, def, build, c)
	e.mu.Unlock()
	if data != nil {
		// Persisted after the index is published and the entry unlocked:
		// a slow store never holds searches back.
		if err := x.t.store.Put(ctx, key, data); err != nil {
			x.t.opts.Logger.Warn("storing an index sidecar failed", "type", def.Type, "key", key, "err", err)
		}
	}
	return ix, err
}

// loadOrBuildSidecar is fragSidecar under e.mu; data is the sidecar to
// store when it built one.
func loadOrBuildSidecar[T any](ctx context.Context, x *tableIndexes, e *fragIndex, slot *atomic.Pointer[T], ds *lance.Dataset, root string, frag lance.Fragment, def IndexDef, build bool, c sidecarCodec[T]) (*T, []byte, string, error) {
	if ix := slot.Load(); ix != nil {
		return ix, nil, "", nil
	}
	key := sidecarKey(root, frag, def.Name, c.ext())
	data, err := x.t.store.Get(ctx, key)
	switch {
	case err == nil:
		ix, uerr := c.decode(data, frag)
		if uerr == nil {
			slot.Store(ix)
			return ix, nil, "", nil
		}
		if !build {
			e.noSidecar.Store(true)
			return nil, nil, "", nil
		}
		x.t.opts.Logger.Warn("rebuilding an unusable index sidecar", "type", def.Type, "key", key, "err", uerr)
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, nil, "", wrapStoreErr(err)
	case !build:
		e.noSidecar.Store(true)
		return nil, nil, "", nil
	}
	rec, err := ds.Take(ctx, x.t.opts.Allocator, frag.ID, allRows(frag), []string{def.Column})
	if err != nil {
		return nil, nil, "", wrapStoreErr(fmt.Errorf("reading %s for indexing: %w", key, err))
	}
	ix, data, err := c.build(rec.Column(0))
	rec.Release()
	if err != nil {
		return nil, nil, "", err
	}
	slot.Store(ix)
	return ix, data, key, nil
}

// buildFragments is the body of the fragment index builder: it indexes
// every fragment of the current generations and base table that lacks an
// index, drops cached indexes of fragments no longer in the table, and
// tells every index how many rows the layers hold (ivf_pq trains its
// model once they are enough).
func (x *tableIndexes) buildFragments() {
	if !x.any() {
		return
	}
	ctx := context.Background()
	s := x.t.Snapshot()
	defer s.Release()
	if s.err != nil {
		return
	}
	type dsRef struct {
		ds   *lance.Dataset
		root string
	}
	var sets []dsRef
	var rows int64
	for _, rs := range s.regions {
		for _, mv := range rs.mems {
			rows += mv.m.Rows()
		}
		for _, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				x.t.opts.Logger.Warn("index builder: loading a generation failed", "err", err)
				return
			}
			sets = append(sets, dsRef{g.ds, g.root})
			rows += g.ds.CountRows()
		}
	}
	if s.base != nil {
		sets = append(sets, dsRef{s.base.ds, ""})
		rows += s.base.ds.CountRows()
	}
	keep := map[string]bool{}
	for _, d := range sets {
		for _, f := range d.ds.Fragments() {
			for _, ix := range x.all {
				if x.stopped() {
					return
				}
				def := ix.base().def
				keep[fragKey(d.root, f, def.Name)] = true
				if err := ix.indexFragment(ctx, d.ds, d.root, f); err != nil {
					x.t.opts.Logger.Warn("index builder: the index of a fragment failed", "index", def.Name, "type", def.Type, "err", err)
				}
			}
		}
	}
	x.mu.Lock()
	for k := range x.frags {
		if !keep[k] {
			delete(x.frags, k)
		}
	}
	x.mu.Unlock()
	for _, ix := range x.all {
		ix.indexedFragments(rows)
	}
	x.passed.Store(true)
}
