package lsm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// TestWALPutFailureStallsInPlace: a WAL put that fails for want of space
// is retried in place: waiters and new batches get ResourceExhausted, the
// region keeps its epoch and manifest (no reopen, no new fence), and
// writes resume by themselves once space is back, the stalled batch
// included.
func TestWALPutFailureStallsInPlace(t *testing.T) {
	ctx := context.Background()
	var full atomic.Bool
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if full.Load() && (op == objstore.OpPut || op == objstore.OpPutIfAbsent) {
			return fmt.Errorf("disk full: %w", objstore.ErrNoSpace)
		}
		return nil
	}})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1, Retry: objstore.RetryPolicy{Base: 5 * time.Millisecond, Max: 40 * time.Millisecond}})
	defer func() { db.Close(); mem.AssertSize(t, 0) }()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "s", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, tbl, mem, 1, 1); err != nil {
		t.Fatal(err)
	}
	before := tbl.Stats().Regions[0]

	full.Store(true)
	err = writeIDs(t, tbl, mem, 2, 2)
	if !errors.Is(err, ErrResourceExhausted) {
		t.Fatalf("durable write on a full disk: %v, want ErrResourceExhausted", err)
	}
	if err := writeIDs(t, tbl, mem, 3, 3); !errors.Is(err, ErrResourceExhausted) || !strings.Contains(err.Error(), "retrying") {
		t.Fatalf("write while the WAL put is stalled: %v, want ErrResourceExhausted", err)
	}
	st := tbl.Stats().Regions[0]
	if st.Stall == "" || st.Failure != "" || st.WriterEpoch != before.WriterEpoch || st.ManifestVersion != before.ManifestVersion {
		t.Fatalf("stalled region: %+v, before %+v", st, before)
	}

	full.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = writeIDs(t, tbl, mem, 4, 4)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not resume after space came back: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || len(got) != 3 || got[1] != 1 || got[2] != 2 || got[4] != 4 {
		t.Fatalf("after recovery: %v (%v), want 1, the stalled 2, and 4 (3 was refused)", got, err)
	}
	after := tbl.Stats().Regions[0]
	if after.WriterEpoch != before.WriterEpoch || after.ManifestVersion != before.ManifestVersion || after.Stall != "" {
		t.Fatalf("after recovery: %+v, before %+v: the region was reopened", after, before)
	}
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatalf("flush after recovery: %v", err)
	}
}
