package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// Owner receives what the pipeline of a Writer does. Its methods are
// called from the pipeline's goroutines, one at a time, never with a lock
// of the Writer held, so they may call the Writer (but must not block on
// the owner's own appends).
type Owner interface {
	// Durable reports that the entry at pos, holding the batches of group
	// up to sequence number lastSeq, is in the store (invariant 1: the
	// owner acknowledges and publishes them only now). Entries are
	// reported in position order.
	Durable(pos, lastSeq uint64, group any)
	// Stalled reports that writing the entry at the head of the pipeline
	// failed and is being retried (err), or went through again (nil).
	Stalled(err error)
	// Failed reports that the pipeline stopped for good: a newer writer
	// fenced this one (err wraps ErrFenced), an entry could not be
	// encoded, or the writer closed while a put was still failing. No
	// entry is written after it, so no entry ever follows a gap.
	Failed(err error)
}

// Config tunes a Writer.
type Config struct {
	// FlushInterval is the group-commit window: buffered batches are
	// written at least this often.
	FlushInterval time.Duration
	// MaxBufferBytes bounds an entry (and so the in-memory copy and the
	// latency of its first waiter); Add reports a buffer this full.
	MaxBufferBytes int64
	// Retry bounds the quick retries of one put; after them a failing put
	// stalls the pipeline and is retried with backoff up to Retry.Max
	// until it lands.
	Retry objstore.RetryPolicy
	// OnPut, if set, is told each entry written: its bytes and how long
	// its put took (retries included). It must not block.
	OnPut func(bytes int, d time.Duration)
}

