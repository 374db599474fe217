package wal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

// ErrFenced: a newer writer claimed the region; this writer may no longer
// write its log.
var ErrFenced = errors.New("region writer fenced by a newer writer")

// Log is one region's write-ahead log in an object store: reading,
// fencing and truncating it. Writing goes through a Writer (NewWriter).
// A Log is safe for concurrent use.
type Log struct {
	store objstore.Store
	dir   string // the region's directory
	codec codec

	// kinds classifies the positions this process has seen, so truncation
	// keeps fences without reading every entry again.
	kindsMu sync.Mutex
	kinds   map[uint64]bool // position -> is a fence
}

// Open returns the log of the region under dir in store (rooted at the
// table), for a table of the given schema and primary-key column (-1:
// none). It reads nothing.
func Open(store objstore.Store, dir string, schema *arrow.Schema, pkCol int, mem memory.Allocator) *Log {
	return &Log{store: store, dir: dir, codec: codec{mem: mem, schema: schema, pkCol: pkCol}, kinds: map[uint64]bool{}}
}

// Key is the object key of the entry at pos.
func (l *Log) Key(pos uint64) string { return EntryKey(l.dir, pos) }

// Positions lists the positions of the log's entries, ascending.
func (l *Log) Positions(ctx context.Context) ([]uint64, error) {
	objs, err := l.store.List(ctx, prefix(l.dir))
	if err != nil {
		return nil, fmt.Errorf("listing WAL %s: %w", prefix(l.dir), err)
	}
	var positions []uint64
	for _, o := range objs {
		if pos, ok := ParseBitrevName(o.Key, ".arrow"); ok {
			positions = append(positions, pos)
		}
	}
	slices.Sort(positions)
	return positions, nil
}

// Read reads and decodes the entry at pos. A store failure is returned as
// it is (wrapped, naming the object); an entry that cannot be applied is a
// *CorruptionError.
func (l *Log) Read(ctx context.Context, pos uint64) (*Entry, error) {
	key := l.Key(pos)
	data, err := l.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading WAL entry %s: %w", key, err)
	}
	e, err := l.codec.decode(data, pos)
	if err != nil {
		return nil, l.corrupt(pos, err)
	}
	if e.Pos != pos {
		e.Release()
		return nil, l.corrupt(pos, fmt.Errorf("it says position %d", e.Pos))
	}
	l.note(pos, e.IsFence())
	return e, nil
}

func (l *Log) corrupt(pos uint64, err error) *CorruptionError {
	return &CorruptionError{Region: l.dir, Pos: pos, Key: l.Key(pos), Err: err}
}

// Replay applies, in order, the entries at the given ascending positions
// that lie above after: they must follow one another from after+1 without
// a gap. It returns the last position applied (after if none).
func (l *Log) Replay(ctx context.Context, positions []uint64, after uint64, apply func(*Entry)) (uint64, error) {
	last := after
	var todo []uint64
	var gap error // reported once the entries before it are applied
	for _, pos := range positions {
		if pos <= after {
			continue // flushed; left for truncation
		}
		if pos != last+1 {
			gap = l.corrupt(pos, fmt.Errorf("a gap: it follows position %d", last))
			break
		}
		todo = append(todo, pos)
		last = pos
	}
	// Reads run ahead of apply by up to objstore.Parallelism entries: a
	// restart reads thousands of entries, one round trip each.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type read struct {
		e   *Entry
		err error
	}
	ahead := make(chan chan read, objstore.Parallelism)
	go func() {
		defer close(ahead)
		for _, pos := range todo {
			done := make(chan read, 1)
			select {
			case ahead <- done:
			case <-ctx.Done():
				return
			}
			go func(pos uint64) {
				e, err := l.Read(ctx, pos)
				done <- read{e, err}
			}(pos)
		}
	}()
	last = after
	var failed error
	for done := range ahead {
		r := <-done
		switch {
		case failed != nil:
			if r.e != nil {
				r.e.Release() // read ahead past a failure
			}
		case r.err != nil:
			failed = r.err
			cancel()
		default:
			apply(r.e)
			r.e.Release()
			last++
		}
	}
	if failed == nil {
		failed = gap
	}
	return last, failed
}

// Fence writes an empty entry with epoch at the first free position after
// last, so that a fenced writer's next entry collides with it. Entries a
// previous writer put after the caller listed the log are applied first
// (that writer may have acknowledged them); an entry of an epoch at or
// above ours means we are fenced ourselves. lastSeq is recorded in the
// fence. It returns the fence's position.
func (l *Log) Fence(ctx context.Context, epoch, last, lastSeq uint64, apply func(*Entry)) (uint64, error) {
	for pos := last + 1; ; pos++ {
		data, err := l.codec.encode(nil, epoch, pos, lastSeq, nil)
		if err != nil {
			return 0, err
		}
		err = l.store.PutIfAbsent(ctx, l.Key(pos), data)
		if err == nil {
			l.note(pos, true)
			return pos, nil
		}
		if !errors.Is(err, objstore.ErrExists) {
			return 0, fmt.Errorf("writing WAL fence %s: %w", l.Key(pos), err)
		}
		e, rerr := l.Read(ctx, pos)
		if rerr != nil {
			return 0, rerr
		}
		if e.Epoch >= epoch {
			e.Release()
			return 0, fmt.Errorf("%w: WAL entry %s has epoch %d, ours is %d", ErrFenced, l.Key(pos), e.Epoch, epoch)
		}
		apply(e)
		lastSeq = max(lastSeq, e.LastSeq)
		e.Release()
	}
}

func (l *Log) note(pos uint64, fence bool) {
	l.kindsMu.Lock()
	l.kinds[pos] = fence
	l.kindsMu.Unlock()
}

// Encode is the entry the pipeline would write for items at pos: for
// tools and tests that put an entry by hand.
func (l *Log) Encode(epoch, pos, lastSeq uint64, items []Item) ([]byte, error) {
	return l.codec.encode(nil, epoch, pos, lastSeq, items)
}
