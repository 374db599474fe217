package lance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// Dataset is one opened version of a Lance table at root (for example
// "t.lance" or "t.lance/_mem_wal/0/ab12_gen_3"). It is an immutable
// snapshot, safe for concurrent use; it caches deletion bitmaps it has
// read, and data file metadata in its FileCache.
type Dataset struct {
	store     objstore.Store
	root      string
	scheme    namingScheme
	manifest  *tablepb.Manifest
	schema    *arrow.Schema
	fields    []*filepb.Field // top-level fields, in schema order
	tree      *fieldTree
	fragments []Fragment

	mu        sync.Mutex
	deletions map[uint64]*roaring.Bitmap
	files     *FileCache               // data files' metadata; shared with versions Commit makes
	indexes   []*tablepb.IndexMetadata // the index section; never modified
	rebases   int                      // Rebases
}

// Fragment describes one fragment of the dataset version.
type Fragment struct {
	ID           uint64
	PhysicalRows uint64 // rows in the data files, deleted ones included
	DeletedRows  uint64 // rows masked by the deletion file
	// Files are the fragment's data files, paths relative to root/data/.
	Files []string

	pb *tablepb.DataFragment
}

// CreateDataset writes version 1 of an empty dataset (zero fragments). It
// returns an error wrapping objstore.ErrExists if root already has a version.
func CreateDataset(ctx context.Context, store objstore.Store, root string, schema *arrow.Schema, config map[string]string) (*Dataset, error) {
	return WriteDataset(ctx, store, root, schema, nil, config)
}

// WriteDataset writes version 1 of a dataset holding recs as one fragment
// (no fragment if recs hold no rows). It returns an error wrapping
// objstore.ErrExists if root already has a version.
func WriteDataset(ctx context.Context, store objstore.Store, root string, schema *arrow.Schema, recs []arrow.RecordBatch, config map[string]string) (*Dataset, error) {
	return WriteDatasetWith(ctx, store, root, schema, recs, CreateOptions{Config: config})
}

// CreateOptions are the choices fixed when a dataset is created.
type CreateOptions struct {
	// Config is the manifest's config map.
	Config map[string]string
	// DataStorageVersion is the data file format of every data file of
	// the dataset ("" = Version20): see ParseDataStorageVersion.
	DataStorageVersion DataStorageVersion
}

// WriteDatasetWith is WriteDataset with options (CreateDataset with none:
// recs nil).
func WriteDatasetWith(ctx context.Context, store objstore.Store, root string, schema *arrow.Schema, recs []arrow.RecordBatch, opts CreateOptions) (*Dataset, error) {
	version, err := ParseDataStorageVersion(string(opts.DataStorageVersion))
	if err != nil {
		return nil, err
	}
	fields, err := schemaToFields(schema)
	if err != nil {
		return nil, err
	}
	existing, err := listVersions(ctx, store, root)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("lance: dataset %s already has version %d: %w", root, existing[len(existing)-1].version, objstore.ErrExists)
	}
	m := &tablepb.Manifest{
		Fields:         fields,
		Version:        1,
		WriterVersion:  &tablepb.Manifest_WriterVersion{Library: writerLibrary, Version: writerVersion},
		DataFormat:     &tablepb.Manifest_DataStorageFormat{FileFormat: "lance", Version: string(version)},
		Config:         maps.Clone(opts.Config),
		SchemaMetadata: schemaMetadata(schema),
	}
	rows := int64(0)
	for _, r := range recs {
		rows += r.NumRows()
	}
	if rows > 0 {
		nf, err := WriteFragmentVersion(ctx, store, root, schema, recs, version)
		if err != nil {
			return nil, err
		}
		frag, err := nf.toProto(0, fields)
		if err != nil {
			return nil, err
		}
		m.Fragments = []*tablepb.DataFragment{frag}
		m.MaxFragmentId = new(uint32) // 0; unset while the table has never had a fragment
	}
	d, err := commitManifest(ctx, store, root, namingV2, m, nil, nil)
	if errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("lance: create %s: %w", root, errors.Join(err, objstore.ErrExists))
	}
	return d, err
}

func schemaMetadata(schema *arrow.Schema) map[string][]byte {
	md := schema.Metadata()
	if md.Len() == 0 {
		return nil
	}
	out := make(map[string][]byte, md.Len())
	for i, k := range md.Keys() {
		out[k] = []byte(md.Values()[i])
	}
	return out
}

// commitManifest stamps m (timestamp, feature flags) and writes it as its
// version with put-if-absent. ErrConflict if the version exists.
// The new Dataset uses files as its FileCache (nil: a private one).
func commitManifest(ctx context.Context, store objstore.Store, root string, scheme namingScheme, m *tablepb.Manifest, indexes []*tablepb.IndexMetadata, files *FileCache) (*Dataset, error) {
	m.Timestamp = timestamppb.New(time.Now())
	m.ReaderFeatureFlags, m.WriterFeatureFlags = featureFlags(m)
	if len(m.Config) == 0 {
		m.Config = nil
	}
	data, err := encodeManifestFile(m, indexes)
	if err != nil {
		return nil, err
	}
	key := join(root, versionsDir+"/"+manifestName(m.GetVersion(), scheme))
	if err := store.PutIfAbsent(ctx, key, data); err != nil {
		if errors.Is(err, objstore.ErrExists) {
			return nil, fmt.Errorf("lance: commit %s version %d: %w", root, m.GetVersion(), ErrConflict)
		}
		return nil, fmt.Errorf("lance: commit %s: %w", key, err)
	}
	d, err := newDataset(store, root, scheme, key, m, files)
	if d != nil {
		d.indexes = indexes
	}
	return d, err
}

