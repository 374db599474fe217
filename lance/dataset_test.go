package lance

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

func pkSchema() *arrow.Schema {
	pk := arrow.NewMetadata([]string{PrimaryKeyMetadataKey}, []string{"true"})
	md := arrow.NewMetadata([]string{"owner"}, []string{"flightwal"})
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pk},
		{Name: "vec", Type: arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32), Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, &md)
}

func TestCreateOpenSchemaConfig(t *testing.T) {
	ctx := context.Background()
	st := newTestStore()
	schema := pkSchema()
	cfg := map[string]string{"flightwal.regions": "4"}
	d, err := CreateDataset(ctx, st, "t.lance", schema, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version() != 1 || d.CountRows() != 0 || len(d.Fragments()) != 0 {
		t.Fatalf("version %d rows %d frags %d", d.Version(), d.CountRows(), len(d.Fragments()))
	}
	if _, ok := st.objs["t.lance/_versions/18446744073709551614.manifest"]; !ok {
		t.Fatalf("V2 manifest name missing: %v", keys(st))
	}
	if _, err := CreateDataset(ctx, st, "t.lance", schema, nil); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	o, err := OpenDataset(ctx, st, "t.lance")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Schema().Equal(schema) {
		t.Fatalf("schema:\n%s\nwant\n%s", o.Schema(), schema)
	}
	if v, ok := o.Schema().Field(0).Metadata.GetValue(PrimaryKeyMetadataKey); !ok || v != "true" {
		t.Fatalf("pk metadata lost: %v", o.Schema().Field(0).Metadata)
	}
	if !o.manifest.GetFields()[0].GetUnenforcedPrimaryKey() {
		t.Fatal("unenforced_primary_key not set")
	}
	if v, _ := o.Schema().Metadata().GetValue("owner"); v != "flightwal" {
		t.Fatal("schema metadata lost")
	}
	if got := o.Config(); len(got) != 1 || got["flightwal.regions"] != "4" {
		t.Fatalf("config %v", got)
	}
	if o.manifest.GetWriterFeatureFlags() != flagTableConfig || o.manifest.GetReaderFeatureFlags() != 0 {
		t.Fatalf("flags %d %d", o.manifest.GetReaderFeatureFlags(), o.manifest.GetWriterFeatureFlags())
	}
	if _, err := OpenDataset(ctx, st, "missing.lance"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := OpenDatasetVersion(ctx, st, "t.lance", 7); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("open missing version: %v", err)
	}
	// Config-only commit; conflicting commit from the stale snapshot.
	d2, err := d.Commit(ctx, st, Transaction{Config: map[string]string{"a": "b", "flightwal.regions": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Version() != 2 || d2.Config()["a"] != "b" || len(d2.Config()) != 1 {
		t.Fatalf("v%d config %v", d2.Version(), d2.Config())
	}
	// Same key from the stale snapshot: a conflict (another key rebases).
	if _, err := d.Commit(ctx, st, Transaction{Config: map[string]string{"a": "c"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale commit: %v", err)
	}
	vs, err := ListVersions(ctx, st, "t.lance")
	if err != nil || len(vs) != 2 || vs[0] != 1 || vs[1] != 2 {
		t.Fatalf("versions %v %v", vs, err)
	}
	o1, err := OpenDatasetVersion(ctx, st, "t.lance", 1)
	if err != nil || o1.Config()["flightwal.regions"] != "4" {
		t.Fatalf("v1: %v %v", err, o1)
	}
}

func TestManifestNames(t *testing.T) {
	for _, v := range []uint64{1, 2, 10, 12345, math.MaxUint64 - 1} {
		for _, s := range []namingScheme{namingV1, namingV2} {
			if s == namingV1 && v > 1e18 {
				continue // a 20-digit V1 name reads as V2; versions never get there
			}
			name := manifestName(v, s)
			got, gs, ok := parseManifestName(name)
			if !ok || got != v || gs != s {
				t.Fatalf("%d/%d: %q -> %d %d %v", v, s, name, got, gs, ok)
			}
		}
	}
	if manifestName(1, namingV2) != "18446744073709551614.manifest" {
		t.Fatal(manifestName(1, namingV2))
	}
	for _, bad := range []string{"_latest.manifest", "latest_version_hint.json", "0.manifest", "18446744073709551615.manifest", "x.manifest", ".manifest"} {
		if _, _, ok := parseManifestName(bad); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}

func TestOldNamingCommits(t *testing.T) {
	ctx := context.Background()
	st := newTestStore()
	if _, err := CreateDataset(ctx, st, "old.lance", pkSchema(), nil); err != nil {
		t.Fatal(err)
	}
	// Rename version 1 to the V1 scheme, as older Lance versions wrote it.
	st.objs["old.lance/_versions/1.manifest"] = st.objs["old.lance/_versions/"+manifestName(1, namingV2)]
	delete(st.objs, "old.lance/_versions/"+manifestName(1, namingV2))
	d, err := OpenDataset(ctx, st, "old.lance")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Commit(ctx, st, Transaction{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.objs["old.lance/_versions/2.manifest"]; !ok {
		t.Fatalf("commit did not keep V1 naming: %v", keys(st))
	}
}

func keys(s *lancetestStore) []string {
	var out []string
	for k := range s.objs {
		out = append(out, k)
	}
	return out
}

// checkedMem returns an allocator that fails the test on leaks.
func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}
