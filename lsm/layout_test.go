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
	if _, err := tbl.Flush(ctx, -1); err != nil {
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
		// Claimed (version 1), then flushed generation 1 (version 2).
		if m.Version != 2 || m.WriterEpoch != 1 || m.CurrentGeneration != 2 || m.RegionSpecId != 1 || string(m.GetRegionId().GetUuid()) != string(u[:]) {
			t.Fatalf("bucket %d: region manifest %v", b, m)
		}
		fg := m.GetFlushedGenerations()
		if len(fg) != 1 || fg[0].Generation != 1 || len(strings.Split(fg[0].Path, "_gen_")[0]) != 8 ||
			fg[0].PhysicalRows == nil || fg[0].GetPrimaryKeyBytes() != 8*fg[0].GetPhysicalRows() || fg[0].GetInMemoryBytes() == 0 {
			t.Fatalf("bucket %d: flushed generations %v", b, fg)
		}
		hint, err := rs.Get(ctx, p.versionHint())
		if err != nil || string(hint) != `{"version":2}` {
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
// region directories, FNV-1a routing, flightwal.regions) migrates once,
// on open: its rows, flushed or only in the WAL, end up in the base
// table, its MemWAL index holds a bucket spec with as many buckets, the
// old directories and config keys are gone, and new writes land in UUID
// regions.
func TestLegacyLayoutMigratesOnOpen(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	schema, _, err := normalizeSchema(testSchema, "")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := lance.CreateDataset(ctx, store, "old.lance", schema, map[string]string{configRegions: "2", configPrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	// What the first write of an old server left: region 0's manifest.
	rs := objstore.Prefixed(store, "old.lance")
	if err := commitRegionManifest(ctx, rs, objstore.RetryPolicy{}, regionPaths{dir: "_mem_wal/0"}, &tablepb.RegionManifest{Version: 1, WriterEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	// The old server's writes, through the legacy layout: a flushed
	// generation, then rows only in the WAL.
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	old, err := openTable(ctx, db, "old", ds)
	if err != nil {
		t.Fatal(err)
	}
	if !old.layout.legacy || old.NumRegions() != 2 {
		t.Fatalf("layout %+v", old.layout)
	}
	if err := writeIDs(t, old, mem, 1, 1, 2, 3, 4, 5, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, old, mem, 2, 4, 5, 6, 7, 8); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"old.lance/_mem_wal/0/wal/", "old.lance/_mem_wal/1/wal/"} {
		if objs, _ := store.List(ctx, dir); len(objs) == 0 {
			t.Fatalf("the legacy layout wrote nothing under %s", dir)
		}
	}
	old.close()
	db.Close()

	db, mem = testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.Table(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.layout.legacy || !tbl.layout.indexed || tbl.NumRegions() != 2 {
		t.Fatalf("after the migration: layout %+v", tbl.layout)
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || len(got) != 8 {
		t.Fatalf("after the migration: %v %v", got, err)
	}
	for id, v := range map[int64]int64{1: 1, 3: 1, 4: 2, 8: 2} {
		if got[id] != v {
			t.Fatalf("after the migration: id %d has %d, want %d (all %v)", id, got[id], v, got)
		}
	}
	cfg := tbl.base.Load().ds.Config()
	if _, ok := cfg[configRegions]; ok {
		t.Fatalf("flightwal.regions kept: %v", cfg)
	}
	if objs, _ := store.List(ctx, "old.lance/_mem_wal/0/"); len(objs) != 0 {
		t.Fatalf("legacy region 0 kept %d objects", len(objs))
	}
	if err := writeIDs(t, tbl, mem, 3, 9); err != nil {
		t.Fatal(err)
	}
	db.Close()
	objs, _ := store.List(ctx, "old.lance/_mem_wal/")
	if len(objs) == 0 || !strings.Contains(objs[0].Key, "-") {
		t.Fatalf("new writes: %v", objs)
	}
}
