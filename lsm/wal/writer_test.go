package wal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/objstore"
)

// recorder is an Owner that records what the pipeline reported.
type recorder struct {
	mu      sync.Mutex
	durable []uint64 // positions, in report order
	lastSeq uint64
	stalls  []error
	failed  error
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) Durable(pos, lastSeq uint64, _ any) {
	r.mu.Lock()
	r.durable = append(r.durable, pos)
	r.lastSeq = lastSeq
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Stalled(err error) {
	r.mu.Lock()
	r.stalls = append(r.stalls, err)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Failed(err error) {
	r.mu.Lock()
	r.failed = err
	r.mu.Unlock()
	r.poke()
}

// await waits until cond holds under r.mu.
func (r *recorder) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func addBatches(w *Writer, mem memory.Allocator, group any, first uint64, n int) {
	for i := range n {
		rec := datagen.Batch(mem, dim, 1, int64(first)+int64(i)*10, 10)
		w.Add(Item{Rec: rec, Seq: first + uint64(i), Op: OpUpsert, Group: group, Bytes: int64(util.TotalRecordSize(rec))})
		rec.Release()
	}
}

var quick = Config{FlushInterval: 10 * time.Millisecond, MaxBufferBytes: 1 << 20, Retry: objstore.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: 10 * time.Millisecond}}

// TestWriterGroupCommit: batches become entries at consecutive positions,
// one group per entry, reported durable in order once in the store, and
// replay reads back every batch.
func TestWriterGroupCommit(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	store := objstore.NewMem()
	l := Open(store, "_mem_wal/0", schema, 0, mem)
	rec := newRecorder()
	w := l.NewWriter(1, 1, rec, quick)
	addBatches(w, mem, "a", 1, 3)
	addBatches(w, mem, "b", 4, 2) // another group: another entry
	w.Kick()
	rec.await(t, "seq 5 durable", func() bool { return rec.lastSeq == 5 })
	w.Close()
	if len(rec.durable) != 2 || rec.durable[0] != 1 || rec.durable[1] != 2 || rec.failed != nil {
		t.Fatalf("durable %v failed %v, want positions 1 and 2", rec.durable, rec.failed)
	}
	positions, err := l.Positions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	last, err := l.Replay(ctx, positions, 0, func(e *Entry) {
		for _, b := range e.Batches {
			seqs = append(seqs, b.Seq)
		}
	})
	if err != nil || last != 2 || fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Fatalf("replay: last %d seqs %v err %v", last, seqs, err)
	}
}

// TestWriterStallsInPlace: a put that fails is retried at the same
// position until it lands; the owner hears the stall and the recovery,
// and nothing fails.
func TestWriterStallsInPlace(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var full atomic.Bool
	full.Store(true)
	store := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		if full.Load() && op == objstore.OpPutIfAbsent {
			return fmt.Errorf("disk full: %w", objstore.ErrNoSpace)
		}
		return nil
	}})
	l := Open(store, "_mem_wal/0", schema, 0, mem)
	rec := newRecorder()
	w := l.NewWriter(1, 1, rec, quick)
	defer w.Close()
	addBatches(w, mem, "a", 1, 1)
	w.Kick()
	rec.await(t, "a stall", func() bool { return len(rec.stalls) > 0 })
	if !errors.Is(rec.stalls[0], objstore.ErrNoSpace) || len(rec.durable) != 0 {
		t.Fatalf("stall %v, durable %v", rec.stalls[0], rec.durable)
	}
	full.Store(false)
	rec.await(t, "the stalled entry durable", func() bool { return len(rec.durable) == 1 })
	if rec.durable[0] != 1 || rec.stalls[len(rec.stalls)-1] != nil || rec.failed != nil {
		t.Fatalf("after recovery: durable %v, last stall %v, failed %v", rec.durable, rec.stalls[len(rec.stalls)-1], rec.failed)
	}
}

// TestWriterFenced: an entry of another writer at the next position fails
// the pipeline with ErrFenced, and nothing after it is written.
func TestWriterFenced(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	store := objstore.NewMem()
	l := Open(store, "_mem_wal/0", schema, 0, mem)
	if _, err := l.Fence(ctx, 2, 0, 0, func(*Entry) {}); err != nil { // the newer writer, at position 1
		t.Fatal(err)
	}
	rec := newRecorder()
	w := l.NewWriter(1, 1, rec, quick)
	addBatches(w, mem, "a", 1, 1)
	w.Kick()
	rec.await(t, "the failure", func() bool { return rec.failed != nil })
	addBatches(w, mem, "a", 2, 1)
	w.Close()
	if !errors.Is(rec.failed, ErrFenced) || len(rec.durable) != 0 {
		t.Fatalf("failed %v durable %v, want ErrFenced and nothing durable", rec.failed, rec.durable)
	}
	if positions, _ := l.Positions(ctx); len(positions) != 1 {
		t.Fatalf("positions %v after the fenced writer, want the fence alone", positions)
	}
}

// TestWriterDropsIdleBuffers: encode buffers are pooled while the writer
// writes and let go once a flush interval passes without a batch.
func TestWriterDropsIdleBuffers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Open(objstore.NewMem(), "_mem_wal/0", schema, 0, mem)
	rec := newRecorder()
	// The interval is long enough that no idle tick falls between the
	// write becoming durable and the first check.
	cfg := quick
	cfg.FlushInterval = 300 * time.Millisecond
	w := l.NewWriter(1, 1, rec, cfg)
	defer w.Close()
	addBatches(w, mem, "a", 1, 1)
	w.Kick()
	rec.await(t, "durable", func() bool { return len(rec.durable) == 1 })
	if n := len(w.bufs); n != 1 {
		t.Fatalf("%d pooled encode buffers right after a durable write, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(w.bufs) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d encode buffers still pooled after 5 s idle", len(w.bufs))
		}
		time.Sleep(time.Millisecond)
	}
}
