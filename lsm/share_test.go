package lsm

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// otherWriter commits to a table's base dataset the way another Lance
// writer (LanceDB) would: appends of plain rows, deletions, rewrites.
type otherWriter struct {
	t     *testing.T
	store objstore.Store // the underlying store, bypassing fault hooks
	root  string
	mem   memory.Allocator
}

func (o otherWriter) latest() *lance.Dataset {
	d, err := lance.OpenDataset(context.Background(), o.store, o.root)
	if err != nil {
		o.t.Fatal(err)
	}
	return d
}

// appendRows commits one fragment of (id, v) rows; the schema is the
// dataset's (field metadata included), as a Lance writer would write it.
func (o otherWriter) appendRows(ids []int64, v int64) {
	d := o.latest()
	kv := kvBatch(o.mem, ids, v)
	rec := array.NewRecordBatch(d.Schema(), kv.Columns(), kv.NumRows())
	kv.Release()
	defer rec.Release()
	nf, err := lance.WriteFragment(context.Background(), o.store, o.root, d.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		o.t.Fatal(err)
	}
	if _, err := d.Commit(context.Background(), o.store, lance.Transaction{NewFragments: []lance.NewFragment{nf}}); err != nil {
		o.t.Fatal(err)
	}
}

// rewriteAll replaces every fragment by a copy of its live rows (what
// LanceDB's optimize does).
func (o otherWriter) rewriteAll() {
	ctx := context.Background()
	d := o.latest()
	var recs []arrow.RecordBatch
	var ids []uint64
	for _, f := range d.Fragments() {
		ids = append(ids, f.ID)
	}
	err := d.Scan(ctx, o.mem, nil, 0, func(f lance.Fragment, first uint64, rec arrow.RecordBatch) error {
		bm, err := d.DeletionBitmap(ctx, f.ID)
		if err != nil {
			return err
		}
		b := array.NewRecordBuilder(o.mem, d.Schema())
		defer b.Release()
		for i := 0; i < int(rec.NumRows()); i++ {
			if bm != nil && bm.Contains(uint32(first)+uint32(i)) {
				continue
			}
			b.Field(0).(*array.Int64Builder).Append(rec.Column(0).(*array.Int64).Value(i))
			b.Field(1).(*array.Int64Builder).Append(rec.Column(1).(*array.Int64).Value(i))
		}
		recs = append(recs, b.NewRecordBatch())
		return nil
	})
	if err != nil {
		o.t.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	nf, err := lance.WriteFragment(ctx, o.store, o.root, d.Schema(), recs)
	if err != nil {
		o.t.Fatal(err)
	}
	if _, err := d.Commit(ctx, o.store, lance.Transaction{RemoveFragments: ids, NewFragments: []lance.NewFragment{nf}}); err != nil {
		o.t.Fatal(err)
	}
}

// scanKV reads the table as id -> v, failing on a key seen twice.
func scanKV(t *testing.T, tbl *Table, mem memory.Allocator) map[int64]int64 {
	t.Helper()
	p, err := tbl.Prepare(Query{})
	if err != nil {
		t.Fatal(err)
	}
	s := tbl.Snapshot()
	defer s.Release()
	out := map[int64]int64{}
	err = s.Run(context.Background(), mem, p, func(r arrow.RecordBatch) error {
		for i := 0; i < int(r.NumRows()); i++ {
			id := r.Column(0).(*array.Int64).Value(i)
			if _, dup := out[id]; dup {
				t.Errorf("key %d read twice", id)
			}
			out[id] = r.Column(1).(*array.Int64).Value(i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// baseKV reads the base dataset as a plain Lance reader does: every live
// row, failing on a key seen twice.
func baseKV(t *testing.T, o otherWriter) map[int64]int64 {
	t.Helper()
	ctx := context.Background()
	d := o.latest()
	out := map[int64]int64{}
	err := d.Scan(ctx, o.mem, nil, 0, func(f lance.Fragment, first uint64, rec arrow.RecordBatch) error {
		bm, err := d.DeletionBitmap(ctx, f.ID)
		if err != nil {
			return err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if bm != nil && bm.Contains(uint32(first)+uint32(i)) {
				continue
			}
			id := rec.Column(0).(*array.Int64).Value(i)
			if _, dup := out[id]; dup {
				t.Errorf("base holds key %d twice", id)
			}
			out[id] = rec.Column(1).(*array.Int64).Value(i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantKV(t *testing.T, what string, got map[int64]int64, want map[int64]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d: %v", what, len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: key %d = %d, want %d (%v)", what, k, got[k], v, got)
		}
	}
}

// TestShareWithLanceWriter: another Lance writer's appends become visible
// within lance.refresh_interval (newest of a key in the base wins); its
// commits landing while a compaction runs are rebased over (its rows of
// keys the generations hold count as older), its rewrite of a fragment the
// compaction deletes from redoes the compaction once; and afterwards the
// base holds one row per key for a plain Lance reader.
func TestShareWithLanceWriter(t *testing.T) {
	ctx := context.Background()
	under := objstore.NewMem()
	store := objstore.NewFaulty(under, objstore.FaultOptions{})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1, LanceRefreshInterval: 20 * time.Millisecond})
	defer db.Close()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "s", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	other := otherWriter{t: t, store: under, root: tableRoot("s"), mem: mem}
	want := map[int64]int64{}
	put := func(ids []int64, v int64) {
		rec := kvBatch(mem, ids, v)
		writeAll(t, tbl, mem, rec)
		rec.Release()
		for _, id := range ids {
			want[id] = v
		}
	}
	flushCompact := func() CompactResult {
		t.Helper()
		if _, err := tbl.Flush(ctx, -1); err != nil {
			t.Fatal(err)
		}
		res, err := tbl.Compact(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	put(seqIDs(0, 10), 1)
	flushCompact()

	// 1. The other writer appends keys 5..14: visible within the refresh
	// interval, its rows of 5..9 newer than the base's.
	other.appendRows(seqIDs(5, 10), 2)
	for id := int64(5); id < 15; id++ {
		want[id] = 2
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(scanKV(t, tbl, mem)) != 15 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	wantKV(t, "after the other writer's append", scanKV(t, tbl, mem), want)

	// 2. flightwal upserts 12, 13 and 30; the other writer appends 12
	// and 20 while the compaction runs: rebased, flightwal's 12 wins.
	put([]int64{12, 13, 30}, 3)
	var armed atomic.Bool
	armed.Store(true)
	store.SetOptions(objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if op == objstore.OpPutIfAbsent && strings.Contains(key, "s.lance/_versions/") && armed.CompareAndSwap(true, false) {
			other.appendRows([]int64{12, 20}, 4)
		}
		return nil
	}})
	want[20] = 4
	res := flushCompact()
	if res.Rebases != 1 || res.Retries != 0 {
		t.Fatalf("compaction over a concurrent append: %d rebases, %d retries; want 1, 0", res.Rebases, res.Retries)
	}
	wantKV(t, "flightwal after a rebased compaction", scanKV(t, tbl, mem), want)
	wantKV(t, "a Lance reader after a rebased compaction", baseKV(t, other), want)

	// 3. The other writer rewrites every fragment (optimize) while the
	// next compaction, which deletes from them, runs: refused, redone
	// once on the rewritten table.
	put([]int64{0, 5, 40}, 5)
	armed.Store(true)
	store.SetOptions(objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if op == objstore.OpPutIfAbsent && strings.Contains(key, "s.lance/_versions/") && armed.CompareAndSwap(true, false) {
			other.rewriteAll()
		}
		return nil
	}})
	res = flushCompact()
	if res.Retries != 1 {
		t.Fatalf("compaction over a concurrent rewrite: %d retries, want 1", res.Retries)
	}
	wantKV(t, "flightwal after a redone compaction", scanKV(t, tbl, mem), want)
	wantKV(t, "a Lance reader after a redone compaction", baseKV(t, other), want)
	m := db.Metrics()
	if m.CommitRebases < 1 || m.CompactRetries != 1 || m.CompactConflicts != 0 {
		t.Fatalf("metrics: %d rebases, %d retries, %d conflicts", m.CommitRebases, m.CompactRetries, m.CompactConflicts)
	}
	store.SetOptions(objstore.FaultOptions{})
	// Nothing poisoned: the next compaction just works.
	put([]int64{50}, 6)
	flushCompact()
	wantKV(t, "after one more compaction", scanKV(t, tbl, mem), want)
}

// TestCompactionConflictIsNotAFence: a compaction that every attempt finds
// rewritten under it fails with ErrConflict naming the other commit (not
// ErrFenced: no flightwal writer is involved), and the next compaction,
// without the other writer, just works.
func TestCompactionConflictIsNotAFence(t *testing.T) {
	ctx := context.Background()
	under := objstore.NewMem()
	store := objstore.NewFaulty(under, objstore.FaultOptions{})
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer db.Close()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "c", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	other := otherWriter{t: t, store: under, root: tableRoot("c"), mem: mem}
	put := func(ids []int64, v int64) {
		rec := kvBatch(mem, ids, v)
		writeAll(t, tbl, mem, rec)
		rec.Release()
		if _, err := tbl.Flush(ctx, -1); err != nil {
			t.Fatal(err)
		}
	}
	put(seqIDs(0, 10), 1)
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	put(seqIDs(0, 5), 2)
	store.SetOptions(objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if op == objstore.OpPutIfAbsent && strings.Contains(key, "c.lance/_versions/") {
			other.rewriteAll()
		}
		return nil
	}})
	_, err = tbl.Compact(ctx)
	if !errors.Is(err, ErrConflict) || errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "rewritten") && !strings.Contains(err.Error(), "removed") {
		t.Fatalf("compaction rewritten under it every time: %v", err)
	}
	t.Logf("the conflict: %v", err)
	if m := db.Metrics(); m.CompactConflicts != 1 || m.CompactRetries != compactAttempts-1 {
		t.Fatalf("metrics: %d conflicts, %d retries", m.CompactConflicts, m.CompactRetries)
	}
	store.SetOptions(objstore.FaultOptions{})
	if _, err := tbl.Compact(ctx); err != nil {
		t.Fatalf("the compaction after a conflict: %v", err)
	}
	got := scanKV(t, tbl, mem)
	for id := int64(0); id < 10; id++ {
		if want := map[bool]int64{true: 2, false: 1}[id < 5]; got[id] != want {
			t.Fatalf("key %d = %d, want %d", id, got[id], want)
		}
	}
}
