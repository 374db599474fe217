package lsm

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/util"
	"github.com/tidwall/btree"

	"github.com/flightwal/flightwal/lsm/wal"
)

// Op is what a batch does to its rows; the codes are the WAL's.
type Op = wal.Op

const (
	OpUpsert = wal.OpUpsert // insert or replace by primary key (append without one)
	OpDelete = wal.OpDelete // tombstones: the batch holds only the primary-key column
)

// memBatch is one appended batch. Everything but superseded is immutable
// once the batch is published.
type memBatch struct {
	rec   arrow.RecordBatch // upsert: table schema; delete: primary-key column only
	seq   uint64            // region sequence number (WAL batch position)
	op    Op
	first uint32 // memtable position of row 0
	// superseded[i] is the sequence number of the batch that replaced row i
	// (upsert or delete of the same key), 0 while row i is the newest version.
	// The writer stores it before the superseding batch can become visible,
	// so a reader whose watermark covers that batch always sees the store.
	superseded []atomic.Uint64
	// prev[i] is 1 + the memtable position of the version row i replaced, or
	// 0. Point lookups follow it to find the version a snapshot sees.
	prev []uint32
}

func (b *memBatch) rows() int { return int(b.rec.NumRows()) }

// live reports whether row i is the newest version as of watermark w.
func (b *memBatch) live(i int, w uint64) bool {
	s := b.superseded[i].Load()
	return s == 0 || s > w
}

type pkEntry struct {
	key Key
	pos uint32 // memtable position of the key's newest version
}

// MemTable holds the batches of one generation of one region in memory.
//
// Concurrency: one writer (the region writer, under its lock) appends;
// readers never lock the batch list: they load the published slice, whose
// elements below its length never change. The primary-key btree takes its
// own read-write lock.
type MemTable struct {
	generation uint64
	schema     *arrow.Schema
	pkCol      int // -1: append-only table
	kt         keyType

	batches atomic.Pointer[[]*memBatch] // published prefix
	list    []*memBatch                 // writer's copy

	pk *btree.BTreeG[pkEntry] // nil for append-only tables

	rows  atomic.Int64
	bytes atomic.Int64
	// lastSeq and walPos are written by the region writer under its lock;
	// walPos is the position of the last WAL entry holding this memtable's
	// batches (every entry holds batches of one generation only).
	lastSeq uint64
	walPos  atomic.Uint64

	refs    atomic.Int32
	release sync.Once

	// stage is open while the memtable takes appends, frozen once the
	// region froze it, flushed once its generation is in the region
	// manifest (the region writer advances it).
	stage stage

	idx *memIndexes // search indexes; nil if the table has none
}

func newMemTable(generation uint64, schema *arrow.Schema, pkCol int) *MemTable {
	m := &MemTable{generation: generation, schema: schema, pkCol: pkCol}
	if pkCol >= 0 {
		m.kt, _ = pkKeyType(schema.Field(pkCol).Type)
		m.pk = btree.NewBTreeGOptions(func(a, b pkEntry) bool { return a.key.Less(b.key) }, btree.Options{Degree: 64})
	}
	empty := []*memBatch{}
	m.batches.Store(&empty)
	m.refs.Store(1)
	return m
}

// Generation is the memtable's generation number within its region.
func (m *MemTable) Generation() uint64 { return m.generation }

// Stage is where the memtable is in its life: open, frozen or flushed.
func (m *MemTable) Stage() Stage { return m.stage.get() }

// Rows counts appended rows, tombstones included.
func (m *MemTable) Rows() int64 { return m.rows.Load() }

// Bytes counts the Arrow buffer bytes held.
func (m *MemTable) Bytes() int64 { return m.bytes.Load() }

// ref and unref count holders (the region's read state, snapshots); the last
// unref releases the Arrow records.
func (m *MemTable) ref() { m.refs.Add(1) }

func (m *MemTable) unref() {
	if m.refs.Add(-1) == 0 {
		m.release.Do(func() {
			for _, b := range m.list {
				b.rec.Release()
			}
		})
	}
}

// append adds a batch (retaining rec) with sequence number seq. Only the
// region writer calls it. The caller validated the batch: primary keys are
// non-null and unique within it.
//
// Order matters for lock-free readers: the batch (with its prev links) is
// published before the btree points at it, so every position a reader gets
// from the btree is in the published slice; superseded marks are stored
// before seq can become visible (the caller makes it durable afterwards).
func (m *MemTable) append(rec arrow.RecordBatch, seq uint64, op Op) *memBatch {
	if st := m.stage.get(); st != StageOpen {
		panic(fmt.Sprintf("lsm: append to a %s memtable", st))
	}
	rec.Retain()
	n := int(rec.NumRows())
	b := &memBatch{rec: rec, seq: seq, op: op, first: uint32(m.rows.Load())}
	var keys []Key
	if m.pk != nil {
		b.superseded = make([]atomic.Uint64, n)
		b.prev = make([]uint32, n)
		keys = make([]Key, n)
		read := keyReader(rec.Column(m.keyColumn(op)))
		for i := range keys {
			keys[i] = read(i)
			if e, found := m.pk.Get(pkEntry{key: keys[i]}); found {
				b.prev[i] = e.pos + 1
			}
		}
	}
	m.list = append(m.list, b)
	published := m.list[:len(m.list):len(m.list)]
	m.batches.Store(&published)
	for i, k := range keys {
		m.pk.Set(pkEntry{key: k, pos: b.first + uint32(i)})
		if p := b.prev[i]; p != 0 {
			old, j := m.locate(p - 1)
			old.superseded[j].Store(seq)
		}
	}
	m.rows.Add(int64(n))
	m.bytes.Add(int64(util.TotalRecordSize(rec)))
	m.lastSeq = seq
	return b
}

// keyColumn is the index of the primary key in a batch of the given op.
func (m *MemTable) keyColumn(op Op) int {
	if op == OpDelete {
		return 0
	}
	return m.pkCol
}

// locate finds the batch holding memtable position pos in the writer's list
// or in a published slice.
func locateIn(list []*memBatch, pos uint32) (*memBatch, int) {
	i, row := locateIndex(list, pos)
	return list[i], row
}

// locateIndex is locateIn's index of the batch and row.
func locateIndex(list []*memBatch, pos uint32) (int, int) {
	i := sort.Search(len(list), func(i int) bool { return list[i].first+uint32(list[i].rows()) > pos })
	return i, int(pos - list[i].first)
}

func (m *MemTable) locate(pos uint32) (*memBatch, int) { return locateIn(m.list, pos) }

// published returns the batches readers may look at.
func (m *MemTable) published() []*memBatch { return *m.batches.Load() }

// lookup returns the version of key that a reader at watermark w sees: the
// batch and row, or ok=false if the key has no version at or below w. A row
// of a delete batch means the key is deleted as of w.
func (m *MemTable) lookup(key Key, w uint64) (b *memBatch, row int, ok bool) {
	if m.pk == nil {
		return nil, 0, false
	}
	e, found := m.pk.Get(pkEntry{key: key})
	if !found {
		return nil, 0, false
	}
	// Every batch with seq <= w was published before w was, and positions
	// from the btree are published (see append), so the current published
	// slice covers the whole chain.
	list := m.published()
	pos := e.pos
	for {
		b, row = locateIn(list, pos)
		if b.seq <= w {
			return b, row, true
		}
		p := b.prev[row]
		if p == 0 {
			return nil, 0, false
		}
		pos = p - 1
	}
}
