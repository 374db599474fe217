package lsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// tombstoneFile is the sidecar of a flushed generation that lists the keys
// the generation deleted (an Arrow IPC stream of the primary-key column).
// Lance readers ignore it; flightwal reads it so that a delete hides older
// versions in every lower layer even after flush and restart.
const tombstoneFile = "_flightwal/tombstones.arrows"

// Generation is one flushed generation of a region: a complete Lance dataset
// holding the newest row of each key of one frozen memtable, plus the keys
// that memtable deleted. It is immutable; its primary-key index is built on
// first use.
type Generation struct {
	number uint64
	root   string // dataset root relative to the table root
	store  objstore.Store
	schema *arrow.Schema
	pkCol  int
	mem    memory.Allocator

	// refs counts holders: the region's read state and snapshots. A
	// merged generation (compaction committed its rows to the base table
	// and retired it from the region manifest) deletes its files when the
	// last holder lets go, so no running read loses them.
	refs  atomic.Int32
	stage stage // flushed, then merged

	loaded onceOK
	ds     *lance.Dataset
	keys   map[Key]genRow   // newest row of each key
	tombs  map[Key]struct{} // keys deleted by this generation
	// dead[frag] holds the rows that are not the live version of their
	// key: older duplicates (LanceDB's shard writer flushes every row and
	// hides them with a deletion vector) and _tombstone rows. Empty for a
	// generation of one live row per key.
	dead map[uint64]*roaring.Bitmap
	// rowKeys[frag][row] is the key of a row (searches check a
	// candidate's liveness by it).
	rowKeys map[uint64][]Key
}

// indexKeys reads the primary-key column of every fragment of ds: keys
// locates each key's live row (rows in dels are skipped), rowKeys[frag][row]
// is the key of every row, deleted ones included.
func indexKeys(ctx context.Context, ds *lance.Dataset, mem memory.Allocator, pk string, dels map[uint64]*roaring.Bitmap) (keys map[Key]genRow, rowKeys map[uint64][]Key, err error) {
	keys = make(map[Key]genRow, ds.CountRows())
	rowKeys = map[uint64][]Key{}
	err = ds.Scan(ctx, mem, []string{pk}, 0, func(frag lance.Fragment, first uint64, rec arrow.RecordBatch) error {
		read := keyReader(rec.Column(0))
		del := dels[frag.ID]
		rk := rowKeys[frag.ID]
		if rk == nil {
			rk = make([]Key, frag.PhysicalRows)
			rowKeys[frag.ID] = rk
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := uint32(first) + uint32(i)
			k := read(i)
			rk[row] = k
			if del == nil || !del.Contains(row) {
				keys[k] = genRow{frag: frag.ID, row: row}
			}
		}
		return nil
	})
	return keys, rowKeys, err
}

// genRow locates a row: fragment id and offset within the fragment.
type genRow struct {
	frag uint64
	row  uint32
}

func newGeneration(store objstore.Store, regionDir, rel string, number uint64, schema *arrow.Schema, pkCol int, mem memory.Allocator) *Generation {
	g := &Generation{number: number, root: path.Join(regionDir, rel), store: store, schema: schema, pkCol: pkCol, mem: mem}
	g.refs.Store(1)
	g.stage.v.Store(uint32(StageFlushed))
	return g
}

func (g *Generation) ref() { g.refs.Add(1) }

func (g *Generation) unref() {
	if g.refs.Add(-1) == 0 && g.stage.get() == StageMerged {
		go g.deleteFiles()
	}
}

// deleteFiles removes a merged generation's objects (best effort: an
// object left behind is garbage no manifest names).
func (g *Generation) deleteFiles() {
	_, _ = objstore.DeleteAll(context.Background(), g.store, g.root+"/", nil)
}

// load opens the dataset and indexes its keys, once.
func (g *Generation) load(ctx context.Context) error {
	return g.loaded.do(func() error { return g.doLoad(ctx) })
}

