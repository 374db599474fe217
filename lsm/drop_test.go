package lsm

import (
	"context"
	"strings"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// TestCreateAfterInterruptedDrop: a drop killed after it deleted the
// manifests leaves the WAL and generations behind; a table created under
// the same name starts empty (found by the soak on MinIO: the new table
// replayed the dropped one's WAL).
func TestCreateAfterInterruptedDrop(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "d", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, tbl, mem, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, tbl, mem, 2, 3); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	// The drop got as far as the manifests.
	objs, _ := store.List(ctx, "d.lance/")
	for _, o := range objs {
		if strings.Contains(o.Key, "/_versions/") {
			store.Delete(ctx, o.Key)
		}
	}

	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer func() { db2.Close(); mem2.AssertSize(t, 0) }()
	if _, err := db2.Table(ctx, "d"); err == nil {
		t.Fatal("a table without a manifest opened")
	}
	t2, err := db2.CreateTable(ctx, TableSpec{Name: "d", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := scanState(ctx, t2, mem2, ""); err != nil || len(got) != 0 {
		t.Fatalf("the new table holds %v (%v): rows of the dropped one", got, err)
	}
}
