package lsm

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance"
)

// AdoptPrimaryKey makes column pk the primary key of an existing table
// that has none (one LanceDB wrote, say): if pk's live values are unique
// and not null, the base manifest records it (config flightwal.primary_key,
// in one Lance commit) and the table reopens with upsert, delete and point
// lookups. A duplicate or null is InvalidArgument naming it, and nothing
// changes. schema, if not nil, must name the table's columns with their
// types. Writes wait for the adoption (the table is closed while its keys
// are checked, so none lands between the check and the commit); requests
// holding the old table answer Unavailable and retry.
func (db *DB) AdoptPrimaryKey(ctx context.Context, name, pk string, schema *arrow.Schema) (*Table, error) {
	t, err := db.Table(ctx, name)
	if err != nil {
		return nil, err
	}
	if t.pkCol >= 0 {
		return nil, fmt.Errorf("%w: table %q (its primary key is %q)", ErrAlreadyExists, name, t.PrimaryKey())
	}
	if err := t.WriteRefused(); err != nil {
		return nil, err // a commit is a write
	}
	if schema != nil {
		if err := sameColumns(t.schema, schema); err != nil {
			return nil, fmt.Errorf("%w: table %q exists with another schema: %v", ErrInvalidArgument, name, err)
		}
	}
	idx := t.schema.FieldIndices(pk)
	if len(idx) != 1 {
		return nil, fmt.Errorf("%w: primary_key %q is not a column of table %q", ErrInvalidArgument, pk, name)
	}
	if _, err := pkKeyType(t.schema.Field(idx[0]).Type); err != nil {
		return nil, fmt.Errorf("column %q: %w", pk, err)
	}
	if len(t.regions) > 1 {
		// Rows of an append-only table go to regions by stream; keys must
		// live in the region their hash names.
		return nil, fmt.Errorf("%w: table %q has %d regions; a primary key can be adopted by a table of one region", ErrInvalidArgument, name, len(t.regions))
	}

	sl, err := db.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	defer db.release(name, sl)
	db.mu.Lock()
	old := sl.t
	sl.t = nil
	db.mu.Unlock()
	if old != nil {
		old.close()
	}
	ds, err := lance.OpenDataset(ctx, db.store, tableRoot(name))
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("opening table %q: %w", name, err))
	}
	// A read-only view of everything acknowledged (base, generations, the
	// WAL replayed), still append-only.
	view, err := openTable(ctx, db, name, ds)
	if err != nil {
		return nil, err
	}
	err = uniqueKeys(ctx, view, pk)
	if err == nil {
		// Everything acknowledged goes into the base table first: with a
		// key the table gets regions of its own (its MemWAL spec changes),
		// and nothing may be left in the keyless regions.
		ds, err = mergeAll(ctx, view)
	}
	view.close()
	if err != nil {
		return nil, err
	}
	if _, err := ds.Commit(ctx, db.store, lance.Transaction{Config: map[string]string{configPrimaryKey: pk}, PrimaryKey: pk}); err != nil {
		return nil, wrapStoreErr(fmt.Errorf("adopting primary key %q of %q: %w", pk, name, err))
	}
	return db.openSlot(ctx, name, sl)
}

// mergeAll flushes and compacts every region of t into the base table
// and returns the base dataset's version after it.
func mergeAll(ctx context.Context, t *Table) (*lance.Dataset, error) {
	if _, err := t.Flush(ctx, -1); err != nil {
		return nil, err
	}
	if _, err := t.Compact(ctx); err != nil {
		return nil, err
	}
	ds, err := lance.OpenDataset(ctx, t.db.store, tableRoot(t.name))
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("opening table %q: %w", t.name, err))
	}
	return ds, nil
}

// uniqueKeys checks that column pk of every live row of t is unique and
// not null.
func uniqueKeys(ctx context.Context, t *Table, pk string) error {
	plan, err := t.Prepare(Query{Columns: []string{pk}})
	if err != nil {
		return err
	}
	snap := t.Snapshot()
	defer snap.Release()
	seen := map[Key]struct{}{}
	return snap.Run(ctx, t.opts.Allocator, plan, func(rec arrow.RecordBatch) error {
		col := rec.Column(0)
		if n := col.NullN(); n > 0 {
			return fmt.Errorf("%w: column %q has %d null values: it can't be the primary key", ErrInvalidArgument, pk, n)
		}
		read := keyReader(col)
		for i := 0; i < col.Len(); i++ {
			k := read(i)
			if _, dup := seen[k]; dup {
				return fmt.Errorf("%w: column %q has the value %s more than once: it can't be the primary key", ErrInvalidArgument, pk, formatValue(col, i))
			}
			seen[k] = struct{}{}
		}
		return nil
	})
}

// sameColumns reports the first column of want that got lacks or types
// differently, or a column got has more.
func sameColumns(want, got *arrow.Schema) error {
	if want.NumFields() != got.NumFields() {
		return fmt.Errorf("%d columns, the request has %d", want.NumFields(), got.NumFields())
	}
	for _, f := range want.Fields() {
		idx := got.FieldIndices(f.Name)
		if len(idx) != 1 {
			return fmt.Errorf("column %q missing", f.Name)
		}
		if g := got.Field(idx[0]).Type; !arrow.TypeEqual(f.Type, g) {
			return fmt.Errorf("column %q is %s, the request says %s", f.Name, f.Type, g)
		}
	}
	return nil
}
