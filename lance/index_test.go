package lance

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// copyFixture copies a committed LanceDB dataset to a temporary directory
// and returns a store on it (tests must not write into testdata).
func copyFixture(t *testing.T, rel string) objstore.Store {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "t.lance"), os.DirFS(filepath.Join(testdataLance, rel))); err != nil {
		t.Fatal(err)
	}
	return newLocalStore(t, dir)
}

func fragIDs(t *testing.T, im *tablepb.IndexMetadata) []uint32 {
	t.Helper()
	bm, err := IndexFragments(im)
	if err != nil {
		t.Fatal(err)
	}
	return bm.ToArray()
}

// LanceDB's BTREE index survives our commits: carried unchanged, its
// fragment bitmap too when a fragment it covers goes (Lance's readers then
// block that fragment's rows), and fields we do not declare
// (covering_fields, 11) kept byte for byte.
func TestCommitCarriesLanceIndexes(t *testing.T) {
	ctx := context.Background()
	st := copyFixture(t, "lancedb-0.39.0/v2_0.lance")
	d, err := OpenDataset(ctx, st, "t.lance")
	if err != nil {
		t.Fatal(err)
	}
	orig := d.Indexes()
	if len(orig) != 1 || orig[0].GetName() != "id_idx" || IndexKind(orig[0]) != "lance.table.BTreeIndexDetails" {
		t.Fatalf("LanceDB's indexes: %v", orig)
	}
	if got := fragIDs(t, orig[0]); !slices.Equal(got, []uint32{0, 1}) {
		t.Fatalf("bitmap %v", got)
	}
	// An entry of a kind we do not know, with a field we do not declare.
	other := &tablepb.IndexMetadata{
		Uuid:           &tablepb.UUID{Uuid: NewIndexUUID()},
		Name:           "__someone_elses",
		Fields:         []int32{0},
		IndexDetails:   &anypb.Any{TypeUrl: "/lance.table.SomethingNewDetails", Value: []byte{8, 1}},
		FragmentBitmap: mustBitmap(t, 0, 1),
	}
	other.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 11, protowire.VarintType), 3))
	tx := Transaction{}
	tx.PutIndex(other)
	if d, err = d.Commit(ctx, st, tx); err != nil {
		t.Fatal(err)
	}

	added := d.Indexes()
	if len(added) != 2 || !proto.Equal(added[0], orig[0]) || !proto.Equal(added[1], other) {
		t.Fatalf("after PutIndex: %v", added)
	}

	// A deletion keeps both entries as they were.
	if _, err = d.Commit(ctx, st, Transaction{Deletions: map[uint64][]uint32{1: {0}}}); err != nil {
		t.Fatal(err)
	}
	d, err = OpenDataset(ctx, st, "t.lance")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Indexes(); len(got) != 2 || !proto.Equal(got[0], orig[0]) || !proto.Equal(got[1], other) {
		t.Fatalf("after a delete: %v", got)
	}
	// Removing fragment 0 changes neither entry: both still list {0, 1}.
	if _, err = d.Commit(ctx, st, Transaction{RemoveFragments: []uint64{0}}); err != nil {
		t.Fatal(err)
	}
	d, err = OpenDataset(ctx, st, "t.lance")
	if err != nil {
		t.Fatal(err)
	}
	got := d.Indexes()
	if len(got) != 2 || !proto.Equal(got[0], orig[0]) || !proto.Equal(got[1], other) {
		t.Fatalf("after removing fragment 0: %v", got)
	}
	if ids := fragIDs(t, got[0]); !slices.Equal(ids, []uint32{0, 1}) {
		t.Fatalf("bitmap %v, want [0 1]", ids)
	}
	if u := got[1].ProtoReflect().GetUnknown(); len(u) == 0 {
		t.Fatal("covering_fields (11) was dropped")
	}
	// Our manifest names the section at offset 0, as Lance writes it.
	if d.manifest.IndexSection == nil || d.manifest.GetIndexSection() != 0 {
		t.Fatalf("index_section = %v", d.manifest.IndexSection)
	}
}

