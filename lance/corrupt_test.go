package lance

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// smallDataset writes a one-fragment dataset and returns the store, the
// dataset and the data file's key.
func smallDataset(t testing.TB) (*lancetestStore, *Dataset, string) {
	ctx := context.Background()
	st := newTestStore()
	rec := pkRecord(memory.DefaultAllocator, 0, 40)
	defer rec.Release()
	d, err := WriteDataset(ctx, st, "k.lance", pkSchema(), []arrow.RecordBatch{rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, d, "k.lance/data/" + d.Fragments()[0].Files[0]
}

// readEverything opens root and scans and takes all of it.
func readEverything(ctx context.Context, st *lancetestStore, root string) error {
	d, err := OpenDataset(ctx, st, root)
	if err != nil {
		return err
	}
	mem := memory.NewGoAllocator()
	if err := d.Scan(ctx, mem, nil, 16, func(Fragment, uint64, arrow.RecordBatch) error { return nil }); err != nil {
		return err
	}
	for _, f := range d.Fragments() {
		if _, err := d.DeletionBitmap(ctx, f.ID); err != nil {
			return err
		}
		rec, err := d.Take(ctx, mem, f.ID, []uint64{0, f.PhysicalRows - 1}, nil)
		if err != nil {
			return err
		}
		rec.Release()
	}
	return nil
}

func TestCorruptDataFile(t *testing.T) {
	ctx := context.Background()
	st, _, key := smallDataset(t)
	good := st.objs[key]
	manifestKey := "k.lance/_versions/" + manifestName(1, namingV2)
	m, err := decodeManifest(manifestKey, st.objs[manifestKey])
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, 39, 40, 41, 100, len(good) / 2, len(good) - 41, len(good) - 40, len(good) - 1} {
		st.objs[key] = good[:cut]
		// Drop the recorded size so the reader believes the object store.
		m.GetFragments()[0].GetFiles()[0].FileSizeBytes = 0
		data, _ := encodeManifest(m)
		st.objs[manifestKey] = data
		err := readEverything(ctx, st, "k.lance")
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
			t.Fatalf("truncated to %d: %v", cut, err)
		}
	}
	// Flipped bytes anywhere: an error or (for bytes in padding or
	// values) a successful read, never a panic.
	for i := 0; i < len(good); i += 7 {
		bad := bytes.Clone(good)
		bad[i] ^= 0xA5
		st.objs[key] = bad
		if err := readEverything(ctx, st, "k.lance"); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("flip at %d: %v", i, err)
		}
	}
}

func TestCorruptManifest(t *testing.T) {
	ctx := context.Background()
	st, _, _ := smallDataset(t)
	key := "k.lance/_versions/" + manifestName(1, namingV2)
	good := st.objs[key]
	for cut := 0; cut < len(good); cut += 3 {
		st.objs[key] = good[:cut]
		_, err := OpenDataset(ctx, st, "k.lance")
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
			t.Fatalf("truncated to %d: %v", cut, err)
		}
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0xFF
		st.objs[key] = bad
		if _, err := OpenDataset(ctx, st, "k.lance"); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("flip at %d: %v", i, err)
		}
	}
	// Unknown reader feature flags are refused.
	m, _ := decodeManifest(key, good)
	m.ReaderFeatureFlags = 64
	st.objs[key], _ = encodeManifest(m)
	if _, err := OpenDataset(ctx, st, "k.lance"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown flag: %v", err)
	}
}

func TestCorruptDeletionFile(t *testing.T) {
	ctx := context.Background()
	st, d, _ := smallDataset(t)
	d, err := d.Commit(ctx, st, Transaction{Deletions: map[uint64][]uint32{0: {1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	key := deletionKey("k.lance", 0, d.Fragments()[0].pb.GetDeletionFile())
	st.objs[key] = st.objs[key][:20]
	d, _ = OpenDataset(ctx, st, "k.lance")
	if _, err := d.DeletionBitmap(ctx, 0); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), key) {
		t.Fatalf("truncated deletion file: %v", err)
	}
}

func FuzzManifest(f *testing.F) {
	_, d, _ := smallDataset(f)
	good, _ := encodeManifest(d.manifest)
	f.Add(good)
	f.Add(good[:len(good)-1])
	withIndex, _ := encodeManifestFile(proto.Clone(d.manifest).(*tablepb.Manifest), []*tablepb.IndexMetadata{{Uuid: &tablepb.UUID{Uuid: NewIndexUUID()}, Name: "i", FragmentBitmap: []byte{0x3a, 0x30, 0, 0, 0, 0, 0, 0}}})
	f.Add(withIndex)
	f.Add([]byte("LANC"))
	f.Add(append(make([]byte, 12), 0, 0, 2, 0, 'L', 'A', 'N', 'C'))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifest("fuzz.manifest", data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if _, err := decodeIndexSection("fuzz.manifest", data, m); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("index section error does not wrap ErrCorrupt: %v", err)
		}
		// Whatever decodes must survive building a Dataset.
		_, _ = newDataset(newTestStore(), "f", namingV2, "fuzz.manifest", m, nil)
	})
}

func FuzzReadFooter(f *testing.F) {
	st, _, key := smallDataset(f)
	good := st.objs[key]
	f.Add(good)
	f.Add(good[len(good)-40:])
	f.Add(good[:len(good)-1])
	f.Add(good[len(good)/2:])
	// A 2.2 and a legacy data file LanceDB wrote.
	for _, name := range []string{"v2_2", "legacy"} {
		files, _ := filepath.Glob(filepath.Join(testdataLance, "lancedb-0.39.0", name+".lance", "data", "*.lance"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		fs := newTestStore()
		fs.objs["x.lance"] = data
		r, err := openFileReader(ctx, fs, "x.lance", 0)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if r.numRows > 1<<16 {
			return // a huge all-null page is valid but slow to materialize
		}
		schema, err := fieldsToSchema(r.schema.GetFields(), nil)
		if err != nil {
			return
		}
		for ci := range r.columns {
			if ci >= schema.NumFields() {
				break
			}
			for pi := range r.columns[ci].pages {
				a, err := r.readPage(ctx, fs, memory.DefaultAllocator, ci, pi, schema.Field(ci).Type)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
						t.Fatalf("unexpected error: %v", err)
					}
					continue
				}
				a.Release()
			}
		}
	})
}

// FuzzDeletionFile fuzzes the Roaring (.bin) form. The Arrow IPC (.arrow)
// form is decoded by arrow-go's IPC reader, which sizes allocations from
// unverified flatbuffer lengths and can exhaust memory (a fatal error, not
// a panic) on adversarial input, so that form is covered by truncation
// tests (TestDeletionFileForms, TestCorruptDeletionFile) instead.
func FuzzDeletionFile(f *testing.F) {
	b, _ := roaringOf(1, 5, 9, 100000).ToBytes()
	f.Add(b)
	b, _ = roaring.BitmapOf(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10).ToBytes()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := decodeDeletionFile("fuzz", tablepb.DeletionFile_BITMAP, data, 1000); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
