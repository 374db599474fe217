package lance

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

// Latest returns the dataset's latest version: d itself if no writer
// committed since d (one listing of _versions/), else the newer version,
// sharing d's FileCache.
func (d *Dataset) Latest(ctx context.Context) (*Dataset, error) {
	entries, err := listVersions(ctx, d.store, d.root)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("lance: no dataset at %s: %w", d.root, objstore.ErrNotFound)
	}
	last := entries[len(entries)-1]
	if last.version <= d.Version() {
		return d, nil
	}
	return openEntry(ctx, d.store, d.root, last, d.files)
}

// ScanFragments is Scan over the fragments with the given ids only (ids
// the version lacks are skipped), in manifest order.
func (d *Dataset) ScanFragments(ctx context.Context, mem memory.Allocator, ids []uint64, columns []string, batchRows int, fn func(frag Fragment, firstRow uint64, rec arrow.RecordBatch) error) error {
	proj, schema, err := d.projection(columns)
	if err != nil {
		return err
	}
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	for _, frag := range d.fragments {
		if !want[frag.ID] {
			continue
		}
		if err := d.scanFragment(ctx, mem, frag, proj, schema, batchRows, fn); err != nil {
			return err
		}
	}
	return nil
}
