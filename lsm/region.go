package lsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// RegionWriter is the single writer of one region: it appends batches to the
// active memtable and the WAL buffer, group-commits the buffer as WAL
// entries, publishes the durable watermark, and freezes memtables.
type RegionWriter struct {
	id     int
	paths  regionPaths
	store  objstore.Store // rooted at the table directory
	schema *arrow.Schema
	pkCol  int
	mem    memory.Allocator
	opts   *Options
	log    *slog.Logger

	// mu serialises writers: sequence numbers, memtable appends, the WAL
	// buffer, freezes and the failure state.
	mu          sync.Mutex
	epoch       uint64
	manifest    *tablepb.RegionManifest // newest committed
	active      *MemTable
	frozen      []*MemTable // oldest first
	lastSeq     uint64
	buffer      []walItem
	bufferBytes int64
	failure     error // once set the region takes no writes
	closed      bool  // Close began: no new writes, but the buffer is still written
	// writing: this process claimed the region (invariant 4) and runs its
	// WAL and flush goroutines. A region opened for reading replays the
	// WAL without writing anything; Table.region claims it on first write.
	writing bool
	// stall is the error of a WAL put that is being retried (the disk is
	// full, the store unreachable): new batches are refused with it until
	// the put succeeds, and waiters for batches not yet durable get it.
	// The region keeps its epoch: nothing is reopened.
	stall error

	// walPos is the last WAL position written. Only the WAL goroutine (or
	// openRegion before it starts) writes it; stats read it.
	walPos atomic.Uint64
	// walBufs are encode buffers the putter hands back to the encoder:
	// three are in use at once (one being encoded, one queued in puts,
	// one being written).
	walBufs chan []byte

	// walKinds classifies WAL positions this process has seen, for garbage
	// collection: fence entries are never deleted (see collectWAL).
	walKindsMu sync.Mutex
	walKinds   map[uint64]walKind

	// durable is the durable watermark: every batch with seq <= durable is in
	// a WAL entry in the object store. Readers use it as the visible
	// watermark too (invariant 2: visible implies durable).
	durable  atomic.Uint64
	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced whenever durable or failure changes

	gens []*Generation // flushed generations, newest first (mu)

	flushMu   sync.Mutex // one manifest-changing job (flush, retire) at a time
	onFlush   func()     // called after each flush (compaction trigger)
	flushKick kicker
	flushDone chan struct{}

	// stateMu guards state; snapshots read it together with the watermark.
	stateMu sync.RWMutex
	state   *readState

	flushReq  kicker // wakes the WAL goroutine
	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{}

	// The indexer goroutine maintains the memtables' search indexes off
	// the write path: appends kick it, it indexes published batches.
	tidx      *tableIndexes
	indexKick kicker
	indexDone chan struct{}
	appends   atomic.Uint64 // appends so far (the indexer paces itself by it)
}

// readState is what a snapshot of the region reads besides the watermark.
type readState struct {
	memtables []*MemTable   // newest first: active, then frozen
	gens      []*Generation // newest first
}

