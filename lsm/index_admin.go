package lsm

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// CreateIndex adds an index to an existing table (API.md create_index):
// it records the index in the base manifest's flightwal.indexes and
// reopens the table, whose index builder then indexes every layer in the
// background (memtables as their WAL replays, generations and base
// fragments as sidecars); Table.Stats shows the index building, then
// ready. Requests in flight on the table while it reopens may answer
// Unavailable (ErrClosed): retrying them is safe. It returns the index as
// recorded (its name defaulted).
func (db *DB) CreateIndex(ctx context.Context, table string, def IndexDef) (IndexDef, error) {
	err := db.editIndexes(ctx, table, func(t *Table) ([]IndexDef, error) {
		defs := []IndexDef{def}
		if err := checkIndexes(t.schema, t.pkCol, defs); err != nil {
			if errors.Is(err, ErrNotFound) { // a missing column is bad input here
				err = fmt.Errorf("%w: %w", ErrInvalidArgument, err)
			}
			return nil, err
		}
		def = defs[0]
		if slices.ContainsFunc(t.indexes, func(d IndexDef) bool { return d.Name == def.Name }) {
			return nil, fmt.Errorf("%w: table %q already has an index %q", ErrAlreadyExists, table, def.Name)
		}
		return append(slices.Clone(t.indexes), def), nil
	}, nil)
	return def, err
}

// DropIndex removes an index from a table: from flightwal.indexes, then
// (after the table reopened without it) its model and sidecars. Lance's
// own indexes in the manifest's index section are not flightwal's to drop.
func (db *DB) DropIndex(ctx context.Context, table, name string) error {
	return db.editIndexes(ctx, table, func(t *Table) ([]IndexDef, error) {
		i := slices.IndexFunc(t.indexes, func(d IndexDef) bool { return d.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("%w: table %q has no index %q", ErrNotFound, table, name)
		}
		return slices.Delete(slices.Clone(t.indexes), i, i+1), nil
	}, func(t *Table) error { return removeIndexFiles(ctx, t.store, name) })
}

// editIndexes commits the index list edit returns for the open table,
// reopens the table with it and then runs after (if set) on the new one.
func (db *DB) editIndexes(ctx context.Context, name string, edit func(*Table) ([]IndexDef, error), after func(*Table) error) error {
	if err := CheckTableName(name); err != nil {
		return err
	}
	sl, err := db.acquire(ctx, name)
	if err != nil {
		return err
	}
	defer db.release(name, sl)
	t, err := db.openSlot(ctx, name, sl)
	if err != nil {
		return err
	}
	defs, err := edit(t)
	if err != nil {
		return err
	}
	base, err := t.refreshBase(ctx)
	if err != nil {
		return err
	}
	tx := lance.Transaction{Config: map[string]string{configIndexes: encodeIndexConfig(defs)}}
	if len(defs) == 0 {
		tx.Config[configIndexes] = "" // deletes the key
	}
	next, err := base.ds.Commit(ctx, db.store, tx)
	var ce *lance.ConflictError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: changing the indexes of %q: %w", ErrConflict, name, err)
	}
	if err != nil {
		return wrapStoreErr(fmt.Errorf("changing the indexes of %q: %w", name, err))
	}
	t.publishBase(newBaseLayer(next))
	// Reopen: every layer gets the new index set.
	db.mu.Lock()
	sl.t = nil
	db.mu.Unlock()
	t.close()
	nt, err := db.openSlot(ctx, name, sl)
	if err != nil {
		return err
	}
	if after != nil {
		return after(nt)
	}
	return nil
}

// removeIndexFiles deletes index name's model and sidecars under a table
// (store is rooted at the table): <root>/_flightwal/index/<name>.model and
// <dataset root>/_flightwal/index/<data file>.<name>.<ext> of the base
// and of every generation.
func removeIndexFiles(ctx context.Context, store objstore.Store, name string) error {
	for _, prefix := range []string{indexDir + "/", "_mem_wal/"} {
		objs, err := store.List(ctx, prefix)
		if err != nil {
			return wrapStoreErr(fmt.Errorf("removing index %q: %w", name, err))
		}
		for _, o := range objs {
			dir, base := path.Split(o.Key)
			if !strings.HasSuffix(dir, indexDir+"/") {
				continue
			}
			stem := strings.TrimSuffix(base, path.Ext(base))
			if base != name+".model" && !strings.HasSuffix(stem, "."+name) {
				continue
			}
			if err := store.Delete(ctx, o.Key); err != nil && !errors.Is(err, objstore.ErrNotFound) {
				return wrapStoreErr(fmt.Errorf("removing index %q: %w", name, err))
			}
		}
	}
	return nil
}
