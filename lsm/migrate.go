package lsm

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// migrateLegacy moves a table of the legacy layout (integer region
// directories, FNV-1a routing, flightwal.regions) to Lance's MemWAL
// layout, once, when it is opened: every region is flushed and compacted
// into the base table, then one commit installs the MemWAL index (a
// bucket spec on the primary key with as many buckets as the table had
// regions) and drops flightwal.regions and the old regions' merge
// records; the old region directories are deleted and the table reopens
// in the new layout. The regions change (keys route differently), which
// is why nothing may be left in them.
//
// A table that cannot be migrated now (read-only storage, a failing
// store, rows that stayed unmerged) is served in its legacy layout, and
// the next open tries again; only a failure to reopen after the commit is
// an error.
func (db *DB) migrateLegacy(ctx context.Context, name string, t *Table) (*Table, error) {
	log := db.opts.Logger.With("table", name)
	keep := func(step string, err error) (*Table, error) {
		if !errors.Is(err, ErrReadOnly) {
			log.Warn("not migrating the table to Lance's MemWAL layout now", "step", step, "err", err)
		}
		return t, nil
	}
	if _, err := t.Flush(ctx, -1); err != nil {
		return keep("flush", err)
	}
	if _, err := t.Compact(ctx); err != nil {
		return keep("compact", err)
	}
	n := len(t.regions)
	for _, r := range t.regions {
		if s := r.stats(); s.ActiveRows > 0 || s.FrozenRows > 0 || len(s.Generations) > 0 {
			return keep("check", fmt.Errorf("region %d still holds %d memtable rows and generations %v", s.Region, s.ActiveRows+s.FrozenRows, s.Generations))
		}
	}
	spec, err := defaultSpec(t.schema, t.pkCol, n)
	if err != nil {
		return keep("spec", err)
	}
	base := t.base.Load().ds
	fid, ok := base.FieldID(t.schema.Field(t.pkCol).Name)
	if !ok {
		return keep("spec", fmt.Errorf("no field id for the primary key"))
	}
	im, err := lance.NewMemWalIndex(spec.memWalIndex(fid), base.Version())
	if err != nil {
		return keep("index", err)
	}
	tx := lance.Transaction{Config: map[string]string{configRegions: ""}}
	for i := range n {
		tx.Config[configMergedPrefix+strconv.Itoa(i)] = ""
	}
	tx.PutIndex(im)
	next, err := base.Commit(ctx, db.store, tx)
	if err != nil {
		return keep("commit", wrapStoreErr(err))
	}
	t.close()
	for i := range n {
		if _, err := objstore.DeleteAll(ctx, t.store, "_mem_wal/"+strconv.Itoa(i)+"/", nil); err != nil {
			log.Warn("deleting a migrated legacy region", "region", i, "err", err)
		}
	}
	nt, err := openTable(ctx, db, name, next)
	if err != nil {
		return nil, fmt.Errorf("reopening table %q after migrating it to Lance's MemWAL layout: %w", name, err)
	}
	log.Info("migrated the table to Lance's MemWAL layout", "regions", n, "base_version", next.Version())
	return nt, nil
}