// Writer is the group-commit pipeline of one log, owned by the region's
// single writer at one epoch.
//
// Add buffers a batch; the pipeline's encoder takes the buffer when kicked
// (Kick), every flush interval, and at Close, and encodes it as entries
// at consecutive positions (one group per entry, at most about
// MaxBufferBytes each); its putter writes them in position order with
// PutIfAbsent and reports each to the owner (Owner.Durable). The two run
// as a two-stage pipeline, so the next entry is encoded while the previous
// one is written (on two cores, encoding and an fsync or a network round
// trip overlap); at most one encoded entry waits between them.
//
// A put that fails is retried in place, with the same epoch and position,
// until it lands (Owner.Stalled reports the failure and the recovery): a
// full disk or an unreachable store never reopens the region. A put that
// finds another writer's entry at its position fails the pipeline
// (Owner.Failed, ErrFenced).
//
// Add, Kick and Close are safe to call concurrently; Add calls must come
// in sequence order (the owner serialises them).
type Writer struct {
	log   *Log
	epoch uint64
	cfg   Config
	owner Owner

	mu          sync.Mutex // guards buffer, bufferBytes
	buffer      []Item
	bufferBytes int64
	failed      atomic.Bool

	// bufs are encode buffers the putter hands back to the encoder: three
	// are in use at once (one being encoded, one queued, one being
	// written).
	bufs chan []byte

	kick      chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

// NewWriter starts the pipeline of the log at epoch, writing its first
// entry at position next (after the owner's fence).
func (l *Log) NewWriter(epoch, next uint64, owner Owner, cfg Config) *Writer {
	w := &Writer{
		log: l, epoch: epoch, cfg: cfg, owner: owner,
		bufs: make(chan []byte, 3), kick: make(chan struct{}, 1),
		closing: make(chan struct{}), done: make(chan struct{}),
	}
	go w.encodeLoop(next)
	return w
}

// Add buffers a batch (retained until it is written) and reports whether
// the buffer holds an entry's worth, so the caller should Kick.
func (w *Writer) Add(it Item) (full bool) {
	it.Rec.Retain()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buffer = append(w.buffer, it)
	w.bufferBytes += it.Bytes
	return w.bufferBytes >= w.cfg.MaxBufferBytes
}

// Kick asks the pipeline to write the buffer now (a durable write waits).
func (w *Writer) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Close writes what is buffered and stops the pipeline. If a put is still
// failing it gives up on it (Owner.Failed): the batches it held are not
// acknowledged. Close is idempotent.
func (w *Writer) Close() {
	w.closeOnce.Do(func() { close(w.closing) })
	<-w.done
}

// Done is closed once the pipeline has stopped: nothing more will be
// reported.
func (w *Writer) Done() <-chan struct{} { return w.done }

// put is an encoded entry on its way to the store.
type put struct {
	pos, lastSeq uint64
	data         []byte
	group        any
}

func (w *Writer) encodeLoop(next uint64) {
	puts := make(chan put, 1)
	putterDone := make(chan struct{})
	go w.putLoop(puts, putterDone)
	defer func() {
		close(puts)
		<-putterDone
		w.dropBuffer()
		close(w.done)
	}()
	t := time.NewTicker(w.cfg.FlushInterval)
	defer t.Stop()
	wrote := false // since the last tick
	for {
		select {
		case <-w.kick:
			wrote = w.encode(puts, &next) || wrote
		case <-t.C:
			if !w.encode(puts, &next) && !wrote {
				w.dropBufs() // a whole interval without a batch
			}
			wrote = false
		case <-w.closing:
			w.encode(puts, &next)
			return
		}
	}
}

// dropBufs lets go of the pooled encode buffers once a whole flush
// interval passed without a batch to write: an idle region holds no WAL
// memory, where it held up to three entries' worth (about 37 MiB at the
// default wal.max_buffer_bytes, each buffer a quarter over size).
func (w *Writer) dropBufs() {
	for {
		select {
		case <-w.bufs:
		default:
			return
		}
	}
}

// dropBuffer releases batches buffered after the pipeline failed.
func (w *Writer) dropBuffer() {
	w.mu.Lock()
	items := w.buffer
	w.buffer, w.bufferBytes = nil, 0
	w.mu.Unlock()
	for _, it := range items {
		it.Rec.Release()
	}
}

// encode takes the buffered batches and encodes them as entries at
// consecutive positions from *next.
func (w *Writer) encode(puts chan<- put, next *uint64) (wrote bool) {
	w.mu.Lock()
	items := w.buffer
	w.buffer, w.bufferBytes = nil, 0
	w.mu.Unlock()
	defer func() {
		for _, it := range items {
			it.Rec.Release()
		}
	}()
	if len(items) == 0 || w.failed.Load() {
		return false
	}
	for len(items) > 0 {
		n, size := 1, items[0].Bytes
		for n < len(items) && items[n].Group == items[0].Group && size < w.cfg.MaxBufferBytes {
			size += items[n].Bytes
			n++
		}
		group := items[:n]
		last := group[n-1].Seq
		var reuse []byte
		select {
		case reuse = <-w.bufs:
		default:
		}
		data, err := w.log.codec.encode(reuse, w.epoch, *next, last, group)
		if err != nil {
			w.fail(err)
			return
		}
		if w.failed.Load() {
			return // the putter failed: later entries must not be written
		}
		puts <- put{pos: *next, lastSeq: last, data: data, group: group[0].Group}
		*next++
		for _, it := range group {
			it.Rec.Release()
		}
		items = items[n:]
	}
	return true
}

// putLoop writes encoded entries in order and reports each once its put
// returned (invariant 1). After a failure it writes nothing more: the
// batches of later entries are never acknowledged, and no entry follows a
// gap.
func (w *Writer) putLoop(puts <-chan put, done chan<- struct{}) {
	defer close(done)
	for p := range puts {
		if w.failed.Load() {
			continue
		}
		start := time.Now()
		err := w.putUntilDone(p.pos, p.data)
		if err == nil && w.cfg.OnPut != nil {
			w.cfg.OnPut(len(p.data), time.Since(start))
		}
		select {
		case w.bufs <- p.data[:0]: // stores do not retain what they were given
		default:
		}
		if err != nil {
			w.fail(err)
			continue
		}
		w.log.note(p.pos, false)
		w.owner.Durable(p.pos, p.lastSeq, p.group)
	}
}

func (w *Writer) fail(err error) {
	if w.failed.CompareAndSwap(false, true) {
		w.owner.Failed(err)
	}
}

// putUntilDone writes one entry, retrying every failure but a fence at
// the same position until it lands or the writer closes.
func (w *Writer) putUntilDone(pos uint64, data []byte) error {
	backoff := w.cfg.Retry.Base
	stalled := false
	for {
		err := w.putEntry(context.Background(), pos, data)
		if err == nil || errors.Is(err, ErrFenced) {
			if stalled {
				w.owner.Stalled(nil)
			}
			return err
		}
		stalled = true
		w.owner.Stalled(err)
		select {
		case <-w.closing:
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.cfg.Retry.Max)
	}
}

// putEntry writes one entry with put-if-absent, retrying transient
// failures quickly. An existing object at pos is ours if it holds the
// same bytes (a retry after an error that happened after the write);
// otherwise a newer writer fenced us.
func (w *Writer) putEntry(ctx context.Context, pos uint64, data []byte) error {
	key := w.log.Key(pos)
	err := objstore.Retry(ctx, w.cfg.Retry, func(ctx context.Context) error {
		return w.log.store.PutIfAbsent(ctx, key, data)
	})
	if !errors.Is(err, objstore.ErrExists) {
		if err != nil {
			return fmt.Errorf("writing WAL entry %s: %w", key, err)
		}
		return nil
	}
	existing, gerr := w.log.store.Get(ctx, key)
	if gerr != nil {
		return fmt.Errorf("WAL entry %s exists and cannot be read: %w", key, gerr)
	}
	if bytes.Equal(existing, data) {
		return nil
	}
	if e, err := w.log.codec.decode(existing, pos); err == nil {
		e.Release()
		return fmt.Errorf("%w: WAL entry %s was written by epoch %d (ours %d)", ErrFenced, key, e.Epoch, w.epoch)
	}
	return fmt.Errorf("%w: WAL entry %s exists and is not ours", ErrFenced, key)
}
