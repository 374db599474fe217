package lance

import (
	"context"
	"fmt"
	"maps"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// NewFragment is a data file written by WriteFragment and not yet part of
// any version; Commit gives it a fragment id.
type NewFragment struct {
	Path      string        // relative to root/data/
	Rows      uint64        // rows in the file
	SizeBytes uint64        // file size
	Schema    *arrow.Schema // the columns stored, in file column order
	// Version is the data file's format ("" is 2.0).
	Version DataStorageVersion
}

// toProto builds the manifest entry for nf as fragment id, mapping its
// columns to the dataset's field ids by name.
func (nf NewFragment) toProto(id uint64, fields []*filepb.Field) (*tablepb.DataFragment, error) {
	if nf.Rows == 0 {
		return nil, fmt.Errorf("lance: new fragment %s has no rows", nf.Path)
	}
	if nf.Schema == nil {
		return nil, fmt.Errorf("lance: new fragment %s has no schema", nf.Path)
	}
	df, err := nf.dataFile(fields)
	if err != nil {
		return nil, err
	}
	return &tablepb.DataFragment{Id: id, Files: []*tablepb.DataFile{df}, PhysicalRows: nf.Rows}, nil
}

// Transaction is one atomic change to a dataset.
type Transaction struct {
	// NewFragments are appended in order with ids max_fragment_id+1, ...
	NewFragments []NewFragment
	// Deletions maps a fragment id to row offsets (within the fragment) to
	// delete; they are merged with the fragment's existing deletion file.
	Deletions map[uint64][]uint32
	// RemoveFragments are dropped from the new version entirely.
	RemoveFragments []uint64
	// Config entries are merged into Manifest.config (an empty value
	// deletes the key).
	Config map[string]string
	// PrimaryKey, if set, marks that top-level field as the table's
	// primary key, as Lance records one (the field's
	// lance-schema:unenforced-primary-key metadata and
	// unenforced_primary_key flag).
	PrimaryKey string

	// Rebase, if set, is called when another writer committed since the
	// version tx was built from and Commit is about to rebuild tx on
	// latest (after checking that the other commits do not conflict): it
	// may add to tx what the other commits call for (such as deletions of
	// rows they appended that tx supersedes). An error fails the commit.
	Rebase func(ctx context.Context, latest *Dataset, tx *Transaction) error

	// indexEdits change the index section (PutIndex, ReplaceIndex,
	// RemoveIndex, RemoveIndexUUID, UpdateIndex in index.go); every
	// other index is carried into the new version.
	indexEdits []indexEdit
}

// build returns d's manifest with tx applied as version d.Version()+1,
// its index section, and the Lance transaction describing it. read is the
// version tx was built from (d itself, or an older version when rebasing):
// a row tx deletes that another writer deleted since read is a conflict.
// Deletion files are written here; the manifest is not.
func (d *Dataset) build(ctx context.Context, store objstore.Store, tx *Transaction, read *Dataset) (*tablepb.Manifest, []*tablepb.IndexMetadata, *tablepb.Transaction, error) {
	if err := d.checkNewFragments(tx.NewFragments); err != nil {
		return nil, nil, nil, err
	}
	m := proto.Clone(d.manifest).(*tablepb.Manifest)
	m.Version = d.Version() + 1
	m.WriterVersion = &tablepb.Manifest_WriterVersion{Library: writerLibrary, Version: writerVersion}
	// The index section is rewritten (carried and edited) by
	// buildIndexes; the transaction section of the old file describes the
	// old commit, not this one.
	m.IndexSection = nil
	m.TransactionSection = nil
	m.TransactionFile = ""
	ltx := &tablepb.Transaction{ReadVersion: d.Version()}
	var updated []*tablepb.DataFragment
	var dropped []uint64

	remove := make(map[uint64]bool, len(tx.RemoveFragments))
	for _, id := range tx.RemoveFragments {
		if _, ok := d.fragment(id); !ok {
			return nil, nil, nil, fmt.Errorf("lance: commit: remove of unknown fragment %d", id)
		}
		remove[id] = true
	}
	for id := range tx.Deletions {
		if _, ok := d.fragment(id); !ok {
			return nil, nil, nil, fmt.Errorf("lance: commit: deletion in unknown fragment %d", id)
		}
		if remove[id] {
			return nil, nil, nil, fmt.Errorf("lance: commit: fragment %d both removed and deleted from", id)
		}
	}

	frags := make([]*tablepb.DataFragment, 0, len(m.GetFragments())+len(tx.NewFragments))
	for _, f := range m.GetFragments() {
		if remove[f.GetId()] {
			continue
		}
		rows, ok := tx.Deletions[f.GetId()]
		if ok && len(rows) > 0 {
			bm, err := d.DeletionBitmap(ctx, f.GetId())
			if err != nil {
				return nil, nil, nil, err
			}
			if err := checkDeleteOverlap(ctx, read, d, f, bm, rows); err != nil {
				return nil, nil, nil, err
			}
			merged := roaring.New()
			if bm != nil {
				merged.Or(bm)
			}
			for _, r := range rows {
				if uint64(r) >= f.GetPhysicalRows() {
					return nil, nil, nil, fmt.Errorf("lance: commit: delete of row %d in fragment %d of %d rows", r, f.GetId(), f.GetPhysicalRows())
				}
				merged.Add(r)
			}
			if merged.GetCardinality() == f.GetPhysicalRows() {
				dropped = append(dropped, f.GetId())
				continue // every row deleted: drop the fragment, as Lance does
			}
			if bm == nil || merged.GetCardinality() != bm.GetCardinality() {
				del, err := writeDeletionFile(ctx, store, d.root, f.GetId(), d.Version(), merged)
				if err != nil {
					return nil, nil, nil, err
				}
				f.DeletionFile = del
				updated = append(updated, f)
			}
		}
		frags = append(frags, f)
	}
	next := uint64(0)
	if m.MaxFragmentId != nil {
		next = uint64(m.GetMaxFragmentId()) + 1
	} else {
		for _, f := range d.manifest.GetFragments() {
			next = max(next, f.GetId()+1)
		}
	}
	var added []*tablepb.DataFragment
	for _, nf := range tx.NewFragments {
		pf, err := nf.toProto(next, m.GetFields())
		if err != nil {
			return nil, nil, nil, err
		}
		frags = append(frags, pf)
		added = append(added, pf)
		next++
	}
	if next > 0 {
		if next-1 > uint64(^uint32(0)) {
			return nil, nil, nil, fmt.Errorf("lance: commit: fragment id %d overflows max_fragment_id", next-1)
		}
		mf := uint32(next - 1)
		m.MaxFragmentId = &mf
	}
	m.Fragments = frags
	indexes, err := tx.buildIndexes(d.indexes)
	if err != nil {
		return nil, nil, nil, err
	}

	if len(tx.Config) > 0 {
		cfg := maps.Clone(m.GetConfig())
		if cfg == nil {
			cfg = map[string]string{}
		}
		for k, v := range tx.Config {
			if v == "" {
				delete(cfg, k)
			} else {
				cfg[k] = v
			}
		}
		m.Config = cfg
	}
	if tx.PrimaryKey != "" {
		if err := markPrimaryKey(m, tx.PrimaryKey); err != nil {
			return nil, nil, nil, err
		}
	}
	dropped = append(dropped, tx.RemoveFragments...)
	describe(ltx, tx, added, updated, dropped, d.indexes, indexes)
	return m, indexes, ltx, nil
}

// markPrimaryKey marks top-level field name of m's schema as the primary key.
func markPrimaryKey(m *tablepb.Manifest, name string) error {
	for i, f := range m.GetFields() {
		if f.GetParentId() != -1 || f.GetName() != name {
			continue
		}
		f = proto.Clone(f).(*filepb.Field) // m shares fields with the old manifest
		if f.Metadata == nil {
			f.Metadata = map[string][]byte{}
		}
		f.Metadata[PrimaryKeyMetadataKey] = []byte("true")
		f.UnenforcedPrimaryKey = true
		m.Fields[i] = f
		return nil
	}
	return fmt.Errorf("lance: commit: primary key %q is not a top-level field", name)
}
