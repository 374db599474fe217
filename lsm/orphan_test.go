package lsm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// TestOpenRemovesOrphanTemp: opening a table on a local store removes the
// temporary files a killed process left in its _mem_wal/ once they are
// older than orphanTempAge; younger ones (maybe another process's write
// under way) stay, and the table's rows are all there.
func TestOpenRemovesOrphanTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "o", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, tbl, mem, 1, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	db.Close()

	wal := filepath.Join(dir, "o.lance", "_mem_wal", "4a388480-a25b-59a8-b058-24217f980256", "wal") // bucket 0
	old, young := filepath.Join(wal, ".tmp-1"), filepath.Join(wal, ".tmp-2")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * orphanTempAge)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}

	db, mem = testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err = db.Table(ctx, "o")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the old orphan is still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("the young temporary file went: %v", err)
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || len(got) != 3 {
		t.Fatalf("after the open: %v, %v", got, err)
	}
	db.Close()
	mem.AssertSize(t, 0)
}
