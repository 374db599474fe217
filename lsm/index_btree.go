package lsm

// The btree index kind: accepted and persisted, not built.

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// btreeKind is the btree index kind: accepted on a scalar column, kept in
// the table's indexes, never built.
type btreeKind struct{}

func (btreeKind) name() string { return "btree" }

func (btreeKind) hasParams(IndexDef) bool { return false }

func (btreeKind) validate(d IndexDef, col indexColumn) error {
	if t := col.field.Type; !col.pk {
		if _, err := pkKeyType(t); err != nil && t.ID() != arrow.FLOAT32 && t.ID() != arrow.FLOAT64 && t.ID() != arrow.BOOL {
			return fmt.Errorf("%w: btree index %q needs a scalar column, %q is %s", ErrInvalidArgument, d.Name, d.Column, t)
		}
	}
	return nil
}

func (btreeKind) open(context.Context, *tableIndexes, IndexDef, indexColumn) (tableIndex, error) {
	return nil, nil
}