// openRegion opens region id: it replays the WAL after the manifest's
// replay position (invariant 3). With write set it first claims the region
// (invariant 4), fences the WAL and starts the WAL and flush goroutines;
// without, it writes nothing, so tables on read-only storage can be read,
// and Table.region claims the region on its first write (claimInPlace).
//
// mergedUpTo is the highest generation of this region that the base table
// already holds (compaction committed it): such generations are not read
// again, even if a crash kept them in the region manifest.
func openRegion(ctx context.Context, store objstore.Store, id int, schema *arrow.Schema, pkCol int, opts *Options, mergedUpTo uint64, onFlush func(), tidx *tableIndexes, write bool) (*RegionWriter, error) {
	r := &RegionWriter{
		id: id, paths: regionPaths{dir: "_mem_wal/" + strconv.Itoa(id)}, store: store,
		schema: schema, pkCol: pkCol, mem: opts.Allocator, opts: opts,
		log:      opts.Logger.With("region", id),
		onFlush:  onFlush,
		notify:   make(chan struct{}),
		flushReq: newKicker(), closing: make(chan struct{}), done: make(chan struct{}),
		walBufs:   make(chan []byte, 3),
		flushKick: newKicker(), flushDone: make(chan struct{}),
		tidx: tidx, indexKick: newKicker(), indexDone: make(chan struct{}),
	}
	if write {
		if err := r.claim(ctx); err != nil {
			return nil, err
		}
	} else {
		m, err := loadRegionManifest(ctx, store, r.paths)
		if err != nil {
			return nil, wrapStoreErr(err)
		}
		r.manifest, r.epoch = m, m.WriterEpoch
	}
	gen := r.manifest.CurrentGeneration
	for _, g := range r.manifest.FlushedGenerations {
		gen = max(gen, g.Generation)
	}
	for i := len(r.manifest.FlushedGenerations) - 1; i >= 0; i-- {
		fg := r.manifest.FlushedGenerations[i]
		if fg.Generation <= mergedUpTo {
			continue
		}
		r.gens = append(r.gens, newGeneration(store, r.paths.dir, fg.Path, fg.Generation, schema, pkCol, r.mem))
	}
	r.active = r.newMemTable(gen + 1)
	if err := r.replay(ctx); err != nil {
		r.releaseMemtables()
		return nil, err
	}
	if write {
		if err := r.writeFence(ctx); err != nil {
			r.releaseMemtables()
			return nil, err
		}
	}
	r.durable.Store(r.lastSeq)
	r.publishState()
	go background(r.closing, r.indexKick, r.indexDone, r.indexMemTables)
	r.indexKick.kick() // index the replayed rows
	if write {
		r.mu.Lock()
		r.startWritingLocked()
		r.mu.Unlock()
	}
	return r, nil
}

// startWritingLocked starts the WAL and flush goroutines of a claimed
// region. r.mu is held.
func (r *RegionWriter) startWritingLocked() {
	r.writing = true
	go r.walLoop()
	go background(r.closing, r.flushKick, r.flushDone, r.flushFrozen)
	if len(r.frozen) > 0 {
		r.flushKick.kick() // replay froze memtables: flush them
	}
}

// Writing reports whether this process claimed the region.
func (r *RegionWriter) Writing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writing
}

