package lsm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

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

// TestFenceSurvivesWALGC: after the new writer flushed and collected the
// WAL, the fenced writer's next write still collides with the fence: it is
// refused, never acknowledged and lost.
func TestFenceSurvivesWALGC(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db1, mem1 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t1, err := db1.CreateTable(ctx, TableSpec{Name: "g", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeIDs(t, t1, mem1, 1, 1); err != nil {
		t.Fatal(err)
	}
	db2, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t2, err := db2.Table(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(2); v < 5; v++ {
		if err := writeIDs(t, t2, mem2, v, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := t2.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	wal, _ := store.List(ctx, "g.lance/_mem_wal/0/wal/")
	if len(wal) > 3 {
		t.Fatalf("WAL not collected: %d entries left", len(wal))
	}
	if err := writeIDs(t, t1, mem1, 9, 9); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced writer's write after GC: %v, want ErrFenced", err)
	}
	db1.Close()
	db2.Close()
	db3, mem3 := testDB(t, store, Options{CompactAfterGenerations: -1})
	t3, err := db3.Table(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanState(ctx, t3, mem3, "")
	if err != nil || len(got) != 4 || got[4] != 4 {
		t.Fatalf("after restart: %v (%v), want ids 1..4", got, err)
	}
	db3.Close()
	for _, m := range []*memory.CheckedAllocator{mem1, mem2, mem3} {
		m.AssertSize(t, 0)
	}
}

// TestNullsInNonNullableColumn: a stream that declares a column
// non-nullable but carries nulls in it is refused like any other.
func TestNullsInNonNullableColumn(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	db, mem := testDB(t, objstore.NewMem(), Options{})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "n", Schema: schema, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{7, 0}, []bool{true, false})
	rec := b.NewRecordBatch()
	b.Release()
	w, err := tbl.NewWriter(schema, OpUpsert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, mem, rec); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "not nullable") {
		t.Fatalf("write of nulls into a non-nullable column: %v", err)
	}
	rec.Release()
	if n := countRows(t, tbl, mem); n != 0 {
		t.Fatalf("%d rows after a refused write", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
}

// TestAppendOnlyCompactionRetireFails: a table without a primary key whose
// compaction committed the base but could not retire the generations must
// not show their rows twice, before or after a restart.
func TestAppendOnlyCompactionRetireFails(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "a", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	for round := int64(0); round < 3; round++ {
		kv := kvBatch(mem, seqIDs(round*10, 10), round)
		rec := arrowWithSchema(kv, schema)
		kv.Release()
		writeAll(t, tbl, mem, rec)
		rec.Release()
		if _, err := tbl.Flush(ctx, -1); err != nil {
			t.Fatal(err)
		}
	}
	// Retiring writes region manifests: fail that, after the base commit.
	store.SetOptions(failTimes(1, objstore.OpPutIfAbsent, "_mem_wal/0/manifest", errors.New("injected permanent failure")))
	if _, err := tbl.Compact(ctx); err == nil {
		t.Fatal("compaction with a failing retire succeeded")
	}
	store.SetOptions(objstore.FaultOptions{})
	if n := countRows(t, tbl, mem); n != 30 {
		t.Fatalf("%d rows after a half-done compaction, want 30", n)
	}
	db.Close()
	db, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err = db.Table(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, tbl, mem2); n != 30 {
		t.Fatalf("%d rows after restart, want 30", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
}

// TestTransientFlushErrorsRetried: generation writes that fail transiently
// (beyond the per-call retries) are retried by the flush goroutine, so
// writers held by backpressure go on.
func TestTransientFlushErrorsRetried(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewFaulty(objstore.NewMem(), failTimes(40, objstore.OpPut, "_gen_", errTransient))
	db, mem := testDB(t, store, Options{MemTableMaxBytes: 4 << 10, MaxUnflushedBytes: 8 << 10, CompactAfterGenerations: -1})
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
	db.Close()
	mem.AssertSize(t, 0)
}

// TestLoadErrorNotCached: a generation that failed to load once (store
// unavailable) loads on the next read.
func TestLoadErrorNotCached(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "l", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	rec := kvBatch(mem, seqIDs(0, 10), 1)
	writeAll(t, tbl, mem, rec)
	rec.Release()
	if _, err := tbl.Flush(ctx, -1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, mem2 := testDB(t, store, Options{CompactAfterGenerations: -1})
	tbl, err = db.Table(ctx, "l")
	if err != nil {
		t.Fatal(err)
	}
	store.SetOptions(failTimes(1000, objstore.OpGet, "_gen_", errTransient))
	if _, err := scanState(ctx, tbl, mem2, ""); err == nil {
		t.Fatal("read with the generation unreadable succeeded")
	}
	store.SetOptions(objstore.FaultOptions{})
	got, err := scanState(ctx, tbl, mem2, "v = 1")
	if err != nil || len(got) != 10 {
		t.Fatalf("read after the store recovered: %d rows, %v", len(got), err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	mem2.AssertSize(t, 0)
}
