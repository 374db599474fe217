package lsm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/lance"
)

// configMergedPrefix + region names the base manifest's record of the
// highest generation of that region merged into the base table. Compaction
// writes it in the same commit as the merged rows, so after a crash it is
// decidable which generations the base already holds.
const configMergedPrefix = "flightwal.merged."

// baseLayer is one version of the base Lance table with its primary-key
// index, built on first use and cached for the version's lifetime.
type baseLayer struct {
	ds         *lance.Dataset
	mergedUpTo map[int]uint64 // region -> highest generation merged; immutable

	loaded onceOK
	keys   map[Key]genRow             // live rows only
	dels   map[uint64]*roaring.Bitmap // deletion bitmap per fragment (nil: none)
	// rowKeys[frag][row] is the key of a row, deleted rows included.
	rowKeys map[uint64][]Key
}

func newBaseLayer(ds *lance.Dataset) *baseLayer {
	b := &baseLayer{ds: ds, mergedUpTo: map[int]uint64{}}
	for k, v := range ds.Config() {
		if r, ok := strings.CutPrefix(k, configMergedPrefix); ok {
			region, err1 := strconv.Atoi(r)
			gen, err2 := strconv.ParseUint(v, 10, 64)
			if err1 == nil && err2 == nil {
				b.mergedUpTo[region] = gen
			}
		}
	}
	return b
}

// merged returns the highest generation of region merged into this version
// (every snapshot asks, so it is parsed once per version).
func (b *baseLayer) merged(region int) uint64 { return b.mergedUpTo[region] }

// load reads the deletion bitmaps and, for tables with a primary key,
// indexes every live row, so point lookups never scan fragments.
func (b *baseLayer) load(ctx context.Context, t *Table) error {
	return b.loaded.do(func() error { return b.doLoad(ctx, t) })
}

func (b *baseLayer) doLoad(ctx context.Context, t *Table) error {
	b.dels = map[uint64]*roaring.Bitmap{}
	for _, f := range b.ds.Fragments() {
		if f.DeletedRows == 0 {
			continue
		}
		bm, err := b.ds.DeletionBitmap(ctx, f.ID)
		if err != nil {
			return wrapStoreErr(fmt.Errorf("base table %q: %w", t.name, err))
		}
		b.dels[f.ID] = bm
	}
	if t.pkCol < 0 {
		return nil
	}
	var err error
	b.keys, b.rowKeys, err = indexKeys(ctx, b.ds, t.opts.Allocator, t.PrimaryKey(), b.dels)
	if err != nil {
		return wrapStoreErr(fmt.Errorf("indexing base table %q: %w", t.name, err))
	}
	return nil
}

// lookupRow reads the live row of key, if any, in the table's schema.
func (b *baseLayer) lookupRow(ctx context.Context, t *Table, key Key) (arrow.RecordBatch, error) {
	loc, ok := b.keys[key]
	if !ok {
		return nil, nil
	}
	rec, err := b.ds.Take(ctx, t.opts.Allocator, loc.frag, []uint64{uint64(loc.row)}, nil)
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("reading base table %q: %w", t.name, err))
	}
	out := array.NewRecordBatch(t.schema, rec.Columns(), rec.NumRows())
	rec.Release()
	return out, nil
}