// claimInPlace makes a region opened for reading its writer: it claims
// the region (invariant 4), replays the entries another writer put since
// the open, fences the WAL and starts the WAL and flush goroutines. The
// caller (Table.region) serialises it with every other claim and reopen.
//
// ok is false, with nothing changed here, when the region manifest moved
// since the open (another writer flushed, or won the claim): what this
// region replayed may be stale, so the caller reopens it instead.
func (r *RegionWriter) claimInPlace(ctx context.Context) (ok bool, err error) {
	cur, err := loadRegionManifest(ctx, r.store, r.paths)
	if err != nil {
		return false, wrapStoreErr(err)
	}
	r.mu.Lock()
	stale := cur.Version != r.manifest.Version
	r.mu.Unlock()
	if stale {
		return false, nil
	}
	next := proto.Clone(cur).(*tablepb.RegionManifest)
	next.Version++
	next.WriterEpoch++
	next.RegionSpecId = 0
	if err := commitRegionManifest(ctx, r.store, r.opts.Retry, r.paths, next); err != nil {
		if errors.Is(err, ErrFenced) {
			return false, nil // another opener claimed it first: reopen above it
		}
		return false, wrapStoreErr(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.manifest, r.epoch = next, next.WriterEpoch
	r.log.Debug("claimed region on first write", "epoch", r.epoch, "manifest_version", next.Version)
	err = r.replayFrom(ctx, r.walPos.Load())
	if err == nil {
		err = r.writeFence(ctx)
	}
	if err != nil {
		// We hold the epoch but could not take over: the next write
		// reopens the region (Table.region).
		r.failLocked(err)
		return false, err
	}
	r.durable.Store(r.lastSeq)
	r.startWritingLocked()
	r.wake()
	return true, nil
}

// claim writes manifest version+1 with epoch+1. A racing opener that wins
// the same version makes us re-read and claim above it: the last opener
// owns the region and every earlier writer is fenced.
func (r *RegionWriter) claim(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		cur, err := loadRegionManifest(ctx, r.store, r.paths)
		if err != nil {
			return wrapStoreErr(err)
		}
		next := proto.Clone(cur).(*tablepb.RegionManifest)
		next.Version++
		next.WriterEpoch++
		next.RegionSpecId = 0
		err = commitRegionManifest(ctx, r.store, r.opts.Retry, r.paths, next)
		if errors.Is(err, ErrFenced) && attempt < 16 {
			continue
		}
		if err != nil {
			return wrapStoreErr(err)
		}
		r.manifest, r.epoch = next, next.WriterEpoch
		r.log.Debug("claimed region", "epoch", r.epoch, "manifest_version", next.Version)
		return nil
	}
}

// replay applies every WAL entry after the replay position, in order.
func (r *RegionWriter) replay(ctx context.Context) error {
	positions, err := r.walPositions(ctx)
	if err != nil {
		return err
	}
	after := r.manifest.ReplayAfterWalEntryPosition
	r.walPos.Store(after)
	if slices.Contains(positions, after) {
		// The entry at the replay position is kept so that its last
		// sequence number survives garbage collection.
		e, err := r.readWAL(ctx, after)
		if err != nil {
			return err
		}
		r.lastSeq = max(r.lastSeq, e.lastSeq)
		e.release()
	}
	if err := r.applyPositions(ctx, positions, after); err != nil {
		return err
	}
	if n := r.walPos.Load() - after; n > 0 {
		r.log.Info("replayed WAL", "entries", n, "last_seq", r.lastSeq, "rows", r.active.Rows())
	}
	return nil
}

// replayFrom applies the entries after position after that were put since
// the region was opened for reading (claimInPlace). r.mu is held.
func (r *RegionWriter) replayFrom(ctx context.Context, after uint64) error {
	positions, err := r.walPositions(ctx)
	if err != nil {
		return err
	}
	return r.applyPositions(ctx, positions, after)
}

// walPositions lists the positions of the region's WAL entries, ascending.
func (r *RegionWriter) walPositions(ctx context.Context) ([]uint64, error) {
	objs, err := r.store.List(ctx, r.paths.walPrefix())
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("listing WAL of region %d: %w", r.id, err))
	}
	var positions []uint64
	for _, o := range objs {
		if pos, ok := parseBitrevName(o.Key, ".arrow"); ok {
			positions = append(positions, pos)
		}
	}
	slices.Sort(positions)
	return positions, nil
}

// applyPositions applies the entries at the given ascending positions
// above after, which must follow one another without a gap.
func (r *RegionWriter) applyPositions(ctx context.Context, positions []uint64, after uint64) error {
	for _, pos := range positions {
		if pos <= after {
			continue // flushed; left for garbage collection
		}
		if pos != r.walPos.Load()+1 {
			return fmt.Errorf("%w: WAL of region %d has a gap: entry %d follows %d", ErrDataLoss, r.id, pos, r.walPos.Load())
		}
		e, err := r.readWAL(ctx, pos)
		if err != nil {
			return err
		}
		r.applyEntry(e)
		e.release()
	}
	return nil
}

