package lsm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/objstore"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// FlushedGeneration reports one generation written by a flush.
type FlushedGeneration struct {
	Region     int
	Generation uint64
	Path       string
	Rows       int64
}

// flushOldest writes the oldest frozen memtable as a flushed generation and
// records it in the region manifest. ok is false when nothing was frozen.
//
// Invariant 5 (no visibility gap): the memtable stays in the read state
// until the manifest commit returned; the same state swap that removes it
// adds the generation. A crash before the commit leaves an orphan dataset
// that no manifest names: restart ignores it and replays the WAL.
func (r *RegionWriter) flushOldest(ctx context.Context) (fg FlushedGeneration, ok bool, err error) {
	start := time.Now()
	defer func() {
		if ok && err == nil {
			r.opts.metrics.flushed(time.Since(start))
		}
	}()
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if r.failure != nil {
		err := r.failure
		r.mu.Unlock()
		return fg, false, err
	}
	if len(r.frozen) == 0 {
		r.mu.Unlock()
		return fg, false, nil
	}
	m := r.frozen[0]
	r.mu.Unlock()

	// Only durable rows may reach a generation (it becomes visible to every
	// reader at once), and replay_after must cover the memtable's last entry.
	if err := r.WaitDurable(ctx, m.lastSeq); err != nil {
		return fg, false, err
	}
	rel := fmt.Sprintf("%s_gen_%d", randomHex(4), m.generation) // Lance: 8 hex characters
	root := path.Join(r.paths.dir, rel)
	rows, pkBytes, err := writeGeneration(ctx, r.store, r.mem, root, m, r.tidx.t.dataStorageVersion())
	if err != nil {
		// A failed flush leaves nothing behind: retries (after a full
		// disk, say) need no more space than the generation they write.
		r.removeObjects(ctx, root+"/")
		return fg, false, wrapStoreErr(err)
	}
	gen := newGeneration(r.store, r.paths.dir, rel, m.generation, r.schema, r.pkCol, r.mem)

	r.mu.Lock()
	next := proto.Clone(r.manifest).(*tablepb.RegionManifest)
	activeGen := r.active.generation
	r.mu.Unlock()
	next.Version++
	fgen := &tablepb.FlushedGeneration{Generation: m.generation, Path: rel,
		InMemoryBytes: proto.Uint64(uint64(m.Bytes())), PhysicalRows: proto.Uint64(uint64(rows))}
	if r.pkCol >= 0 {
		fgen.PrimaryKeyBytes = proto.Uint64(uint64(pkBytes))
	}
	next.FlushedGenerations = append(next.FlushedGenerations, fgen)
	next.ReplayAfterWalEntryPosition = m.walPos.Load()
	next.WalEntryPositionLastSeen = r.walPos.Load()
	next.CurrentGeneration = activeGen
	if landed, err := r.commitManifest(ctx, next); err != nil {
		if !landed {
			r.removeObjects(ctx, root+"/")
		}
		return fg, false, err
	}

	r.mu.Lock()
	r.manifest = next
	m.stage.advance(StageFrozen, StageFlushed)
	r.frozen = r.frozen[1:]
	r.gens = append([]*Generation{gen}, r.gens...)
	r.publishState()
	r.mu.Unlock()
	m.unref()
	r.log.Debug("flushed generation", "generation", m.generation, "rows", rows, "replay_after", next.ReplayAfterWalEntryPosition)
	r.collectWAL(ctx, next.ReplayAfterWalEntryPosition)
	if r.onFlush != nil {
		r.onFlush()
	}
	return FlushedGeneration{Region: r.id, Generation: m.generation, Path: rel, Rows: rows}, true, nil
}

// commitManifest commits the next region manifest. A fence fails the
// region for good. An error that leaves the region as it was (the
// manifest is known not to have landed: landed is false, and what it names
// may be removed) lets the job be retried. When the store cannot say
// whether the write landed, or a version of our own epoch that is not
// next is found (an earlier attempt whose outcome was lost), the region's
// state in memory no longer matches the store: the region fails, not
// fenced, and the table reopens it from what is stored.
func (r *RegionWriter) commitManifest(ctx context.Context, next *tablepb.RegionManifest) (landed bool, err error) {
	err = commitRegionManifest(ctx, r.store, r.opts.Retry, r.paths, next)
	if err == nil {
		return true, nil
	}
	got, rerr := readRegionManifest(ctx, r.store, r.paths, next.Version)
	switch {
	case rerr == nil && proto.Equal(got, next):
		return true, nil
	case rerr == nil && got.WriterEpoch == next.WriterEpoch:
		err = fmt.Errorf("region manifest version %d holds an earlier attempt of ours whose outcome was lost: the region reopens", next.Version)
	case rerr == nil:
		err = fmt.Errorf("%w: region manifest version %d was written by epoch %d (ours %d)", ErrFenced, next.Version, got.WriterEpoch, next.WriterEpoch)
	case errors.Is(rerr, objstore.ErrNotFound) && !errors.Is(err, ErrFenced):
		return false, wrapStoreErr(err)
	default:
		err = fmt.Errorf("region manifest version %d: whether it was written is unknown (%v; reading it back: %v): the region reopens", next.Version, wrapStoreErr(err), rerr)
	}
	r.fail(err)
	return true, err
}

// removeObjects deletes every object under prefix, best effort.
func (r *RegionWriter) removeObjects(ctx context.Context, prefix string) {
	if _, err := objstore.DeleteAll(ctx, r.store, prefix, nil); err != nil {
		r.log.Warn("removing a failed flush's files", "prefix", prefix, "err", err)
	}
}

// collectWAL truncates the WAL before the replay position (wal.Log.
// Truncate: fences stay). Best effort: a leftover entry is skipped by
// replay.
func (r *RegionWriter) collectWAL(ctx context.Context, replayAfter uint64) {
	if err := r.walLog.Truncate(ctx, replayAfter); err != nil {
		r.log.Warn("truncating the WAL", "before", replayAfter, "err", err)
	}
}

// flushAll freezes the active memtable and flushes every frozen one.
func (r *RegionWriter) flushAll(ctx context.Context) ([]FlushedGeneration, error) {
	r.Freeze()
	var out []FlushedGeneration
	for {
		fg, ok, err := r.flushOldest(ctx)
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, fg)
	}
}

// flushFrozen flushes frozen memtables until none is left (the body of
// the background flush goroutine, kicked after a freeze or by backpressure).
//
// A failure (the store unreachable, the disk full) is retried with backoff
// until the region closes: frozen memtables hold writers back
// (backpressure), so giving up would stall them. A fenced or closed
// region ends the loop.
func (r *RegionWriter) flushFrozen() {
	backoff := r.opts.Retry.Base
	for {
		_, ok, err := r.flushOldest(context.Background())
		switch {
		case err == nil && !ok:
			return
		case err == nil:
			backoff = r.opts.Retry.Base
			continue
		case errors.Is(err, ErrFenced), errors.Is(err, ErrClosed), r.failed() != nil:
			r.log.Error("background flush failed", "err", err)
			return
		}
		r.log.Warn("background flush failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-r.closing:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.opts.Retry.Max)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