func (g *Generation) doLoad(ctx context.Context) error {
	ds, err := lance.OpenDataset(ctx, g.store, g.root)
	if err != nil {
		return wrapStoreErr(fmt.Errorf("opening flushed generation %s: %w", g.root, err))
	}
	g.ds = ds
	if g.pkCol < 0 {
		return nil
	}
	g.dead, err = g.lanceDead(ctx, ds)
	if err != nil {
		return wrapStoreErr(fmt.Errorf("reading flushed generation %s: %w", g.root, err))
	}
	g.keys, g.rowKeys, err = indexKeys(ctx, ds, g.mem, g.schema.Field(g.pkCol).Name, g.dead)
	if err != nil {
		return wrapStoreErr(fmt.Errorf("indexing flushed generation %s: %w", g.root, err))
	}
	// Of two rows of one key the later is live: the earlier is dead too.
	for frag, keys := range g.rowKeys {
		for row, k := range keys {
			if g.live(frag, uint32(row)) && g.keys[k] != (genRow{frag: frag, row: uint32(row)}) {
				deadOf(g.dead, frag).Add(uint32(row))
			}
		}
	}
	for f, bm := range g.dead {
		if bm.IsEmpty() {
			delete(g.dead, f)
		}
	}
	data, err := g.store.Get(ctx, path.Join(g.root, tombstoneFile))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return wrapStoreErr(fmt.Errorf("reading tombstones of %s: %w", g.root, err))
	}
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(g.mem))
	if err != nil {
		return fmt.Errorf("tombstones of %s are corrupt: %w", g.root, err)
	}
	defer r.Release()
	g.tombs = map[Key]struct{}{}
	for r.Next() {
		read := keyReader(r.RecordBatch().Column(0))
		for i := 0; i < int(r.RecordBatch().NumRows()); i++ {
			g.tombs[read(i)] = struct{}{}
		}
	}
	return r.Err()
}

// lanceDead reads what a generation in Lance's layout keeps beside its
// rows: a deletion vector hiding older duplicates of a key (LanceDB's
// shard writer flushes every row) and rows whose _tombstone is true
// (LanceDB's deletes, and flightwal's since it writes them so). It
// returns, per fragment, the rows that are not the live version of their
// key (none for a generation of one row per key and no _tombstone column)
// and adds the tombstoned keys to g.tombs.
func (g *Generation) lanceDead(ctx context.Context, ds *lance.Dataset) (map[uint64]*roaring.Bitmap, error) {
	tomb := len(ds.Schema().FieldIndices(wal.TombstoneColumn)) > 0
	dead := map[uint64]*roaring.Bitmap{}
	for _, f := range ds.Fragments() {
		if f.DeletedRows == 0 {
			continue
		}
		bm, err := ds.DeletionBitmap(ctx, f.ID)
		if err != nil {
			return nil, err
		}
		if bm != nil {
			dead[f.ID] = bm.Clone()
		}
	}
	if !tomb {
		return dead, nil
	}
	pk := g.schema.Field(g.pkCol).Name
	err := ds.Scan(ctx, g.mem, []string{pk, wal.TombstoneColumn}, 0, func(frag lance.Fragment, first uint64, rec arrow.RecordBatch) error {
		read := keyReader(rec.Column(0))
		ts, ok := rec.Column(1).(*array.Boolean)
		if !ok {
			return fmt.Errorf("column %s is %s, want bool", wal.TombstoneColumn, rec.Column(1).DataType())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := uint32(first) + uint32(i)
			if d := dead[frag.ID]; (d != nil && d.Contains(row)) || !ts.IsValid(i) || !ts.Value(i) {
				continue
			}
			if g.tombs == nil {
				g.tombs = map[Key]struct{}{}
			}
			g.tombs[read(i)] = struct{}{}
			deadOf(dead, frag.ID).Add(row)
		}
		return nil
	})
	return dead, err
}

// live reports whether row (of fragment frag) is the live version of its
// key in the generation.
func (g *Generation) live(frag uint64, row uint32) bool {
	d := g.dead[frag]
	return d == nil || !d.Contains(row)
}

// has reports whether the generation holds a version (row or tombstone) of key.
func (g *Generation) has(key Key) bool {
	if _, ok := g.keys[key]; ok {
		return true
	}
	_, ok := g.tombs[key]
	return ok
}