func (r *RegionWriter) readWAL(ctx context.Context, pos uint64) (*walEntry, error) {
	key := r.paths.wal(pos)
	data, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("reading WAL entry %s: %w", key, err))
	}
	e, err := decodeWALEntrySafely(r.mem, data, r.schema, r.pkCol)
	if err != nil {
		return nil, fmt.Errorf("%w: WAL entry %s is corrupt: %w", ErrDataLoss, key, err)
	}
	if e.pos != pos {
		e.release()
		return nil, fmt.Errorf("%w: WAL entry %s says position %d", ErrDataLoss, key, e.pos)
	}
	// An entry whose checksum holds but whose batches are not valid Arrow
	// (written by a server that did not validate, or by another engine) is
	// refused here, before anything reads its values: it would crash
	// filters and indexers. The operator decides what to do with it.
	for i, rec := range e.recs {
		if err := validateBatch(rec); err != nil {
			e.release()
			return nil, fmt.Errorf("%w: WAL entry %s, batch %d (seq %d): %w", ErrDataLoss, key, i, e.batches[i].Seq, err)
		}
	}
	return e, nil
}

// decodeWALEntrySafely is decodeWALEntry with arrow-go's panics on
// malformed IPC (an index past a buffer) turned into errors: replay
// refuses such an entry, it does not crash the server.
func decodeWALEntrySafely(mem memory.Allocator, data []byte, schema *arrow.Schema, pkCol int) (e *walEntry, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, err = nil, fmt.Errorf("malformed IPC stream: %v", p)
		}
	}()
	return decodeWALEntry(mem, data, schema, pkCol)
}

// applyEntry puts a durable entry's batches into the memtable, exactly as
// live writes do. A freeze happens only after a whole entry, so every
// replayed memtable ends at an entry boundary and its walPos covers all of
// its batches (a flush sets the replay position from it).
func (r *RegionWriter) applyEntry(e *walEntry) {
	for i, rec := range e.recs {
		seq := e.batches[i].Seq
		if seq <= r.lastSeq {
			continue // already applied (never expected: positions are unique)
		}
		r.active.append(rec, seq, parseOp(e.batches[i].Op))
		r.lastSeq = seq
	}
	r.lastSeq = max(r.lastSeq, e.lastSeq)
	r.active.walPos.Store(e.pos)
	r.walPos.Store(e.pos)
	r.noteWALKind(e.pos, kindOf(e))
	r.maybeFreezeLocked()
}

// writeFence writes an empty entry with our epoch at the next WAL position.
// A fenced writer's next entry collides with it. Entries that a previous
// writer put after we listed the WAL are replayed first: that writer may
// have acknowledged them.
func (r *RegionWriter) writeFence(ctx context.Context) error {
	for {
		pos := r.walPos.Load() + 1
		data, err := encodeWALEntry(nil, r.mem, r.schema, r.pkCol, r.epoch, pos, r.lastSeq, nil)
		if err != nil {
			return err
		}
		err = r.store.PutIfAbsent(ctx, r.paths.wal(pos), data)
		if err == nil {
			r.walPos.Store(pos)
			r.noteWALKind(pos, walFence)
			return nil
		}
		if !errors.Is(err, objstore.ErrExists) {
			return wrapStoreErr(fmt.Errorf("writing WAL fence of region %d: %w", r.id, err))
		}
		e, rerr := r.readWAL(ctx, pos)
		if rerr != nil {
			return rerr
		}
		if e.epoch >= r.epoch {
			e.release()
			return fmt.Errorf("%w: region %d: WAL entry %d has epoch %d, ours is %d", ErrFenced, r.id, pos, e.epoch, r.epoch)
		}
		r.applyEntry(e)
		e.release()
	}
}

