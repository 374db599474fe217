package wal

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/objstore"
)

// putEntry puts an entry of one batch at pos by hand.
func putEntry(t *testing.T, l *Log, mem memory.Allocator, epoch, pos, seq uint64) {
	t.Helper()
	rec := datagen.Batch(mem, dim, 1, int64(seq)*10, 2)
	defer rec.Release()
	data, err := l.Encode(epoch, pos, seq, []Item{{Rec: rec, Seq: seq, Op: OpUpsert}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.store.PutIfAbsent(context.Background(), l.Key(pos), data); err != nil {
		t.Fatal(err)
	}
}

// TestReplayGap: a missing position between two entries is a
// CorruptionError naming the entry after the gap, never a silent skip.
func TestReplayGap(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Open(objstore.NewMem(), "_mem_wal/0", schema, 0, mem)
	putEntry(t, l, mem, 1, 1, 1)
	putEntry(t, l, mem, 1, 3, 3)
	positions, _ := l.Positions(ctx)
	applied := 0
	last, err := l.Replay(ctx, positions, 0, func(*Entry) { applied++ })
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Pos != 3 || ce.Key != l.Key(3) || last != 1 || applied != 1 {
		t.Fatalf("replay over a gap: last %d applied %d err %v", last, applied, err)
	}
}

// TestFenceAppliesLateEntries: a fence goes after entries an older writer
// put since the caller listed the log (applying them), and an entry of a
// newer epoch at the position means the caller is fenced.
func TestFenceAppliesLateEntries(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Open(objstore.NewMem(), "_mem_wal/0", schema, 0, mem)
	putEntry(t, l, mem, 1, 1, 1)
	putEntry(t, l, mem, 1, 2, 2) // late: the caller listed only position 1
	var late []uint64
	pos, err := l.Fence(ctx, 2, 1, 1, func(e *Entry) { late = append(late, e.Pos) })
	if err != nil || pos != 3 || len(late) != 1 || late[0] != 2 {
		t.Fatalf("fence at %d, applied %v, err %v; want 3 after applying 2", pos, late, err)
	}
	if _, err := l.Fence(ctx, 2, 2, 2, func(*Entry) {}); !errors.Is(err, ErrFenced) {
		t.Fatalf("a fence over an entry of the same epoch: %v, want ErrFenced", err)
	}
}

// TestTruncateKeepsFences: truncation deletes the data entries before the
// position, keeps that entry and every fence.
func TestTruncateKeepsFences(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Open(objstore.NewMem(), "_mem_wal/0", schema, 0, mem)
	putEntry(t, l, mem, 1, 1, 1)
	if _, err := l.Fence(ctx, 2, 1, 1, func(*Entry) {}); err != nil { // position 2
		t.Fatal(err)
	}
	putEntry(t, l, mem, 2, 3, 2)
	putEntry(t, l, mem, 2, 4, 3)
	// A fresh Log has not seen the entries: it reads them to tell.
	l2 := Open(l.store, "_mem_wal/0", schema, 0, mem)
	if err := l2.Truncate(ctx, 4); err != nil {
		t.Fatal(err)
	}
	positions, _ := l2.Positions(ctx)
	if len(positions) != 2 || positions[0] != 2 || positions[1] != 4 {
		t.Fatalf("after truncating before 4: %v, want the fence 2 and 4", positions)
	}
}