// OpenDataset opens the latest version at root. It returns an error
// wrapping objstore.ErrNotFound if there is none.
func OpenDataset(ctx context.Context, store objstore.Store, root string) (*Dataset, error) {
	return OpenDatasetWith(ctx, store, root, OpenOptions{})
}

// OpenDatasetVersion opens the given version at root (ErrNotFound if absent).
func OpenDatasetVersion(ctx context.Context, store objstore.Store, root string, version uint64) (*Dataset, error) {
	if version == 0 {
		return nil, fmt.Errorf("lance: %s has no version 0: %w", root, objstore.ErrNotFound)
	}
	return OpenDatasetWith(ctx, store, root, OpenOptions{Version: version})
}

// OpenOptions are the options of OpenDatasetWith.
type OpenOptions struct {
	// Version is the version to open; 0 opens the latest.
	Version uint64
	// FileCache caches the metadata of the data files the Dataset reads
	// (and of the versions Commit makes from it). The caller owns it and
	// may share it between Datasets of the same store. nil: the Dataset
	// gets a private cache of DefaultFileCacheFiles files.
	FileCache *FileCache
}

// OpenDatasetWith opens a version of the dataset at root (ErrNotFound if
// absent) with opts.
func OpenDatasetWith(ctx context.Context, store objstore.Store, root string, opts OpenOptions) (*Dataset, error) {
	entries, err := listVersions(ctx, store, root)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("lance: no dataset at %s: %w", root, objstore.ErrNotFound)
	}
	if opts.Version == 0 {
		return openEntry(ctx, store, root, entries[len(entries)-1], opts.FileCache)
	}
	for _, e := range entries {
		if e.version == opts.Version {
			return openEntry(ctx, store, root, e, opts.FileCache)
		}
	}
	return nil, fmt.Errorf("lance: %s has no version %d: %w", root, opts.Version, objstore.ErrNotFound)
}

func openEntry(ctx context.Context, store objstore.Store, root string, e versionEntry, files *FileCache) (*Dataset, error) {
	m, indexes, err := readManifest(ctx, store, e.key)
	if err != nil {
		return nil, err
	}
	if m.GetVersion() != e.version {
		return nil, corruptf(e.key, "manifest holds version %d", m.GetVersion())
	}
	d, err := newDataset(store, root, e.scheme, e.key, m, files)
	if d != nil {
		d.indexes = indexes
	}
	return d, err
}

func newDataset(store objstore.Store, root string, scheme namingScheme, key string, m *tablepb.Manifest, files *FileCache) (*Dataset, error) {
	if files == nil {
		files = NewFileCache(0)
	}
	schema, tree, err := buildFieldTree(m.GetFields(), m.GetSchemaMetadata())
	if err != nil {
		return nil, fmt.Errorf("lance: %s: %w", key, err)
	}
	d := &Dataset{
		store:     store,
		root:      root,
		scheme:    scheme,
		manifest:  m,
		schema:    schema,
		fields:    tree.top,
		tree:      tree,
		deletions: make(map[uint64]*roaring.Bitmap),
		files:     files,
	}
	for _, f := range m.GetFragments() {
		fr := Fragment{ID: f.GetId(), PhysicalRows: f.GetPhysicalRows(), pb: f}
		if df := f.GetDeletionFile(); df != nil {
			fr.DeletedRows = df.GetNumDeletedRows()
		}
		for _, file := range f.GetFiles() {
			if file.BaseId != nil {
				return nil, fmt.Errorf("lance: %s: fragment %d uses base paths: %w", key, f.GetId(), ErrUnsupported)
			}
			fr.Files = append(fr.Files, file.GetPath())
		}
		d.fragments = append(d.fragments, fr)
	}
	return d, nil
}

// Root is the dataset's root key.
func (d *Dataset) Root() string { return d.root }

// Version is the manifest version this Dataset reads.
func (d *Dataset) Version() uint64 { return d.manifest.GetVersion() }

// Schema is the table schema with field and schema metadata restored,
// including PrimaryKeyMetadataKey on the primary-key field.
func (d *Dataset) Schema() *arrow.Schema { return d.schema }

// Config returns a copy of Manifest.config.
func (d *Dataset) Config() map[string]string {
	out := maps.Clone(d.manifest.GetConfig())
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// Fragments returns the fragments in manifest order.
func (d *Dataset) Fragments() []Fragment { return append([]Fragment(nil), d.fragments...) }

// CountRows is the number of live rows: physical minus deleted.
func (d *Dataset) CountRows() int64 {
	var n int64
	for _, f := range d.fragments {
		n += int64(f.PhysicalRows) - int64(f.DeletedRows)
	}
	return n
}

// Timestamp is when the version was committed.
func (d *Dataset) Timestamp() time.Time { return d.manifest.GetTimestamp().AsTime() }

// fragment returns the fragment with the given id.
func (d *Dataset) fragment(id uint64) (Fragment, bool) {
	for _, f := range d.fragments {
		if f.ID == id {
			return f, true
		}
	}
	return Fragment{}, false
}