// Append adds a batch to the region and returns its sequence number. The
// batch is not visible until durable; WaitDurable waits for that. rec has
// the table schema (OpUpsert) or the key column alone (OpDelete) and was
// validated by the caller.
func (r *RegionWriter) Append(ctx context.Context, rec arrow.RecordBatch, op Op) (uint64, error) {
	if err := r.waitForRoom(ctx); err != nil {
		return 0, err
	}
	r.mu.Lock()
	if err := r.refuseLocked(); err != nil {
		r.mu.Unlock()
		return 0, err
	}
	// A batch is sequenced only while its stream is live: a client that
	// saw its stream cancelled and wrote again must not have the retry
	// overtaken by the cancelled stream's batch.
	if err := ctx.Err(); err != nil {
		r.mu.Unlock()
		return 0, fmt.Errorf("stream ended before its batch was sequenced: %w", err)
	}
	r.lastSeq++
	seq := r.lastSeq
	r.active.append(rec, seq, op)
	rec.Retain()
	size := int64(util.TotalRecordSize(rec))
	r.buffer = append(r.buffer, walItem{rec: rec, seq: seq, op: op, mt: r.active, bytes: size})
	r.bufferBytes += size
	full := r.bufferBytes >= r.opts.WALMaxBufferBytes
	r.maybeFreezeLocked()
	r.mu.Unlock()
	if full {
		r.Kick()
	}
	r.appends.Add(1)
	r.indexKick.kick()
	return seq, nil
}

// newMemTable makes a memtable with the table's search indexes.
func (r *RegionWriter) newMemTable(generation uint64) *MemTable {
	m := newMemTable(generation, r.schema, r.pkCol)
	m.idx = r.tidx.newMemIndexes()
	return m
}

// refuseLocked is why the region takes no write now, or nil. r.mu is held.
func (r *RegionWriter) refuseLocked() error {
	switch {
	case r.failure != nil:
		return r.failure
	case r.closed:
		return fmt.Errorf("%w: region %d", ErrClosed, r.id)
	case !r.writing:
		return fmt.Errorf("%w: region %d is open for reading only", errNotClaimed, r.id)
	case r.stall != nil:
		return r.stall
	}
	return nil
}

// Kick asks the WAL goroutine to write the buffer now (durable writes).
func (r *RegionWriter) Kick() { r.flushReq.kick() }

// WaitDurable blocks until batch seq is durable, the region fails, or ctx ends.
func (r *RegionWriter) WaitDurable(ctx context.Context, seq uint64) error {
	for {
		r.notifyMu.Lock()
		ch := r.notify
		r.notifyMu.Unlock()
		if r.durable.Load() >= seq {
			return nil
		}
		if err := r.failedOrStalled(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-r.done:
			// The WAL goroutine wrote its last entry: the watermark
			// will not move again.
			if r.durable.Load() >= seq {
				return nil
			}
			if err := r.failed(); err != nil {
				return err
			}
			return fmt.Errorf("%w: region %d closed before batch %d was durable", ErrClosed, r.id, seq)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (r *RegionWriter) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failure
}

// failedOrStalled is the failure, else the stall of a WAL put being
// retried, else nil.
func (r *RegionWriter) failedOrStalled() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure != nil {
		return r.failure
	}
	return r.stall
}

func (r *RegionWriter) wake() {
	r.notifyMu.Lock()
	close(r.notify)
	r.notify = make(chan struct{})
	r.notifyMu.Unlock()
}

// LastSeq is the newest sequence number handed out.
func (r *RegionWriter) LastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastSeq
}

// Durable is the durable (and visible) watermark.
func (r *RegionWriter) Durable() uint64 { return r.durable.Load() }

// walLoop is the region's WAL goroutine: it group-commits the buffer when
// kicked, every flush interval, and once more when closing.
//
// It is a two-stage pipeline: this goroutine encodes entries and a putter
// goroutine writes them in position order, so the next entry is encoded
// while the previous one is being written (on two cores, encoding and an
// fsync or network round trip overlap). At most one encoded entry waits.
func (r *RegionWriter) walLoop() {
	puts := make(chan walPut, 1)
	putterDone := make(chan struct{})
	go r.putLoop(puts, putterDone)
	defer func() {
		close(puts)
		<-putterDone
		close(r.done)
	}()
	nextPos := r.walPos.Load() + 1
	t := time.NewTicker(r.opts.WALFlushInterval)
	defer t.Stop()
	wrote := false // since the last tick
	for {
		select {
		case <-r.flushReq:
			wrote = r.encodeWAL(puts, &nextPos) || wrote
		case <-t.C:
			if !r.encodeWAL(puts, &nextPos) && !wrote {
				r.dropWALBufs() // a whole interval without a batch
			}
			wrote = false
		case <-r.closing:
			r.encodeWAL(puts, &nextPos)
			return
		}
	}
}

