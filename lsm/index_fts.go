package lsm

// The fts index kind: BM25 inverted indexes in memtables and Lance
// fragments.

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/lance"
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
	return fragSidecar(ctx, x, ds, root, frag, tx.def, true, textSidecar{tx})
}

// textSidecar is the sidecar of a fragment's fts index.
type textSidecar struct{ tx *textIndex }

func (textSidecar) ext() string                                  { return "fts" }
func (textSidecar) slot(e *fragIndex) *atomic.Pointer[fts.Index] { return &e.text }

func (c textSidecar) decode(data []byte, frag lance.Fragment) (*fts.Index, error) {
	ix, err := fts.UnmarshalIndex(data)
	switch {
	case err != nil:
		return nil, err
	case ix.Config() != c.tx.cfg:
		return nil, fmt.Errorf("sidecar tokenizer %+v, the index wants %+v", ix.Config(), c.tx.cfg)
	case uint64(ix.Len()) > frag.PhysicalRows:
		return nil, fmt.Errorf("sidecar indexes positions up to %d, the fragment has %d rows", ix.Len(), frag.PhysicalRows)
	}
	return ix, nil
}

func (c textSidecar) build(col arrow.Array) (*fts.Index, []byte, error) {
	ix := fts.NewIndex(c.tx.cfg)
	_ = addTexts(ix, 0, col)
	data, err := ix.MarshalBinary()
	return ix, data, err
}
