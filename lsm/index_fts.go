package lsm

// The fts index kind: BM25 inverted indexes in memtables and Lance
// fragments.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// ftsKind is the fts index kind: a string column's inverted index, for
// BM25 search.
type ftsKind struct{}

func (ftsKind) name() string { return "fts" }

func (ftsKind) hasParams(d IndexDef) bool { return d.Stem != nil || d.StopWords != nil }

func (ftsKind) validate(d IndexDef, col indexColumn) error {
	if t := col.field.Type; t.ID() != arrow.STRING && t.ID() != arrow.LARGE_STRING {
		return fmt.Errorf("%w: fts index %q needs a string column, %q is %s", ErrInvalidArgument, d.Name, d.Column, t)
	}
	return nil
}

func (ftsKind) open(_ context.Context, x *tableIndexes, d IndexDef, col indexColumn) (tableIndex, error) {
	cfg := fts.DefaultTokenizerConfig()
	if d.Stem != nil {
		cfg.Stem = *d.Stem
	}
	if d.StopWords != nil {
		cfg.StopWords = *d.StopWords
	}
	cfg = fts.NewIndex(cfg).Config() // normalized, as indexes report it
	tx := &textIndex{indexBase: indexBase{x: x, pos: len(x.texts), def: d, col: col.pos}, cfg: cfg}
	x.texts = append(x.texts, tx)
	return tx, nil
}

// textIndex is one fts index of the table (pos: in tableIndexes.texts).
type textIndex struct {
	indexBase
	cfg fts.TokenizerConfig
}

type memText struct {
	ix    *fts.Index
	bound atomic.Uint32
	next  int
}

func (tx *textIndex) newMem(mi *memIndexes) {
	if mi.texts == nil {
		mi.texts = make([]memText, len(tx.x.texts))
	}
	mi.texts[tx.pos].ix = fts.NewIndex(tx.cfg)
}

// indexMem brings a memtable's fts index up to list.
func (tx *textIndex) indexMem(r *RegionWriter, mi *memIndexes, list []*memBatch) bool {
	mt := &mi.texts[tx.pos]
	return r.indexBatches(list, &mt.next, &mt.bound, tx.col, func(first uint32, part arrow.Array) { _ = addTexts(mt.ix, first, part) })
}

func (tx *textIndex) indexFragment(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment) error {
	_, err := tx.x.fragText(ctx, ds, root, frag, tx)
	return err
}

func (tx *textIndex) indexedFragments(int64) {}

func (tx *textIndex) status(mts []*MemTable) IndexStatus {
	return IndexStatus{Name: tx.def.Name, Type: tx.def.Type, UnindexedRows: unindexedRows(mts, func(mi *memIndexes) uint32 { return mi.texts[tx.pos].bound.Load() })}
}

// addTexts indexes the strings of arr at positions first.. (nulls are
// documents without text) and returns the first Add error, if any.
func addTexts(ix *fts.Index, first uint32, arr arrow.Array) error {
	type strs interface {
		arrow.Array
		Value(int) string
	}
	a, ok := arr.(strs)
	if !ok {
		return nil
	}
	var firstErr error
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			continue
		}
		if err := ix.Add(first+uint32(i), a.Value(i)); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// fragText returns the fts index of a fragment, loading its sidecar or
// building (and storing) it.
func (x *tableIndexes) fragText(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, tx *textIndex) (*fts.Index, error) {
	e := x.fragEntry(fragKey(root, frag, tx.def.Name))
	if ix := e.text.Load(); ix != nil {
		return ix, nil
	}
	e.mu.Lock()
	ix, data, key, err := x.loadOrBuildText(ctx, ds, root, frag, tx, e)
	e.mu.Unlock()
	if data != nil {
		if err := x.t.store.Put(ctx, key, data); err != nil {
			x.t.opts.Logger.Warn("storing an fts index sidecar failed", "key", key, "err", err)
		}
	}
	return ix, err
}

// loadOrBuildText loads the sidecar into e or builds the index; data is
// the sidecar to store when it built one. e.mu is held.
func (x *tableIndexes) loadOrBuildText(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, tx *textIndex, e *fragIndex) (*fts.Index, []byte, string, error) {
	if ix := e.text.Load(); ix != nil {
		return ix, nil, "", nil
	}
	key := sidecarKey(root, frag, tx.def.Name, "fts")
	data, err := x.t.store.Get(ctx, key)
	switch {
	case err == nil:
		ix, uerr := fts.UnmarshalIndex(data)
		switch {
		case uerr != nil:
		case ix.Config() != tx.cfg:
			uerr = fmt.Errorf("sidecar tokenizer %+v, the index wants %+v", ix.Config(), tx.cfg)
		case uint64(ix.Len()) > frag.PhysicalRows:
			uerr = fmt.Errorf("sidecar indexes positions up to %d, the fragment has %d rows", ix.Len(), frag.PhysicalRows)
		default:
			e.text.Store(ix)
			return ix, nil, "", nil
		}
		x.t.opts.Logger.Warn("rebuilding an unusable fts index sidecar", "key", key, "err", uerr)
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, nil, "", wrapStoreErr(err)
	}
	rec, err := ds.Take(ctx, x.t.opts.Allocator, frag.ID, allRows(frag), []string{tx.def.Column})
	if err != nil {
		return nil, nil, "", wrapStoreErr(fmt.Errorf("reading %s for indexing: %w", key, err))
	}
	ix := fts.NewIndex(tx.cfg)
	addTexts(ix, 0, rec.Column(0))
	rec.Release()
	if data, err = ix.MarshalBinary(); err != nil {
		return nil, nil, "", err
	}
	e.text.Store(ix)
	return ix, data, key, nil
}