// dropWALBufs lets go of the pooled encode buffers once a whole flush
// interval passed without a batch to write: an idle region holds no WAL
// memory, where it held up to three entries' worth (about 37 MiB at the
// default wal.max_buffer_bytes, each buffer a quarter over size).
func (r *RegionWriter) dropWALBufs() {
	for {
		select {
		case <-r.walBufs:
		default:
			return
		}
	}
}

// walPut is an encoded WAL entry on its way to the store.
type walPut struct {
	pos, lastSeq uint64
	data         []byte
	mt           *MemTable // the memtable whose batches it holds
}

// encodeWAL takes the buffered batches and encodes them as WAL entries,
// one per memtable generation and at most about WALMaxBufferBytes each,
// at consecutive positions from *nextPos.
func (r *RegionWriter) encodeWAL(puts chan<- walPut, nextPos *uint64) (wrote bool) {
	r.mu.Lock()
	items := r.buffer
	r.buffer, r.bufferBytes = nil, 0
	failed := r.failure != nil
	r.mu.Unlock()
	defer func() {
		for _, it := range items {
			it.rec.Release()
		}
	}()
	if len(items) == 0 || failed {
		return false
	}
	for len(items) > 0 {
		// Bounding the entry bounds the in-memory copy and the latency
		// of the first waiter in it.
		n, size := 1, items[0].bytes
		for n < len(items) && items[n].mt == items[0].mt && size < r.opts.WALMaxBufferBytes {
			size += items[n].bytes
			n++
		}
		group := items[:n]
		last := group[n-1].seq
		var reuse []byte
		select {
		case reuse = <-r.walBufs:
		default:
		}
		data, err := encodeWALEntry(reuse, r.mem, r.schema, r.pkCol, r.epoch, *nextPos, last, group)
		if err != nil {
			r.fail(err)
			return
		}
		if r.failed() != nil {
			return // the putter failed: later entries must not be written
		}
		puts <- walPut{pos: *nextPos, lastSeq: last, data: data, mt: group[0].mt}
		*nextPos++
		for _, it := range group {
			it.rec.Release()
		}
		items = items[n:]
	}
	return true
}

// putLoop writes encoded entries in order and advances the durable
// watermark after each put returns (invariant 1). After a failure it
// writes nothing more: the batches of later entries are never
// acknowledged, and no entry follows a gap.
func (r *RegionWriter) putLoop(puts <-chan walPut, done chan<- struct{}) {
	defer close(done)
	for p := range puts {
		if r.failed() != nil {
			continue
		}
		err := r.putWALUntilDone(p.pos, p.data)
		select {
		case r.walBufs <- p.data[:0]: // stores do not retain what they were given
		default:
		}
		if err != nil {
			r.fail(err)
			continue
		}
		r.walPos.Store(p.pos)
		r.noteWALKind(p.pos, walData)
		p.mt.walPos.Store(p.pos)
		r.durable.Store(p.lastSeq)
		r.wake()
	}
}

