package lsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

func testDB(t *testing.T, store objstore.Store, o Options) (*DB, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	o.Allocator = mem
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := Open(context.Background(), store, testOptions(o))
	if err != nil {
		t.Fatal(err)
	}
	return db, mem
}

func writeAll(t *testing.T, tbl *Table, mem memory.Allocator, recs ...arrow.RecordBatch) {
	t.Helper()
	w, err := tbl.NewWriter(recs[0].Schema(), OpUpsert)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		res, err := w.Write(context.Background(), mem, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := tbl.WaitDurable(context.Background(), res); err != nil {
			t.Fatal(err)
		}
	}
}

func countRows(t *testing.T, tbl *Table, mem memory.Allocator) int64 {
	t.Helper()
	p, err := tbl.Prepare(Query{})
	if err != nil {
		t.Fatal(err)
	}
	s := tbl.Snapshot()
	defer s.Release()
	var n int64
	if err := s.Run(context.Background(), mem, p, func(r arrow.RecordBatch) error { n += r.NumRows(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAutomaticFreezeAndFlush: memtable.max_rows freezes and the flush
// goroutine writes generations without any action.
func TestAutomaticFreezeAndFlush(t *testing.T) {
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{MemTableMaxRows: 100})
	tbl, err := db.CreateTable(context.Background(), TableSpec{Name: "auto", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 10; i++ {
		var ids []int64
		for j := int64(0); j < 30; j++ {
			ids = append(ids, i*30+j)
		}
		b := kvBatch(mem, ids, i)
		writeAll(t, tbl, mem, b)
		b.Release()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := tbl.Stats().Regions[0]
		if len(st.Generations) >= 2 && st.FrozenMemtables == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no automatic flush: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := countRows(t, tbl, mem); n != 300 {
		t.Fatalf("%d rows across memtable and generations, want 300", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
}

// TestBackpressureWaitsForFlush: with a tiny unflushed-bytes limit writes
// stall until flushes make room, then proceed; nothing is lost.
func TestBackpressureWaitsForFlush(t *testing.T) {
	store := objstore.NewMem()
	// Compaction off: it would merge the generations this test counts.
	db, mem := testDB(t, store, Options{MemTableMaxBytes: 4 << 10, MaxUnflushedBytes: 8 << 10, CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(context.Background(), TableSpec{Name: "bp", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := int64(0); i < 200; i++ {
		ids = append(ids, i)
	}
	for round := int64(0); round < 20; round++ {
		b := kvBatch(mem, ids, round) // 200 rows x 16 bytes: 3.2 KiB per batch
		writeAll(t, tbl, mem, b)
		b.Release()
	}
	st := tbl.Stats().Regions[0]
	if len(st.Generations) == 0 {
		t.Fatalf("backpressure never flushed: %+v", st)
	}
	if m := db.Metrics(); m.BackpressureWaits == 0 || m.Flushes == 0 {
		t.Fatalf("metrics: %d backpressure waits, %d flushes", m.BackpressureWaits, m.Flushes)
	}
	if n := countRows(t, tbl, mem); n != 200 {
		t.Fatalf("%d rows, want 200", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestReplayFreezesAtEntryBoundaries: replay with a smaller memtable limit
// than the writes had must not split a WAL entry across memtables, or a
// flush would set a replay position that replays part of it twice (visible
// as duplicates in an append-only table).
func TestReplayFreezesAtEntryBoundaries(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	appendOnly := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	db, mem := testDB(t, store, Options{WALFlushInterval: time.Hour, CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "ao", Schema: appendOnly})
	if err != nil {
		t.Fatal(err)
	}
	w, err := tbl.NewWriter(appendOnly, OpUpsert)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 10; i++ { // async: all ten batches land in one WAL entry
		rec := kvBatch(mem, seqIDs(i*100, 100), i)
		r2 := arrowWithSchema(rec, appendOnly)
		if _, err := w.Write(ctx, mem, r2); err != nil {
			t.Fatal(err)
		}
		r2.Release()
		rec.Release()
	}
	if _, err := tbl.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	// Reopen with a small limit: replay freezes. Flush only the oldest
	// frozen memtable, as a crash right after it would leave things.
	db, mem = testDB(t, store, Options{MemTableMaxRows: 250, CompactAfterGenerations: -1})
	if tbl, err = db.Table(ctx, "ao"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tbl.regions[0].flushOldest(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	db, mem = testDB(t, store, Options{CompactAfterGenerations: -1})
	if tbl, err = db.Table(ctx, "ao"); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, tbl, mem); n != 1000 {
		t.Fatalf("%d rows after a flush of part of the replayed data and a restart, want 1000", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
}

func seqIDs(from, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

func arrowWithSchema(rec arrow.RecordBatch, s *arrow.Schema) arrow.RecordBatch {
	return array.NewRecordBatch(s, rec.Columns(), rec.NumRows())
}

// failTimes returns fault options whose hook fails the first n calls of
// op on keys containing keyPart with err.
func failTimes(n int64, op objstore.Op, keyPart string, err error) objstore.FaultOptions {
	var left atomic.Int64
	left.Store(n)
	return objstore.FaultOptions{Hook: func(_ context.Context, o objstore.Op, key string) error {
		if o == op && strings.Contains(key, keyPart) && left.Add(-1) >= 0 {
			return err
		}
		return nil
	}}
}

var errTransient = fmt.Errorf("injected: %w", objstore.ErrUnavailable)

// TestTransientFlushErrorsRetried: generation writes that fail transiently
// (beyond the per-call retries) are retried by the flush goroutine, so
// writers held by backpressure go on.
func TestTransientFlushErrorsRetried(t *testing.T) {
	ctx := context.Background()
	// The first 40 writes of generation files (data, key index, bloom
	// filter) fail; the flush goroutine's backoff is kept short.
	var failed atomic.Int64
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if (op == objstore.OpPut || op == objstore.OpPutIfAbsent) && strings.Contains(key, "_gen_") && failed.Add(1) <= 40 {
			return errTransient
		}
		return nil
	}})
	db, mem := testDB(t, store, Options{MemTableMaxBytes: 4 << 10, MaxUnflushedBytes: 8 << 10, CompactAfterGenerations: -1,
		Retry: objstore.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: 10 * time.Millisecond}})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "t", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	for round := int64(0); round < 10; round++ {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rec := kvBatch(mem, seqIDs(0, 200), round)
		w, _ := tbl.NewWriter(rec.Schema(), OpUpsert)
		res, err := w.Write(wctx, mem, rec)
		if err == nil {
			err = tbl.WaitDurable(wctx, res)
		}
		rec.Release()
		cancel()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || len(got) != 200 || got[0] != 9 {
		t.Fatalf("after errTransient flush errors: %d rows, %v", len(got), err)
	}
	if st := tbl.Stats().Regions[0]; len(st.Generations) == 0 {
		t.Fatalf("nothing flushed: %+v", st)
	}
	if n := failed.Load(); n <= 40 {
		t.Fatalf("%d generation writes, want more than the 40 that failed", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
}

// TestFlushWhoseManifestOutcomeIsLost: the region manifest of a flush lands
// but the store reports the put failed and then cannot read it back. The
// region does not guess: it fails (not fenced), the next write reopens it
// from what is stored, and nothing is lost or doubled. (It used to go on
// with its old manifest and take its own landed version for a fence.)
func TestFlushWhoseManifestOutcomeIsLost(t *testing.T) {
	ctx := context.Background()
	store := &lostManifests{Store: objstore.NewMem()}
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "t", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	write := func(first, n, v int64) {
		t.Helper()
		rec := kvBatch(mem, seqIDs(first, n), v)
		defer rec.Release()
		w, _ := tbl.NewWriter(rec.Schema(), OpUpsert)
		res, err := w.Write(ctx, mem, rec)
		if err == nil {
			err = tbl.WaitDurable(ctx, res)
		}
		if err != nil {
			t.Fatalf("write %d..%d: %v", first, first+n, err)
		}
	}
	write(0, 100, 1)

	store.on.Store(true)
	if _, err := tbl.Flush(ctx, 0); err == nil || errors.Is(err, ErrFenced) {
		t.Fatalf("flush whose manifest outcome is lost: %v, want a failure that is not a fence", err)
	}
	store.on.Store(false)

	write(50, 100, 2) // reopens the region from the stored manifest
	if _, err := tbl.Flush(ctx, 0); err != nil {
		t.Fatalf("flush after the reopen: %v", err)
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || len(got) != 150 {
		t.Fatalf("%d rows (%v), want 150", len(got), err)
	}
	for id, v := range got {
		if want := map[bool]int64{true: 1, false: 2}[id < 50]; v != want {
			t.Fatalf("id %d: value %d, want %d", id, v, want)
		}
	}
	db.Close()
	mem.AssertSize(t, 0)
}

// lostManifests, while on, writes region manifests but reports the put
// failed, and fails every read of one.
type lostManifests struct {
	objstore.Store
	on atomic.Bool
}

func (s *lostManifests) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	err := s.Store.PutIfAbsent(ctx, key, data)
	if err == nil && s.on.Load() && strings.Contains(key, "/manifest/") {
		return errTransient
	}
	return err
}

func (s *lostManifests) Get(ctx context.Context, key string) ([]byte, error) {
	if s.on.Load() && strings.Contains(key, "/manifest/") {
		return nil, errTransient
	}
	return s.Store.Get(ctx, key)
}
