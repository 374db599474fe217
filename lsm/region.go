package lsm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// RegionWriter is the single writer of one region: it sequences batches,
// appends them to the active memtable and hands them to the region's WAL
// pipeline (package wal), publishes the durable watermark the pipeline
// reports, freezes memtables and applies backpressure.
//
// Lock order (a lock may be taken while holding those before it, never
// the other way): Table.claimMu, Table.mu, flushMu, mu, then the wal
// Writer's own lock (Append holds mu while it adds to the pipeline),
// stateMu, notifyMu. The pipeline calls back (Durable, Stalled, Failed)
// holding none of its locks.
type RegionWriter struct {
	id     int
	ident  regionIdent
	paths  regionPaths
	store  objstore.Store // rooted at the table directory
	schema *arrow.Schema
	pkCol  int
	mem    memory.Allocator
	opts   *Options
	log    *slog.Logger

	// mu serialises writers: sequence numbers, memtable appends, the WAL
	// buffer, freezes and the failure state.
	mu       sync.Mutex
	epoch    uint64
	manifest *tablepb.RegionManifest // newest committed
	active   *MemTable
	frozen   []*MemTable // oldest first
	lastSeq  uint64
	failure  error // once set the region takes no writes
	closed   bool  // Close began: no new writes, but the buffer is still written
	// wal is the region's WAL pipeline once this process claimed the
	// region (invariant 4); nil while it is open for reading only (it
	// replays the WAL without writing anything; Table.region claims it on
	// first write).
	wal *wal.Writer
	// stall is the error of a WAL put that is being retried (the disk is
	// full, the store unreachable): new batches are refused with it until
	// the put succeeds, and waiters for batches not yet durable get it.
	// The region keeps its epoch: nothing is reopened.
	stall error

	// walLog is the region's log in the store: replay, fences, truncation.
	walLog *wal.Log
	// walPos is the last WAL position written or replayed. Replay and the
	// pipeline's Durable reports write it; stats read it.
	walPos atomic.Uint64

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

	closeOnce sync.Once
	closing   chan struct{}

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
func openRegion(ctx context.Context, store objstore.Store, ident regionIdent, schema *arrow.Schema, pkCol int, opts *Options, mergedUpTo uint64, onFlush func(), tidx *tableIndexes, write bool) (*RegionWriter, error) {
	id, dir := ident.index, ident.dir
	r := &RegionWriter{
		id: id, ident: ident, paths: regionPaths{dir: dir}, store: store,
		schema: schema, pkCol: pkCol, mem: opts.Allocator, opts: opts,
		log:       opts.Logger.With("region", id),
		onFlush:   onFlush,
		notify:    make(chan struct{}),
		closing:   make(chan struct{}),
		walLog:    wal.Open(store, dir, schema, pkCol, opts.Allocator),
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
	// current_generation is the generation the active memtable becomes
	// (Lance's meaning; 1 in a new region, 0 in one never claimed).
	gen := max(r.manifest.CurrentGeneration, 1)
	for _, g := range r.manifest.FlushedGenerations {
		gen = max(gen, g.Generation+1)
	}
	for i := len(r.manifest.FlushedGenerations) - 1; i >= 0; i-- {
		fg := r.manifest.FlushedGenerations[i]
		if fg.Generation <= mergedUpTo {
			continue
		}
		r.gens = append(r.gens, newGeneration(store, r.paths.dir, fg.Path, fg.Generation, schema, pkCol, r.mem))
	}
	r.active = r.newMemTable(gen)
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

// startWritingLocked starts the WAL pipeline (after the fence, at the next
// position) and the flush goroutine of a claimed region. r.mu is held.
func (r *RegionWriter) startWritingLocked() {
	r.wal = r.walLog.NewWriter(r.epoch, r.walPos.Load()+1, (*walOwner)(r), wal.Config{
		FlushInterval:  r.opts.WALFlushInterval,
		MaxBufferBytes: r.opts.WALMaxBufferBytes,
		Retry:          r.opts.Retry,
		OnPut:          r.opts.metrics.walPut,
	})
	go background(r.closing, r.flushKick, r.flushDone, r.flushFrozen)
	if len(r.frozen) > 0 {
		r.flushKick.kick() // replay froze memtables: flush them
	}
}

// Writing reports whether this process claimed the region.
func (r *RegionWriter) Writing() bool { return r.walWriter() != nil }

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
	next, err := r.commitClaim(ctx, cur)
	if err != nil {
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
		next, err := r.commitClaim(ctx, cur)
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

// commitClaim writes the manifest above cur with the next epoch
// (put-if-absent: ErrFenced if another writer wrote that version first).
func (r *RegionWriter) commitClaim(ctx context.Context, cur *tablepb.RegionManifest) (*tablepb.RegionManifest, error) {
	next := proto.Clone(cur).(*tablepb.RegionManifest)
	next.Version++
	next.WriterEpoch++
	if cur.Version == 0 {
		// A new region, as Lance's shard writer creates one.
		next.CurrentGeneration = 1
		next.RegionSpecId = r.ident.specID
		if r.ident.uuid != nil {
			next.RegionId = &tablepb.UUID{Uuid: r.ident.uuid}
		}
	}
	return next, commitRegionManifest(ctx, r.store, r.opts.Retry, r.paths, next)
}

// replay applies every WAL entry after the replay position, in order.
func (r *RegionWriter) replay(ctx context.Context) error {
	positions, err := r.walLog.Positions(ctx)
	if err != nil {
		return wrapStoreErr(err)
	}
	after := r.manifest.ReplayAfterWalEntryPosition
	r.walPos.Store(after)
	if slices.Contains(positions, after) {
		// The entry at the replay position is kept so that its last
		// sequence number survives truncation.
		e, err := r.walLog.Read(ctx, after)
		if err != nil {
			return walError(err)
		}
		r.lastSeq = max(r.lastSeq, e.LastSeq)
		e.Release()
	}
	if _, err := r.walLog.Replay(ctx, positions, after, r.applyEntry); err != nil {
		return walError(err)
	}
	if n := r.walPos.Load() - after; n > 0 {
		r.log.Info("replayed WAL", "entries", n, "last_seq", r.lastSeq, "rows", r.active.Rows())
	}
	return nil
}

// replayFrom applies the entries after position after that were put since
// the region was opened for reading (claimInPlace). r.mu is held.
func (r *RegionWriter) replayFrom(ctx context.Context, after uint64) error {
	positions, err := r.walLog.Positions(ctx)
	if err != nil {
		return wrapStoreErr(err)
	}
	_, err = r.walLog.Replay(ctx, positions, after, r.applyEntry)
	return walError(err)
}

// walError is err as lsm reports it: a corrupt entry is data loss (naming
// it), a fence is ErrFenced, a store failure may be retried.
func walError(err error) error {
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", ErrDataLoss, err)
	}
	return wrapStoreErr(err)
}

// applyEntry puts a durable entry's batches into the memtable, exactly as
// live writes do. A freeze happens only after a whole entry, so every
// replayed memtable ends at an entry boundary and its walPos covers all of
// its batches (a flush sets the replay position from it).
//
// A foreign entry (LanceDB's shard writer put it) carries no sequence
// numbers: its batches are numbered here, after everything before them,
// and e.LastSeq is set to the last (a fence's record of it reads that).
func (r *RegionWriter) applyEntry(e *wal.Entry) {
	for i := range e.Batches {
		b := &e.Batches[i]
		if e.Foreign {
			b.Seq = r.lastSeq + 1
		}
		if b.Seq <= r.lastSeq {
			continue // already applied (never expected: positions are unique)
		}
		r.active.append(b.Rec, b.Seq, b.Op)
		r.lastSeq = b.Seq
	}
	if e.Foreign {
		e.LastSeq = r.lastSeq
	}
	r.lastSeq = max(r.lastSeq, e.LastSeq)
	r.active.walPos.Store(e.Pos)
	r.walPos.Store(e.Pos)
	r.maybeFreezeLocked()
}

// writeFence writes an empty entry with our epoch at the next WAL position
// (wal.Log.Fence): a fenced writer's next entry collides with it. Entries
// that a previous writer put after we listed the WAL are applied first.
func (r *RegionWriter) writeFence(ctx context.Context) error {
	pos, err := r.walLog.Fence(ctx, r.epoch, r.walPos.Load(), r.lastSeq, r.applyEntry)
	if err != nil {
		return fmt.Errorf("region %d: %w", r.id, walError(err))
	}
	r.walPos.Store(pos)
	return nil
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
	full := r.wal.Add(wal.Item{Rec: rec, Seq: seq, Op: op, Group: r.active, Bytes: int64(util.TotalRecordSize(rec))})
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
	case r.wal == nil:
		return fmt.Errorf("%w: region %d is open for reading only", errNotClaimed, r.id)
	case r.stall != nil:
		return r.stall
	}
	return nil
}

// Kick asks the WAL pipeline to write its buffer now (durable writes).
func (r *RegionWriter) Kick() {
	if w := r.walWriter(); w != nil {
		w.Kick()
	}
}

// walWriter is the WAL pipeline, or nil while the region is not claimed.
func (r *RegionWriter) walWriter() *wal.Writer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wal
}

// walDone is closed once the WAL pipeline stopped (the durable watermark
// will not move again); never, while the region is not claimed.
func (r *RegionWriter) walDone() <-chan struct{} {
	if w := r.walWriter(); w != nil {
		return w.Done()
	}
	return nil
}

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
		case <-r.walDone():
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

// walOwner is the RegionWriter as the owner of its WAL pipeline: the
// pipeline reports through these methods, from its own goroutines.
type walOwner RegionWriter

// Durable: every batch up to lastSeq is in the store (invariant 1), so it
// becomes visible and its waiters are released.
func (o *walOwner) Durable(pos, lastSeq uint64, group any) {
	r := (*RegionWriter)(o)
	r.walPos.Store(pos)
	group.(*MemTable).walPos.Store(pos)
	r.durable.Store(lastSeq)
	r.wake()
}

// Stalled: a WAL put is failing and being retried in place (the disk is
// full, the store unreachable), or went through again (nil). Meanwhile
// new batches are refused with the cause and waiters get it; the region
// keeps its epoch: nothing is reopened.
func (o *walOwner) Stalled(err error) {
	r := (*RegionWriter)(o)
	if err != nil {
		err = fmt.Errorf("region %d: writing the WAL failed, retrying (batches already accepted may still become durable; a retry is safe): %w", r.id, wrapStoreErr(err))
	}
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

// Failed: the pipeline stopped (fenced, or closed while a put failed).
func (o *walOwner) Failed(err error) {
	r := (*RegionWriter)(o)
	r.fail(fmt.Errorf("region %d: %w", r.id, wrapStoreErr(err)))
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

// failLocked is fail with r.mu held; the caller wakes waiters. Batches
// the WAL pipeline still holds never become visible: the pipeline writes
// nothing after a failure (a fence), or was closing.
func (r *RegionWriter) failLocked(err error) {
	if r.failure == nil {
		r.failure = err
		r.log.Error("region stopped taking writes", "err", err)
		if errors.Is(err, ErrFenced) {
			r.opts.metrics.fencedWriter()
		}
	}
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
	old.stage.advance(StageOpen, StageFrozen)
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
	r.opts.metrics.waited()
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
	w := r.wal
	r.mu.Unlock()
	close(r.closing)
	if w != nil {
		w.Close() // writes what is buffered
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