// putWALUntilDone writes one entry, retrying every failure but a fence at
// the same position and epoch until it lands or the region closes: a full
// disk or an unreachable store stalls the region (new batches are refused
// with the cause, waiters get it) instead of reopening it, and writes
// resume by themselves once the put goes through.
func (r *RegionWriter) putWALUntilDone(pos uint64, data []byte) error {
	backoff := r.opts.Retry.Base
	for {
		err := r.putWAL(context.Background(), pos, data)
		if err == nil || errors.Is(err, ErrFenced) {
			r.setStall(nil)
			return err
		}
		r.setStall(fmt.Errorf("region %d: writing the WAL failed, retrying (batches already accepted may still become durable; a retry is safe): %w", r.id, err))
		select {
		case <-r.closing:
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.opts.Retry.Max)
	}
}

// setStall records (err) or clears (nil) a stalled WAL put and wakes waiters.
func (r *RegionWriter) setStall(err error) {
	r.mu.Lock()
	was := r.stall
	r.stall = err
	r.mu.Unlock()
	switch {
	case err != nil && was == nil:
		r.log.Warn("WAL put failing; retrying in place", "err", err)
	case err == nil && was != nil:
		r.log.Info("WAL put succeeded again; region takes writes")
	}
	if err != nil || was != nil {
		r.wake()
	}
}

// putWAL writes one entry with put-if-absent, retrying transient failures.
// An existing object at pos is ours if it holds the same bytes (a retry
// after an error that happened after the write); otherwise a newer writer
// fenced us.
func (r *RegionWriter) putWAL(ctx context.Context, pos uint64, data []byte) error {
	key := r.paths.wal(pos)
	err := objstore.Retry(ctx, r.opts.Retry, func(ctx context.Context) error {
		return r.store.PutIfAbsent(ctx, key, data)
	})
	if !errors.Is(err, objstore.ErrExists) {
		if err != nil {
			return wrapStoreErr(fmt.Errorf("writing WAL entry %s: %w", key, err))
		}
		return nil
	}
	existing, gerr := r.store.Get(ctx, key)
	if gerr != nil {
		return wrapStoreErr(fmt.Errorf("WAL entry %s exists and cannot be read: %w", key, gerr))
	}
	if bytes.Equal(existing, data) {
		return nil
	}
	e, derr := decodeWALEntry(r.mem, existing, r.schema, r.pkCol)
	if derr == nil {
		e.release()
		return fmt.Errorf("%w: region %d: WAL entry %d was written by epoch %d (ours %d)", ErrFenced, r.id, pos, e.epoch, r.epoch)
	}
	return fmt.Errorf("%w: region %d: WAL entry %d exists and is not ours", ErrFenced, r.id, pos)
}

// fail stops the region from taking writes; waiting writers get err. The
// batches in the buffer never become visible: the watermark stops below
// them.
func (r *RegionWriter) fail(err error) {
	r.mu.Lock()
	r.failLocked(err)
	r.mu.Unlock()
	r.wake()
}

// failLocked is fail with r.mu held; the caller wakes waiters.
func (r *RegionWriter) failLocked(err error) {
	if r.failure == nil {
		r.failure = err
		r.log.Error("region stopped taking writes", "err", err)
	}
	for _, it := range r.buffer {
		it.rec.Release()
	}
	r.buffer, r.bufferBytes = nil, 0
}

// Failure is the error that stopped the region, or nil.
func (r *RegionWriter) Failure() error { return r.failed() }

// maybeFreezeLocked freezes the active memtable once it reaches the size or
// row limit. r.mu is held.
func (r *RegionWriter) maybeFreezeLocked() {
	if r.active.Rows() >= r.opts.MemTableMaxRows || r.active.Bytes() >= r.opts.MemTableMaxBytes {
		r.freezeLocked()
	}
}

// freezeLocked makes the active memtable frozen and starts a new generation.
// r.mu is held. It returns the frozen memtable, or nil if the active one was
// empty.
func (r *RegionWriter) freezeLocked() *MemTable {
	if r.active == nil || r.active.Rows() == 0 { // nil: closed
		return nil
	}
	old := r.active
	r.frozen = append(r.frozen, old)
	r.active = r.newMemTable(old.generation + 1)
	r.publishState()
	r.flushKick.kick()
	return old
}

