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
}

// Commit writes version d.Version()+1 = d's manifest with tx applied, using
// put-if-absent. If that version exists it returns an error wrapping
// ErrConflict: re-open the dataset, re-validate and retry. Deletion files
// and data files written before a failed commit are left unreferenced.
// The new Dataset shares d's FileCache.
func (d *Dataset) Commit(ctx context.Context, store objstore.Store, tx Transaction) (*Dataset, error) {
	if err := d.checkNewFragments(tx.NewFragments); err != nil {
		return nil, err
	}
	m := proto.Clone(d.manifest).(*tablepb.Manifest)
	m.Version = d.Version() + 1
	m.WriterVersion = &tablepb.Manifest_WriterVersion{Library: writerLibrary, Version: writerVersion}
	// Sections of the old file do not carry over: the new manifest file
	// holds only the Manifest (we do not write indexes or transactions).
	// Dropping the index section also drops indexes, which is safe: Lance
	// then scans instead of using a stale index.
	m.IndexSection = nil
	m.TransactionSection = nil
	m.TransactionFile = ""

	remove := make(map[uint64]bool, len(tx.RemoveFragments))
	for _, id := range tx.RemoveFragments {
		if _, ok := d.fragment(id); !ok {
			return nil, fmt.Errorf("lance: commit: remove of unknown fragment %d", id)
		}
		remove[id] = true
	}
	for id := range tx.Deletions {
		if _, ok := d.fragment(id); !ok {
			return nil, fmt.Errorf("lance: commit: deletion in unknown fragment %d", id)
		}
		if remove[id] {
			return nil, fmt.Errorf("lance: commit: fragment %d both removed and deleted from", id)
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
				return nil, err
			}
			merged := roaring.New()
			if bm != nil {
				merged.Or(bm)
			}
			for _, r := range rows {
				if uint64(r) >= f.GetPhysicalRows() {
					return nil, fmt.Errorf("lance: commit: delete of row %d in fragment %d of %d rows", r, f.GetId(), f.GetPhysicalRows())
				}
				merged.Add(r)
			}
			if merged.GetCardinality() == f.GetPhysicalRows() {
				continue // every row deleted: drop the fragment, as Lance does
			}
			if bm == nil || merged.GetCardinality() != bm.GetCardinality() {
				del, err := writeDeletionFile(ctx, store, d.root, f.GetId(), d.Version(), merged)
				if err != nil {
					return nil, err
				}
				f.DeletionFile = del
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
	for _, nf := range tx.NewFragments {
		pf, err := nf.toProto(next, m.GetFields())
		if err != nil {
			return nil, err
		}
		frags = append(frags, pf)
		next++
	}
	if next > 0 {
		if next-1 > uint64(^uint32(0)) {
			return nil, fmt.Errorf("lance: commit: fragment id %d overflows max_fragment_id", next-1)
		}
		mf := uint32(next - 1)
		m.MaxFragmentId = &mf
	}
	m.Fragments = frags

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
	return commitManifest(ctx, store, d.root, d.scheme, m, d.files)
}
