package lsm

import (
	"context"
	"strings"
	"testing"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// A new table's regions are Lance's: UUID directories named by the
// bucket spec, region manifests with every field Lance's shard writer
// sets (epoch, current_generation 1, region_spec_id, region_id) and
// version_hint.json.
func TestRegionsAreLanceShaped(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "r", Schema: testSchema, Regions: 4})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, 64)
	for i := range ids {
		ids[i] = int64(i)
	}
	if err := writeIDs(t, tbl, mem, 1, ids...); err != nil {
		t.Fatal(err)
	}
	db.Close()
	spec := shardSpec{id: 1, transform: transformBucket, buckets: 4}
	for b := range 4 {
		u := spec.regionUUID(b)
		p := regionPaths{dir: "_mem_wal/" + formatUUID(u)}
		rs := objstore.Prefixed(store, "r.lance")
		m, err := loadRegionManifest(ctx, rs, p)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != 1 || m.WriterEpoch != 1 || m.CurrentGeneration != 1 || m.RegionSpecId != 1 || string(m.GetRegionId().GetUuid()) != string(u[:]) {
			t.Fatalf("bucket %d: region manifest %v", b, m)
		}
		hint, err := rs.Get(ctx, p.versionHint())
		if err != nil || string(hint) != `{"version":1}` {
			t.Fatalf("bucket %d: version hint %q, %v", b, hint, err)
		}
	}
	objs, _ := store.List(ctx, "r.lance/_mem_wal/")
	for _, o := range objs {
		if strings.HasPrefix(o.Key, "r.lance/_mem_wal/0") {
			t.Fatalf("integer region directory %s", o.Key)
		}
	}
}

// A table written before flightwal spoke Lance's MemWAL layout (integer
// region directories) keeps its layout: its regions are still found and
// its keys routed as before.
func TestLegacyLayoutKeepsIntegerRegions(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	// The table as an old server created it: flightwal.regions in the
	// base manifest's config, no MemWAL index.
	schema, _, err := normalizeSchema(testSchema, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lance.CreateDataset(ctx, store, "old.lance", schema, map[string]string{configRegions: "2", configPrimaryKey: "id"}); err != nil {
		t.Fatal(err)
	}
	// What the first write of an old server left: region 0's manifest.
	rs := objstore.Prefixed(store, "old.lance")
	if err := commitRegionManifest(ctx, rs, objstore.RetryPolicy{}, regionPaths{dir: "_mem_wal/0"}, &tablepb.RegionManifest{Version: 1, WriterEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.Table(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if !tbl.layout.legacy || tbl.NumRegions() != 2 {
		t.Fatalf("layout %+v", tbl.layout)
	}
	if err := writeIDs(t, tbl, mem, 1, 1, 2, 3, 4, 5, 6); err != nil {
		t.Fatal(err)
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || len(got) != 6 {
		t.Fatalf("scan %v %v", got, err)
	}
	db.Close()
	for _, dir := range []string{"old.lance/_mem_wal/0/wal/", "old.lance/_mem_wal/1/wal/"} {
		if objs, _ := store.List(ctx, dir); len(objs) == 0 {
			t.Fatalf("nothing under %s", dir)
		}
	}
}