// Freeze freezes the active memtable now (the freeze action).
func (r *RegionWriter) Freeze() (frozen *MemTable, activeGeneration uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		return nil, 0 // closed
	}
	return r.freezeLocked(), r.active.generation
}

// publishState swaps in the read state for the current memtables. Callers
// hold r.mu (or own r exclusively while opening).
func (r *RegionWriter) publishState() {
	st := &readState{memtables: make([]*MemTable, 0, 1+len(r.frozen))}
	st.memtables = append(st.memtables, r.active)
	for i := len(r.frozen) - 1; i >= 0; i-- {
		st.memtables = append(st.memtables, r.frozen[i])
	}
	st.gens = r.gens
	r.stateMu.Lock()
	r.state = st
	r.stateMu.Unlock()
}

// unflushedBytes is the Arrow bytes held by the active and frozen memtables.
func (r *RegionWriter) unflushedBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		return 0 // closed
	}
	n := r.active.Bytes()
	for _, m := range r.frozen {
		n += m.Bytes()
	}
	return n
}

// waitForRoom applies backpressure: writes wait while the memtables hold
// more than the limit, until a flush makes room or ctx ends.
func (r *RegionWriter) waitForRoom(ctx context.Context) error {
	limit := r.opts.MaxUnflushedBytes
	if limit <= 0 || r.unflushedBytes() < limit {
		return nil
	}
	r.Freeze() // kicks the flush goroutine
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for r.unflushedBytes() >= limit {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: region %d holds %d unflushed bytes (limit %d): %v", ErrResourceExhausted, r.id, r.unflushedBytes(), limit, ctx.Err())
		case <-t.C:
		}
		// Kick again: a flush that failed transiently must not leave
		// writers waiting for one that is never retried.
		r.flushKick.kick()
		if err := r.failed(); err != nil {
			return err
		}
	}
	return nil
}

// Close writes what is buffered, stops the WAL goroutine and drops the
// memtables (snapshots still holding them keep them alive).
//
// Writes are refused from the start of Close, so the WAL goroutine's last
// flush covers every batch that was appended, and no waiter is left behind
// (WaitDurable also returns once the WAL goroutine has stopped).
//
// Close is idempotent: Table.region closes a failed region before reopening
// it, and calls it again on the next write if the reopen failed.
func (r *RegionWriter) Close() { r.closeOnce.Do(r.close) }

func (r *RegionWriter) close() {
	r.mu.Lock()
	r.closed = true
	writing := r.writing
	r.mu.Unlock()
	close(r.closing)
	if writing {
		<-r.done
		<-r.flushDone
	}
	<-r.indexDone // stops before the memtables it reads are released
	r.mu.Lock()
	if r.failure == nil {
		r.failure = fmt.Errorf("%w: region %d", ErrClosed, r.id)
	}
	r.mu.Unlock()
	r.wake()
	r.releaseMemtables()
}

func (r *RegionWriter) releaseMemtables() {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Snapshots taken from now on see the region as closed (nil state);
	// those taken before hold their own references.
	r.stateMu.Lock()
	r.state = nil
	r.stateMu.Unlock()
	if r.active != nil {
		r.active.unref()
	}
	for _, m := range r.frozen {
		m.unref()
	}
	r.active, r.frozen = nil, nil
	for _, g := range r.gens {
		g.unref()
	}
	r.gens = nil
}

// wrapStoreErr marks object-store failures that a retry may fix:
// unavailable (Unavailable) or out of space (ResourceExhausted).
func wrapStoreErr(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrResourceExhausted) {
		return err
	}
	if errors.Is(err, objstore.ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if errors.Is(err, objstore.ErrNoSpace) {
		return fmt.Errorf("%w: %w", ErrResourceExhausted, err)
	}
	if errors.Is(err, objstore.ErrReadOnly) {
		return fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	return err
}
