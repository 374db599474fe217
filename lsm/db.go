package lsm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// Config keys flightwal keeps in the base Lance manifest's config map, so
// that the table's own dataset says how to open it.
const (
	configRegions    = "flightwal.regions"
	configPrimaryKey = "flightwal.primary_key"
	configIndexes    = "flightwal.indexes"
)

var tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$`)

// MaxRegions bounds the regions of one table.
const MaxRegions = 256

// DB is the set of tables under one storage root.
//
// Opening a table (which replays its WAL) and dropping one can take long,
// so they do not hold the DB-wide lock: each table name has a slot whose
// own lock serialises the create, open, drop and close of that name, and
// mu only guards the map of slots. Concurrent openers of one table wait for
// one open; a failed open leaves nothing behind, the next caller tries
// again.
type DB struct {
	store objstore.Store
	opts  Options

	mu     sync.Mutex
	slots  map[string]*tableSlot // names being opened, created, dropped, or open
	closed bool
}

// tableSlot is one table name's entry in the DB.
type tableSlot struct {
	lock chan struct{} // one token: held while creating, opening, dropping or closing the table
	refs int           // holders and waiters of lock (DB.mu)
	t    *Table        // the open table, or nil (DB.mu)
}

// Open returns a DB over store. Tables open on first use.
func Open(ctx context.Context, store objstore.Store, opts Options) (*DB, error) {
	o, err := opts.prepare()
	if err != nil {
		return nil, err
	}
	o.metrics = newDBMetrics()
	return &DB{store: store, opts: o, slots: map[string]*tableSlot{}}, nil
}

// acquire takes the lock of name's slot, waiting for a create, open or drop
// of the same name to finish (or ctx to end). The caller must release it.
func (db *DB) acquire(ctx context.Context, name string) (*tableSlot, error) {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil, ErrClosed
	}
	sl := db.slots[name]
	if sl == nil {
		sl = &tableSlot{lock: make(chan struct{}, 1)}
		db.slots[name] = sl
	}
	sl.refs++
	db.mu.Unlock()
	select {
	case sl.lock <- struct{}{}:
		return sl, nil
	case <-ctx.Done():
		db.unref(name, sl)
		return nil, ctx.Err()
	}
}

// release lets go of a slot acquire returned.
func (db *DB) release(name string, sl *tableSlot) {
	<-sl.lock
	db.unref(name, sl)
}

// unref drops a reference to the slot; a slot nobody holds, waits for or
// has open is forgotten (names that were never tables leave nothing).
func (db *DB) unref(name string, sl *tableSlot) {
	db.mu.Lock()
	defer db.mu.Unlock()
	sl.refs--
	if sl.refs == 0 && sl.t == nil && db.slots[name] == sl {
		delete(db.slots, name)
	}
}

// opened returns the table open in sl, or nil.
func (db *DB) opened(sl *tableSlot) *Table {
	db.mu.Lock()
	defer db.mu.Unlock()
	return sl.t
}

// IndexDef is an index declared at create_table: each parameter applies
// to one index type. It has no JSON of its own: flight decodes it from the
// wire (IndexSpec), and the base manifest stores it as persistedIndex.
type IndexDef struct {
	Name   string
	Column string
	Type   string // btree, fts, ivf_pq

	// ivf_pq
	Metric     string // l2 (default), cosine, dot
	Partitions int    // IVF partitions; 0 = from the row count
	SubVectors int    // PQ sub-vectors; 0 = from the dimension
	TrainAfter int    // rows before the model is trained; 0 = default

	// fts
	Stem      *bool // English stemming (default true)
	StopWords *bool // drop English stop words (default true)
}

// TableSpec describes a table to create.
type TableSpec struct {
	Name       string
	Schema     *arrow.Schema
	PrimaryKey string // optional: else the field marked with Lance's metadata
	Regions    int    // default 1
	Indexes    []IndexDef
	// DataStorageVersion is the Lance data file format of every file of
	// the table: "2.0" (default), "2.1" or "2.2".
	DataStorageVersion string
}

// CheckTableName validates a table name (API.md).
func CheckTableName(name string) error {
	if !tableNameRE.MatchString(name) {
		return fmt.Errorf("%w: table name %q must match %s", ErrInvalidArgument, name, tableNameRE)
	}
	return nil
}

func tableRoot(name string) string { return name + ".lance" }

// CreateTable creates the table's base Lance dataset (version 1, no rows)
// holding the schema and flightwal's settings, then opens it.
func (db *DB) CreateTable(ctx context.Context, spec TableSpec) (*Table, error) {
	if err := CheckTableName(spec.Name); err != nil {
		return nil, err
	}
	version, err := lance.ParseDataStorageVersion(spec.DataStorageVersion)
	if err != nil {
		return nil, fmt.Errorf("%w: data_storage_version %q: want \"2.0\", \"2.1\" or \"2.2\"", ErrInvalidArgument, spec.DataStorageVersion)
	}
	schema, pkCol, err := normalizeSchema(spec.Schema, spec.PrimaryKey)
	if err != nil {
		return nil, err
	}
	if spec.Regions == 0 {
		spec.Regions = 1
	}
	if spec.Regions < 1 || spec.Regions > MaxRegions {
		return nil, fmt.Errorf("%w: regions must be between 1 and %d, got %d", ErrInvalidArgument, MaxRegions, spec.Regions)
	}
	if err := checkIndexes(schema, pkCol, spec.Indexes); err != nil {
		return nil, err
	}
	// A table with a primary key records its regions as Lance does: a
	// MemWAL index whose spec buckets the key into spec.Regions regions
	// (written right after the table, below). Append-only tables, which
	// Lance's MemWAL does not serve, keep flightwal's config.
	shard, err := defaultSpec(schema, pkCol, spec.Regions)
	if err != nil {
		return nil, err
	}
	cfg := map[string]string{}
	if pkCol >= 0 {
		cfg[configPrimaryKey] = schema.Field(pkCol).Name
	} else {
		cfg[configRegions] = strconv.Itoa(spec.Regions)
	}
	if len(spec.Indexes) > 0 {
		cfg[configIndexes] = encodeIndexConfig(spec.Indexes)
	}
	sl, err := db.acquire(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	defer db.release(spec.Name, sl)
	if db.opened(sl) != nil {
		return nil, fmt.Errorf("%w: table %q", ErrAlreadyExists, spec.Name)
	}
	if err := db.clearRemnants(ctx, spec.Name); err != nil {
		return nil, err
	}
	ds, err := lance.WriteDatasetWith(ctx, db.store, tableRoot(spec.Name), schema, nil, lance.CreateOptions{Config: cfg, DataStorageVersion: version})
	if errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("%w: table %q", ErrAlreadyExists, spec.Name)
	}
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("creating table %q: %w", spec.Name, err))
	}
	if pkCol >= 0 {
		if err := putMemWalIndex(ctx, db.store, ds, shard, schema.Field(pkCol).Name); err != nil {
			return nil, wrapStoreErr(fmt.Errorf("creating table %q: %w", spec.Name, err))
		}
	}
	return db.openSlot(ctx, spec.Name, sl)
}

// clearRemnants deletes what an interrupted drop_table left under a
// table's root. A drop deletes the Lance manifests first, so objects under
// a root without a manifest belong to no table: a table created under the
// name must not replay their WAL entries or read their generations.
func (db *DB) clearRemnants(ctx context.Context, name string) error {
	manifests, err := db.store.List(ctx, tableRoot(name)+"/_versions/")
	if err != nil {
		return wrapStoreErr(fmt.Errorf("creating table %q: %w", name, err))
	}
	for _, o := range manifests {
		if strings.HasSuffix(o.Key, ".manifest") {
			return nil // a table: CreateDataset answers AlreadyExists
		}
	}
	n, err := db.removeRoot(ctx, name)
	if n > 0 && err == nil {
		db.opts.Logger.Warn("removed what an interrupted drop_table left", "table", name, "objects", n)
	}
	return err
}

// checkIndexes validates the indexes of a table to create (pkCol: its
// primary key, -1 if none); each kind checks its own.
func checkIndexes(schema *arrow.Schema, pkCol int, defs []IndexDef) error {
	names := map[string]bool{}
	for i, d := range defs {
		if d.Name == "" {
			d.Name = d.Column + "_idx"
			defs[i].Name = d.Name
			if !tableNameRE.MatchString(d.Name) {
				return fmt.Errorf("%w: the index on column %q needs a \"name\": the default %q does not match %s", ErrInvalidArgument, d.Column, d.Name, tableNameRE)
			}
		}
		// Index names become parts of object keys, as table names do.
		if !tableNameRE.MatchString(d.Name) {
			return fmt.Errorf("%w: index name %q must match %s", ErrInvalidArgument, d.Name, tableNameRE)
		}
		if names[d.Name] {
			return fmt.Errorf("%w: index name %q used twice", ErrInvalidArgument, d.Name)
		}
		names[d.Name] = true
		idx := schema.FieldIndices(d.Column)
		if len(idx) == 0 {
			return fmt.Errorf("%w: index %q: column %q", ErrNotFound, d.Name, d.Column)
		}
		for _, k := range indexKinds {
			if k.name() != d.Type && k.hasParams(d) {
				return fmt.Errorf("%w: index %q: parameters of another index type given to a %s index", ErrInvalidArgument, d.Name, d.Type)
			}
		}
		k := indexKindOf(d.Type)
		if k == nil {
			return fmt.Errorf("%w: index %q has unknown type %q (want %s)", ErrInvalidArgument, d.Name, d.Type, indexKindNames())
		}
		if err := k.validate(d, indexColumn{pos: idx[0], field: schema.Field(idx[0]), pk: idx[0] == pkCol}); err != nil {
			return err
		}
	}
	return nil
}

// Table returns the opened table, opening it on first use. Opening one
// table does not hold up requests on others.
func (db *DB) Table(ctx context.Context, name string) (*Table, error) {
	if err := CheckTableName(name); err != nil {
		return nil, err
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil, ErrClosed
	}
	if sl := db.slots[name]; sl != nil && sl.t != nil {
		t := sl.t
		db.mu.Unlock()
		if err := t.Unservable(); err != nil {
			return nil, err
		}
		return t, nil
	}
	db.mu.Unlock()
	sl, err := db.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	defer db.release(name, sl)
	t, err := db.openSlot(ctx, name, sl)
	if err == nil {
		err = t.Unservable()
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// openSlot opens the table of a slot the caller holds, unless another
// caller opened it while this one waited.
func (db *DB) openSlot(ctx context.Context, name string, sl *tableSlot) (*Table, error) {
	if t := db.opened(sl); t != nil {
		return t, nil
	}
	ds, err := lance.OpenDataset(ctx, db.store, tableRoot(name))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: table %q", ErrNotFound, name)
	}
	if isFormatErr(err) {
		return nil, &FormatError{Table: name, Err: err}
	}
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("opening table %q: %w", name, err))
	}
	// Every data file must be readable before the table serves anything:
	// a table that can't be read can't be compacted either. Its metadata
	// and page encodings are checked, no data is read.
	if err := ds.CheckReadable(ctx); isFormatErr(err) {
		return nil, &FormatError{Table: name, Schema: ds.Schema(), Err: err}
	} else if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("opening table %q: %w", name, err))
	}
	t, err := openTable(ctx, db, name, ds)
	if err != nil {
		return nil, err
	}
	if t.layout.legacy && t.pkCol >= 0 {
		if t, err = db.migrateLegacy(ctx, name, t); err != nil {
			return nil, err
		}
	}
	db.mu.Lock()
	if db.closed {
		// Close is waiting for this slot; it must find nothing open.
		db.mu.Unlock()
		t.close()
		return nil, ErrClosed
	}
	sl.t = t
	db.mu.Unlock()
	return t, nil
}

// DropTable closes the table and deletes every object under its root.
// Opens and creates of the same name wait for it; other tables do not.
func (db *DB) DropTable(ctx context.Context, name string) error {
	if err := CheckTableName(name); err != nil {
		return err
	}
	sl, err := db.acquire(ctx, name)
	if err != nil {
		return err
	}
	defer db.release(name, sl)
	db.mu.Lock()
	t := sl.t
	sl.t = nil
	db.mu.Unlock()
	if t != nil {
		t.dropped.Store(true)
		t.close()
	}
	n, err := db.removeRoot(ctx, name)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: table %q", ErrNotFound, name)
	}
	return nil
}

// removeRoot deletes every object under a table's root, the manifests
// first (a table without versions is gone for every reader even if a
// later delete fails), then on a local store the temporary files of
// killed writes (any age: the table is gone) and the empty directories.
// It returns how many objects there were. A failure of the tidying leaves
// empty directories, not data: it is logged.
func (db *DB) removeRoot(ctx context.Context, name string) (int, error) {
	root := tableRoot(name) + "/"
	n, err := objstore.DeleteAll(ctx, db.store, root, func(key string) bool { return strings.Contains(key, "/_versions/") })
	if err != nil {
		return n, wrapStoreErr(fmt.Errorf("removing table %q: %w", name, err))
	}
	if _, err := objstore.RemoveTemp(ctx, db.store, root, 0); err != nil {
		db.opts.Logger.Warn("removing temporary files", "table", name, "err", err)
	} else if err := objstore.RemoveEmptyDirs(ctx, db.store, root); err != nil {
		db.opts.Logger.Warn("removing empty directories", "table", name, "err", err)
	}
	return n, nil
}

// ListTables names every table under the root, sorted.
func (db *DB) ListTables(ctx context.Context) ([]string, error) {
	objs, err := db.store.List(ctx, "")
	if err != nil {
		return nil, wrapStoreErr(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, o := range objs {
		dir, rest, ok := strings.Cut(o.Key, ".lance/_versions/")
		if !ok || strings.Contains(dir, "/") || !strings.HasSuffix(rest, ".manifest") || seen[dir] {
			continue
		}
		if CheckTableName(dir) == nil {
			seen[dir] = true
			names = append(names, dir)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Close closes every table; buffered async writes are written first. It
// waits for opens, creates and drops under way; no table opens after it.
func (db *DB) Close() error {
	db.mu.Lock()
	db.closed = true
	names := make([]string, 0, len(db.slots))
	slots := make([]*tableSlot, 0, len(db.slots))
	for name, sl := range db.slots {
		sl.refs++
		names, slots = append(names, name), append(slots, sl)
	}
	db.mu.Unlock()
	for i, sl := range slots {
		sl.lock <- struct{}{}
		db.mu.Lock()
		t := sl.t
		sl.t = nil
		db.mu.Unlock()
		if t != nil {
			t.close()
		}
		db.release(names[i], sl)
	}
	return nil
}

// putMemWalIndex commits the MemWAL index of spec into a new table (its
// version 2, as LanceDB's setLsmWriteSpec does).
func putMemWalIndex(ctx context.Context, store objstore.Store, ds *lance.Dataset, spec shardSpec, pk string) error {
	fid, ok := ds.FieldID(pk)
	if !ok {
		return fmt.Errorf("no field id for primary key %q", pk)
	}
	im, err := lance.NewMemWalIndex(spec.memWalIndex(fid), ds.Version())
	if err != nil {
		return err
	}
	var tx lance.Transaction
	tx.PutIndex(im)
	_, err = ds.Commit(ctx, store, tx)
	return err
}
