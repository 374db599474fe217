package wal

import (
	"context"
	"errors"
	"sort"

	"github.com/flightwal/flightwal/objstore"
)

// Truncate deletes the data entries before position before (the owner
// flushed what they hold; the entry at before itself is kept, so its last
// sequence number survives restarts). Best effort: an entry left behind
// is skipped by replay. It returns the first error, after trying every
// entry; objstore.Parallelism entries at a time, since a restart after a
// long outage leaves thousands to read and delete.
//
// Fences are never deleted. A fenced writer's next entry goes to the
// position right after its last one, and that position holds the fence
// that fenced it (a newer writer's first entry is always its fence, put
// right after the last entry it listed, or colliding with the old
// writer's put). Deleting the fence would let the fenced writer's put
// succeed, and it would acknowledge a batch that no replay reads. Fences
// are one per claim and a few hundred bytes each.
func (l *Log) Truncate(ctx context.Context, before uint64) error {
	positions, err := l.Positions(ctx)
	if err != nil {
		return err
	}
	n := sort.Search(len(positions), func(i int) bool { return positions[i] >= before })
	return objstore.Each(ctx, n, func(i int) error {
		pos := positions[i]
		fence, known := l.kind(ctx, pos)
		if !known || fence {
			return nil // a fence, or unreadable now: keep it
		}
		if err := l.store.Delete(ctx, l.Key(pos)); err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return err
		}
		l.kindsMu.Lock()
		delete(l.kinds, pos)
		l.kindsMu.Unlock()
		return nil
	})
}

// kind says whether the entry at pos is a fence, reading it if this
// process has not seen it (entries flushed before the last restart): its
// checksum and its schema message's batch list, not its batches.
func (l *Log) kind(ctx context.Context, pos uint64) (fence, known bool) {
	l.kindsMu.Lock()
	fence, known = l.kinds[pos]
	l.kindsMu.Unlock()
	if known {
		return fence, true
	}
	data, err := l.store.Get(ctx, l.Key(pos))
	if err != nil {
		return false, false
	}
	fence, err = l.codec.isFence(data)
	if err != nil {
		return false, false
	}
	l.note(pos, fence)
	return fence, true
}
