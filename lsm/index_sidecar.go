package lsm

// The fragment side of the indexes: the cache of Lance fragments' indexes,
// their sidecars, and the background builder that makes them.

import (
	"context"
	"fmt"
	"path"
	"sync"
	"sync/atomic"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/vector"
)

// fragIndex is the cached index of one Lance fragment for one index.
type fragIndex struct {
	mu   sync.Mutex // one load or build at a time
	vec  atomic.Pointer[vector.Index]
	text atomic.Pointer[fts.Index]
	// noSidecar: a query found no usable vector sidecar. Later queries
	// search the fragment exactly without asking the store again, until
	// the builder stores the index in vec.
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
}