// The Transaction index API: add, replace by uuid, replace and remove by
// name, remove by uuid, read-modify-write; bad entries fail the commit and
// change nothing.
func TestTransactionIndexEdits(t *testing.T) {
	ctx := context.Background()
	st, d, _ := smallDataset(t)
	entry := func(name string) *tablepb.IndexMetadata {
		return &tablepb.IndexMetadata{Uuid: &tablepb.UUID{Uuid: NewIndexUUID()}, Name: name, Fields: []int32{0},
			IndexDetails: &anypb.Any{TypeUrl: "/lance.table.BTreeIndexDetails"}, FragmentBitmap: mustBitmap(t, 0)}
	}
	names := func(d *Dataset) []string {
		var out []string
		for _, im := range d.Indexes() {
			out = append(out, im.GetName())
		}
		return out
	}
	a, b, c := entry("a"), entry("b"), entry("c")
	tx := Transaction{}
	tx.PutIndex(a)
	tx.PutIndex(b)
	tx.PutIndex(c)
	d, err := d.Commit(ctx, st, tx)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(d); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("put: %v", got)
	}
	a2 := proto.Clone(a).(*tablepb.IndexMetadata)
	a2.DatasetVersion = 7 // same uuid: replaces a
	b2 := entry("b")
	tx = Transaction{}
	tx.PutIndex(a2)
	tx.ReplaceIndex("b", b2)
	tx.RemoveIndexUUID(c.GetUuid().GetUuid())
	tx.UpdateIndex("a", func(cur []*tablepb.IndexMetadata) ([]*tablepb.IndexMetadata, error) {
		if len(cur) != 1 || cur[0].GetDatasetVersion() != 7 {
			t.Errorf("UpdateIndex sees %v", cur)
		}
		cur[0].Name = "a_renamed"
		return cur, nil
	})
	if _, err = d.Commit(ctx, st, tx); err != nil {
		t.Fatal(err)
	}
	d, _ = OpenDataset(ctx, st, "k.lance")
	got := d.Indexes()
	if n := names(d); !slices.Equal(n, []string{"b", "a_renamed"}) {
		t.Fatalf("edits: %v", n)
	}
	if !proto.Equal(got[0], b2) || got[1].GetDatasetVersion() != 7 {
		t.Fatalf("edits: %v", got)
	}
	tx = Transaction{}
	tx.RemoveIndex("b")
	if d, err = d.Commit(ctx, st, tx); err != nil {
		t.Fatal(err)
	}
	if n := names(d); !slices.Equal(n, []string{"a_renamed"}) {
		t.Fatalf("remove: %v", n)
	}

	v := d.Version()
	for name, edit := range map[string]func(*Transaction){
		"short uuid": func(tx *Transaction) {
			tx.PutIndex(&tablepb.IndexMetadata{Uuid: &tablepb.UUID{Uuid: []byte{1, 2, 3}}, Name: "x"})
		},
		"no name": func(tx *Transaction) { tx.PutIndex(&tablepb.IndexMetadata{Uuid: &tablepb.UUID{Uuid: NewIndexUUID()}}) },
		"two uuids": func(tx *Transaction) {
			tx.UpdateIndex("a_renamed", func(cur []*tablepb.IndexMetadata) ([]*tablepb.IndexMetadata, error) {
				return append(cur, cur[0]), nil
			})
		},
	} {
		tx := Transaction{}
		edit(&tx)
		if _, err := d.Commit(ctx, st, tx); err == nil {
			t.Errorf("%s: committed", name)
		}
	}
	if vs, _ := ListVersions(ctx, st, "k.lance"); vs[len(vs)-1] != v {
		t.Fatalf("a refused edit committed: versions %v", vs)
	}
}

func mustBitmap(t *testing.T, ids ...uint64) []byte {
	t.Helper()
	b, err := FragmentBitmap(ids...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
