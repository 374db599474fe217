package lsm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance"
)

// Indexes of a table, one kind each (IndexDef.Type): ivf_pq, fts, btree.
//
// Every layer keeps its own index: a memtable indexes its published upsert
// batches asynchronously (the region's indexer goroutine), a Lance fragment
// (of a flushed generation or of the base table) gets an index built in the
// background after the flush or compaction that wrote it, cached per data
// file and persisted as a sidecar next to the dataset:
//
//	<dataset root>/_flightwal/index/<data file name>.<index name>.ivfpq|fts
//
// The IVF-PQ model (centroids and codebooks) is trained once per index, from
// a sample of the table's vectors once it holds train_after rows, and stored
// at <table>.lance/_flightwal/index/<index name>.model: every layer encodes
// with it. Until it exists, and for rows an index does not cover yet, search
// is exact. None of this is under _versions/ or data/, so Lance readers
// ignore it.

// indexDir holds the models and, under each dataset root, the sidecars.
const indexDir = "_flightwal/index"

// indexKinds is every index kind create_table accepts, in the order a
// table runs its indexes and reports their status. A kind is one file
// that implements indexKind, and one line here; a kind that keeps state
// in memtables or fragments adds its slot to memIndexes or fragIndex, and
// one whose queries look its indexes up, its list to tableIndexes.
var indexKinds = []indexKind{
	ivfpqKind{}, // index_ivfpq.go
	ftsKind{},   // index_fts.go
	btreeKind{}, // index_btree.go
}

// indexKind is one kind of index: what create_table checks of an index
// of the kind, and what an open table runs for it.
type indexKind interface {
	// name is the kind's IndexDef.Type.
	name() string
	// hasParams reports whether d sets a parameter of this kind, which an
	// index of another kind must not.
	hasParams(d IndexDef) bool
	// validate checks d, declared on col, at create_table (parameters and
	// column type; the name and the column's existence are checked).
	validate(d IndexDef, col indexColumn) error
	// open makes the index of d as the table opens (ivf_pq reads its
	// model here, before the regions replay). It returns nil for an index
	// with nothing to keep in the layers.
	open(ctx context.Context, x *tableIndexes, d IndexDef, col indexColumn) (tableIndex, error)
}

// indexColumn is the column an index is declared on.
type indexColumn struct {
	pos   int // in the table's schema
	field arrow.Field
	pk    bool // the table's primary key
}

// tableIndex is one index of an open table, kept in every layer.
type tableIndex interface {
	base() *indexBase
	// newMem adds the index's state to a new memtable's; indexMem brings
	// it up to list, the memtable's published batches (the region's
	// indexer goroutine calls it; false: the region is closing).
	newMem(mi *memIndexes)
	indexMem(r *RegionWriter, mi *memIndexes, list []*memBatch) bool
	// indexFragment loads, or builds and stores, the index of a Lance
	// fragment (the fragment builder calls it for every fragment); after
	// each pass, indexedFragments hears how many rows the pass saw in
	// the table's layers.
	indexFragment(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment) error
	indexedFragments(rows int64)
	// status is the index's state for stats; mts are the table's
	// memtables.
	status(mts []*MemTable) IndexStatus
}

// indexBase is what every tableIndex holds.
type indexBase struct {
	x   *tableIndexes
	pos int // in the kind's list (x.vecs, x.texts) and memIndexes
	def IndexDef
	col int // in the table's schema
}

func (b *indexBase) base() *indexBase { return b }

// indexKindOf returns the kind named typ, or nil.
func indexKindOf(typ string) indexKind {
	for _, k := range indexKinds {
		if k.name() == typ {
			return k
		}
	}
	return nil
}

// indexKindNames lists the kinds, sorted: "btree, fts or ivf_pq".
func indexKindNames() string {
	names := make([]string, len(indexKinds))
	for i, k := range indexKinds {
		names[i] = k.name()
	}
	slices.Sort(names)
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// tableIndexes is the index state of a table.
type tableIndexes struct {
	t     *Table
	all   []tableIndex // in the order of indexKinds
	vecs  []*vecIndex  // ivf_pq: nearest looks them up
	texts []*textIndex // fts: search looks them up

	mu    sync.Mutex
	frags map[string]*fragIndex // by dataset root, data file and index name

	kick   kicker      // wakes the fragment index builder
	passed atomic.Bool // the builder went over every layer once
	stop   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup // model trainers
	// trainMu orders starting a trainer against close (see maybeTrain).
	trainMu sync.Mutex
}

// newTableIndexes opens the indexes of t as t opens. An index of a kind
// this build does not know (a newer one's) is left out, with a warning.
func newTableIndexes(ctx context.Context, t *Table) (*tableIndexes, error) {
	x := &tableIndexes{t: t, frags: map[string]*fragIndex{}, kick: newKicker(), stop: make(chan struct{}), done: make(chan struct{})}
	cols := make([]indexColumn, len(t.indexes))
	for i, d := range t.indexes {
		col := t.schema.FieldIndices(d.Column)
		if len(col) == 0 {
			return nil, fmt.Errorf("index %q: column %q is not in the table", d.Name, d.Column)
		}
		cols[i] = indexColumn{pos: col[0], field: t.schema.Field(col[0]), pk: col[0] == t.pkCol}
		if indexKindOf(d.Type) == nil {
			t.opts.Logger.Warn("an index of an unknown type is ignored", "table", t.name, "index", d.Name, "type", d.Type)
		}
	}
	for _, k := range indexKinds {
		for i, d := range t.indexes {
			if d.Type != k.name() {
				continue
			}
			ix, err := k.open(ctx, x, d, cols[i])
			if err != nil {
				return nil, err
			}
			if ix != nil {
				x.all = append(x.all, ix)
			}
		}
	}
	return x, nil
}

// any reports whether the table has indexes kept in the layers.
func (x *tableIndexes) any() bool { return len(x.all) > 0 }

// start starts the fragment index builder.
func (x *tableIndexes) start() {
	go background(x.stop, x.kick, x.done, x.buildFragments)
	if x.any() {
		x.kick.kick()
	}
}

// close stops the builder and waits for running trainers.
func (x *tableIndexes) close() {
	x.trainMu.Lock()
	close(x.stop) // under trainMu: no trainer starts after this
	x.trainMu.Unlock()
	<-x.done
	x.wg.Wait()
}

func (x *tableIndexes) stopped() bool { return closed(x.stop) }
