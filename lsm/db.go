package lsm

import (
	"context"
	"encoding/json"
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
type DB struct {
	store objstore.Store
	opts  Options

	mu     sync.Mutex
	tables map[string]*Table // opened tables
	closed bool
}

// Open returns a DB over store. Tables open on first use.
func Open(ctx context.Context, store objstore.Store, opts Options) (*DB, error) {
	o := opts.withDefaults()
	return &DB{store: store, opts: o, tables: map[string]*Table{}}, nil
}

// IndexDef is an index declared at create_table. Parameters sit beside
// name, column and type (API.md); each applies to one index type.
type IndexDef struct {
	Name   string `json:"name"`
	Column string `json:"column"`
	Type   string `json:"type"` // btree, fts, ivf_pq

	// ivf_pq
	Metric     string `json:"metric,omitempty"`      // l2 (default), cosine, dot
	Partitions int    `json:"partitions,omitempty"`  // IVF partitions; 0 = from the row count
	SubVectors int    `json:"sub_vectors,omitempty"` // PQ sub-vectors; 0 = from the dimension
	TrainAfter int    `json:"train_after,omitempty"` // rows before the model is trained; 0 = default

	// fts
	Stem      *bool `json:"stem,omitempty"`       // English stemming (default true)
	StopWords *bool `json:"stop_words,omitempty"` // drop English stop words (default true)
}

// TableSpec describes a table to create.
type TableSpec struct {
	Name       string
	Schema     *arrow.Schema
	PrimaryKey string // optional: else the field marked with Lance's metadata
	Regions    int    // default 1
	Indexes    []IndexDef
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
	if err := checkIndexes(schema, spec.Indexes); err != nil {
		return nil, err
	}
	cfg := map[string]string{configRegions: strconv.Itoa(spec.Regions)}
	if pkCol >= 0 {
		cfg[configPrimaryKey] = schema.Field(pkCol).Name
	}
	if len(spec.Indexes) > 0 {
		b, _ := json.Marshal(spec.Indexes)
		cfg[configIndexes] = string(b)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, ErrClosed
	}
	_, err = lance.CreateDataset(ctx, db.store, tableRoot(spec.Name), schema, cfg)
	if errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("%w: table %q", ErrAlreadyExists, spec.Name)
	}
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("creating table %q: %w", spec.Name, err))
	}
	return db.openLocked(ctx, spec.Name)
}

func checkIndexes(schema *arrow.Schema, defs []IndexDef) error {
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
		t := schema.Field(idx[0]).Type
		vectorParams := d.Metric != "" || d.Partitions != 0 || d.SubVectors != 0 || d.TrainAfter != 0
		textParams := d.Stem != nil || d.StopWords != nil
		if (vectorParams && d.Type != "ivf_pq") || (textParams && d.Type != "fts") {
			return fmt.Errorf("%w: index %q: parameters of another index type given to a %s index", ErrInvalidArgument, d.Name, d.Type)
		}
		if d.Partitions < 0 || d.SubVectors < 0 || d.TrainAfter < 0 {
			return fmt.Errorf("%w: index %q: partitions, sub_vectors and train_after must not be negative", ErrInvalidArgument, d.Name)
		}
		switch d.Metric {
		case "", "l2", "cosine", "dot":
		default:
			return fmt.Errorf("%w: index %q: metric %q (want l2, cosine or dot)", ErrInvalidArgument, d.Name, d.Metric)
		}
		switch d.Type {
		case "btree":
			if _, err := pkKeyType(t); err != nil && t.ID() != arrow.FLOAT32 && t.ID() != arrow.FLOAT64 && t.ID() != arrow.BOOL {
				return fmt.Errorf("%w: btree index %q needs a scalar column, %q is %s", ErrInvalidArgument, d.Name, d.Column, t)
			}
		case "fts":
			if t.ID() != arrow.STRING && t.ID() != arrow.LARGE_STRING {
				return fmt.Errorf("%w: fts index %q needs a string column, %q is %s", ErrInvalidArgument, d.Name, d.Column, t)
			}
		case "ivf_pq":
			fsl, ok := t.(*arrow.FixedSizeListType)
			if !ok {
				return fmt.Errorf("%w: ivf_pq index %q needs a fixed_size_list<float32> column, %q is %s", ErrInvalidArgument, d.Name, d.Column, t)
			}
			if d.SubVectors > 0 && int(fsl.Len())%d.SubVectors != 0 {
				return fmt.Errorf("%w: ivf_pq index %q: sub_vectors = %d must divide the dimension %d", ErrInvalidArgument, d.Name, d.SubVectors, fsl.Len())
			}
			if d.Partitions > 4096 {
				return fmt.Errorf("%w: ivf_pq index %q: partitions = %d, at most 4096", ErrInvalidArgument, d.Name, d.Partitions)
			}
			if d.TrainAfter > 0 && d.Partitions > d.TrainAfter {
				return fmt.Errorf("%w: ivf_pq index %q: train_after = %d is below partitions = %d (k-means needs a row per partition)", ErrInvalidArgument, d.Name, d.TrainAfter, d.Partitions)
			}
		default:
			return fmt.Errorf("%w: index %q has unknown type %q (want btree, fts or ivf_pq)", ErrInvalidArgument, d.Name, d.Type)
		}
	}
	return nil
}

// Table returns the opened table, opening it on first use.
func (db *DB) Table(ctx context.Context, name string) (*Table, error) {
	if err := CheckTableName(name); err != nil {
		return nil, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, ErrClosed
	}
	if t, ok := db.tables[name]; ok {
		return t, nil
	}
	return db.openLocked(ctx, name)
}

func (db *DB) openLocked(ctx context.Context, name string) (*Table, error) {
	ds, err := lance.OpenDataset(ctx, db.store, tableRoot(name))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: table %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("opening table %q: %w", name, err))
	}
	t, err := openTable(ctx, db, name, ds)
	if err != nil {
		return nil, err
	}
	db.tables[name] = t
	return t, nil
}

// DropTable closes the table and deletes every object under its root.
func (db *DB) DropTable(ctx context.Context, name string) error {
	if err := CheckTableName(name); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if t, ok := db.tables[name]; ok {
		t.close()
		delete(db.tables, name)
	}
	root := tableRoot(name) + "/"
	objs, err := db.store.List(ctx, root)
	if err != nil {
		return wrapStoreErr(err)
	}
	if len(objs) == 0 {
		return fmt.Errorf("%w: table %q", ErrNotFound, name)
	}
	// Remove the manifests first: a table without versions is gone for
	// every reader even if a later delete fails.
	sort.SliceStable(objs, func(i, j int) bool {
		return strings.Contains(objs[i].Key, "/_versions/") && !strings.Contains(objs[j].Key, "/_versions/")
	})
	for _, o := range objs {
		if err := db.store.Delete(ctx, o.Key); err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return wrapStoreErr(fmt.Errorf("dropping table %q: %w", name, err))
		}
	}
	return nil
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

// Close closes every table; buffered async writes are written first.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.closed = true
	for _, t := range db.tables {
		t.close()
	}
	db.tables = map[string]*Table{}
	return nil
}
