package lsm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"

	"github.com/flightwal/flightwal/lance"
)

// configMergedPrefix + region names the base manifest's record of the
// highest generation of that region merged into the base table. Compaction
// writes it in the same commit as the merged rows, so after a crash it is
// decidable which generations the base already holds. The region is its
// UUID (its directory name), or its index in a legacy layout: a record by
// index must never be read for a UUID region, whose generations number
// from 1 again (a table that adopted a key gets new regions).
const configMergedPrefix = "flightwal.merged."

// baseLayer is one version of the base Lance table with its primary-key
// index, built on first use and cached for the version's lifetime.
type baseLayer struct {
	ds         *lance.Dataset
	mergedUpTo map[int]uint64 // region -> highest generation merged; immutable
	// mergedUUID is Lance's record of the same (the MemWAL index's
	// compacted_sstables), by region id; immutable.
	mergedUUID map[string]uint64

	loaded onceOK
	keys   map[Key]genRow // live rows only
	// dels is the deletion bitmap per fragment (nil: none), with the
	// losers added: the rows a reader of the base must skip.
	dels map[uint64]*roaring.Bitmap
	// losers are rows that another writer's appends left as older
	// duplicates of a key (see doLoad); compaction deletes them.
	losers map[uint64]*roaring.Bitmap
	// rowKeys[frag][row] is the key of a row, deleted rows included.
	rowKeys map[uint64][]Key
}

func newBaseLayer(ds *lance.Dataset) *baseLayer {
	b := &baseLayer{ds: ds, mergedUpTo: map[int]uint64{}, mergedUUID: map[string]uint64{}}
	if det, err := ds.MemWalIndex(); err == nil && det != nil {
		for _, c := range det.GetCompactedSstables() {
			b.mergedUUID[string(c.GetShardId().GetUuid())] = c.GetGeneration()
		}
	}
	for k, v := range ds.Config() {
		r, ok := strings.CutPrefix(k, configMergedPrefix)
		gen, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			continue
		}
		if region, err := strconv.Atoi(r); err == nil {
			b.mergedUpTo[region] = gen
		} else if u, err := uuid.Parse(r); err == nil {
			id := string(u[:])
			b.mergedUUID[id] = max(b.mergedUUID[id], gen)
		}
	}
	return b
}

// merged returns the highest generation of a region merged into this
// version, by flightwal's record or Lance's (every snapshot asks, so it is
// parsed once per version).
func (b *baseLayer) merged(id regionIdent) uint64 {
	if id.uuid != nil {
		return b.mergedUUID[string(id.uuid)]
	}
	return b.mergedUpTo[id.index]
}

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
	// flightwal's compactions leave one live row per key, but another
	// Lance writer may append a key the base already holds. Of a key's
	// live rows the one latest in fragment order (an append's: the
	// newest) is its row; the others are losers, hidden from readers
	// and deleted by the next compaction.
	for frag, rk := range b.rowKeys {
		del := b.dels[frag]
		for row, k := range rk {
			if del != nil && del.Contains(uint32(row)) {
				continue
			}
			if loc := b.keys[k]; loc.frag != frag || loc.row != uint32(row) {
				if b.losers == nil {
					b.losers = map[uint64]*roaring.Bitmap{}
				}
				deadOf(b.losers, frag).Add(uint32(row))
			}
		}
	}
	for frag, bm := range b.losers {
		d := roaring.New()
		if old := b.dels[frag]; old != nil {
			d.Or(old) // a clone: the Dataset caches old
		}
		d.Or(bm)
		b.dels[frag] = d
	}
	return nil
}

// publishBase makes nb the table's base unless a newer version is
// already published (the refresher and compaction race).
func (t *Table) publishBase(nb *baseLayer) *baseLayer {
	for {
		cur := t.base.Load()
		if cur.ds.Version() >= nb.ds.Version() {
			return cur
		}
		if t.base.CompareAndSwap(cur, nb) {
			t.idx.kick.kick() // index the new fragments
			return nb
		}
	}
}

// refreshBase publishes the base table's latest version if another
// writer committed since the published one, and returns the base.
func (t *Table) refreshBase(ctx context.Context) (*baseLayer, error) {
	cur := t.base.Load()
	ds, err := cur.ds.Latest(ctx)
	if err != nil {
		return cur, wrapStoreErr(fmt.Errorf("refreshing base table %q: %w", t.name, err))
	}
	if ds == cur.ds {
		return cur, nil
	}
	return t.publishBase(newBaseLayer(ds)), nil
}

// refreshLoop re-reads the base table's latest version every
// Options.LanceRefreshInterval, so other Lance writers' commits become
// visible, until stop is closed; then it closes done.
func (t *Table) refreshLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(t.opts.LanceRefreshInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*t.opts.LanceRefreshInterval+10*time.Second)
		_, err := t.refreshBase(ctx)
		cancel()
		if err != nil && !failing {
			t.opts.Logger.Warn("cannot refresh the base table; readers keep the version they have", "table", t.name, "err", err)
		}
		failing = err != nil
	}
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
