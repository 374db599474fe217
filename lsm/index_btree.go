package lsm

// The btree index kind: accepted on the primary-key column only, which the
// table's key index already serves in every layer.

import (
	"context"
	"fmt"
)

// btreeKind is the btree index kind. On the primary key it names the key
// index every table with a primary key keeps (each memtable's btree, the
// key maps of flushed generations and of the base table), which pk lookups
// use: there is nothing more to build. On any other column it is refused:
// a scalar index that filters use is not supported yet.
type btreeKind struct{}

func (btreeKind) name() string { return "btree" }

func (btreeKind) hasParams(IndexDef) bool { return false }

func (btreeKind) validate(d IndexDef, col indexColumn) error {
	if !col.pk {
		return fmt.Errorf("%w: btree index %q: column %q is not the primary key; btree is supported on the primary key only (its key index serves lookups), on other columns it is not supported yet (supported: fts, ivf_pq, btree on the primary key)", ErrInvalidArgument, d.Name, d.Column)
	}
	return nil
}

// open: a btree on the primary key is the key index, which the memtables
// and layers keep anyway. One on another column (a table created before
// create_table refused it) stays listed in the table's indexes, inactive:
// nothing builds or uses it.
func (btreeKind) open(_ context.Context, x *tableIndexes, d IndexDef, col indexColumn) (tableIndex, error) {
	if !col.pk {
		x.t.opts.Logger.Warn("a btree index on a column other than the primary key is inactive: not supported yet", "table", x.t.name, "index", d.Name, "column", d.Column)
	}
	return nil, nil
}