// writeGeneration writes a frozen memtable's newest rows as a Lance dataset
// (in the table's data storage version)
// at root, with its tombstones beside it. The tombstone sidecar is written
// first, so a dataset that exists always has its tombstones.
//
// pkBytes is the payload size of the primary-key column over its rows
// (Lance's primary_key_bytes: values, not offsets or validity).
func writeGeneration(ctx context.Context, store objstore.Store, mem memory.Allocator, root string, m *MemTable, version lance.DataStorageVersion) (rows, pkBytes int64, err error) {
	recs, tombs, err := m.flushContent(ctx, mem)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
		for _, r := range tombs {
			r.Release()
		}
	}()
	for _, r := range recs {
		rows += r.NumRows()
	}
	if m.pkCol >= 0 {
		for _, r := range recs {
			pkBytes += payloadBytes(r.Column(m.pkCol))
		}
	}
	// Deletes are written as Lance writes them, _tombstone rows, so
	// LanceDB's LSM reader sees them (flightwal reads such a generation as
	// it reads one LanceDB flushed). A 2.0 table whose columns can't hold
	// the nulls of a delete row (a struct) keeps them in the sidecar.
	schema, all, written := m.schema, recs, rows
	if len(tombs) > 0 { // deletes need a key: m.pkCol >= 0
		s, out, ok := withTombstoneRows(mem, m.schema, m.pkCol, recs, tombs, version)
		if !ok {
			if err := writeTombstoneSidecar(ctx, store, mem, root, tombs); err != nil {
				return 0, 0, err
			}
		} else {
			defer func() {
				for _, r := range out {
					r.Release()
				}
			}()
			schema, all = s, out
			for _, t := range tombs {
				written += t.NumRows()
			}
		}
	}
	if _, err := lance.WriteDatasetWith(ctx, store, root, schema, all, lance.CreateOptions{DataStorageVersion: version}); err != nil {
		return 0, 0, wrapStoreErr(fmt.Errorf("writing flushed generation %s: %w", root, err))
	}
	// LanceDB's LSM reader needs the key index (generation_lance.go). A
	// generation whose deletes are only in the sidecar gets none: LanceDB
	// would not see them, so its reader fails on the table, loudly, until
	// compaction merges the generation.
	if m.pkCol >= 0 && written > 0 && (len(tombs) == 0 || schema != m.schema) {
		if err := writePKIndex(ctx, store, mem, root, all, m.pkCol, m.schema.Field(m.pkCol), version); err != nil {
			return 0, 0, wrapStoreErr(fmt.Errorf("writing the key index of flushed generation %s: %w", root, err))
		}
	}
	return rows, pkBytes, nil
}

// flushContent returns the memtable's newest upserted rows (one per key)
// and the keys whose newest version is a delete. The memtable is frozen, so
// "newest" is final.
func (m *MemTable) flushContent(ctx context.Context, mem memory.Allocator) (recs, tombs []arrow.RecordBatch, err error) {
	defer func() {
		if err != nil {
			for _, r := range append(recs, tombs...) {
				r.Release()
			}
			recs, tombs = nil, nil
		}
	}()
	for _, b := range m.published() {
		var keep []int32
		all := true
		for i := 0; i < b.rows(); i++ {
			if b.superseded == nil || b.superseded[i].Load() == 0 {
				keep = append(keep, int32(i))
			} else {
				all = false
			}
		}
		var out arrow.RecordBatch
		switch {
		case len(keep) == 0:
			continue
		case all:
			out = b.rec
			out.Retain()
		default:
			if out, err = takeRows(ctx, mem, b.rec, keep); err != nil {
				return recs, tombs, err
			}
		}
		if b.op == OpDelete {
			tombs = append(tombs, out)
		} else {
			recs = append(recs, out)
		}
	}
	return recs, tombs, nil
}

// lookupRow reads the row of key from the generation, if it has one.
func (g *Generation) lookupRow(ctx context.Context, key Key) (arrow.RecordBatch, bool, error) {
	loc, ok := g.keys[key]
	if !ok {
		return nil, false, nil
	}
	// The table's columns only: a generation in Lance's layout also holds
	// _tombstone.
	rec, err := g.ds.Take(ctx, g.mem, loc.frag, []uint64{uint64(loc.row)}, columnNames(g.schema))
	if err != nil {
		return nil, false, wrapStoreErr(fmt.Errorf("reading %s: %w", g.root, err))
	}
	// The dataset's schema carries Lance's field metadata; present the row
	// in the table's schema.
	out := array.NewRecordBatch(g.schema, rec.Columns(), rec.NumRows())
	rec.Release()
	return out, true, nil
}

// payloadBytes is the size of a column's values: width × rows for fixed
// width types, the bytes of the values for strings and binaries.
func payloadBytes(col arrow.Array) int64 {
	switch a := col.(type) {
	case *array.String:
		return int64(a.ValueOffset(a.Len()) - a.ValueOffset(0))
	case *array.LargeString:
		return a.ValueOffset(a.Len()) - a.ValueOffset(0)
	case *array.Binary:
		return int64(a.ValueOffset(a.Len()) - a.ValueOffset(0))
	case *array.LargeBinary:
		return a.ValueOffset(a.Len()) - a.ValueOffset(0)
	}
	if fw, ok := col.DataType().(arrow.FixedWidthDataType); ok {
		return int64(col.Len()) * int64(fw.BitWidth()/8)
	}
	return 0
}

// writeTombstoneSidecar writes the keys a generation deletes as the
// sidecar tombstoneFile (flightwal's layout, for tables whose columns
// can't hold a _tombstone row). It is written before the dataset, so a
// dataset that exists always has its tombstones.
func writeTombstoneSidecar(ctx context.Context, store objstore.Store, mem memory.Allocator, root string, tombs []arrow.RecordBatch) error {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(tombs[0].Schema()), ipc.WithAllocator(mem))
	for _, t := range tombs {
		if err := w.Write(t); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return wrapStoreErr(store.Put(ctx, path.Join(root, tombstoneFile), buf.Bytes()))
}
