package lsm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

var textSchema = datagen.TextSchema

func badOffsetsBatch(mem memory.Allocator) arrow.RecordBatch { return datagen.BadOffsetsBatch(mem) }

// TestWriteRejectsInvalidBatch: a batch with out-of-bounds offsets is
// InvalidArgument naming the column, and nothing of it is sequenced.
func TestWriteRejectsInvalidBatch(t *testing.T) {
	ctx := context.Background()
	db, mem := testDB(t, objstore.NewMem(), Options{})
	defer func() { db.Close(); mem.AssertSize(t, 0) }()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "v", Schema: textSchema, Indexes: []IndexDef{{Name: "t", Column: "text", Type: "fts"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := badOffsetsBatch(mem)
	defer rec.Release()
	w, err := tbl.NewWriter(rec.Schema(), OpUpsert)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(ctx, mem, rec)
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "text") {
		t.Fatalf("invalid batch: %v, want ErrInvalidArgument naming column text", err)
	}
	if seq := tbl.regions[0].LastSeq(); seq != 0 {
		t.Fatalf("last seq %d after a refused batch, want 0", seq)
	}
	if n := countRows(t, tbl, mem); n != 0 {
		t.Fatalf("%d rows after a refused batch", n)
	}
}

// TestReplayRefusesInvalidEntry: a WAL entry whose checksum holds but
// whose batch is not valid Arrow (an older server did not validate) makes
// the open fail with ErrDataLoss naming the entry, instead of crashing
// the first scan; the table stays refused until the operator acts.
func TestReplayRefusesInvalidEntry(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "v", Schema: textSchema})
	if err != nil {
		t.Fatal(err)
	}
	// Claim and fence the region as a writer would, then put the bad
	// entry at the next position by hand.
	r, err := tbl.region(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	pos := r.walPos.Load() + 1
	rec := badOffsetsBatch(mem)
	data, err := r.walLog.Encode(r.epoch, pos, 1, []wal.Item{{Rec: rec, Seq: 1, Op: OpUpsert, Bytes: 64}})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	key := "v.lance/" + r.walLog.Key(pos)
	db.Close()
	mem.AssertSize(t, 0)
	if err := store.PutIfAbsent(ctx, key, data); err != nil {
		t.Fatal(err)
	}

	db2, mem2 := testDB(t, store, Options{})
	defer func() { db2.Close(); mem2.AssertSize(t, 0) }()
	for range 2 { // refused every time, not once
		_, err = db2.Table(ctx, "v")
		if !errors.Is(err, ErrDataLoss) || !strings.Contains(err.Error(), r.walLog.Key(pos)) {
			t.Fatalf("open over an invalid WAL entry: %v, want ErrDataLoss naming %s", err, key)
		}
	}
}
