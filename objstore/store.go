// Package objstore owns flightwal's view of object storage: one small Store
// interface with a local-filesystem implementation, an S3 implementation
// (minio-go), an in-memory one for unit tests, and a fault-injecting wrapper.
//
// Keys are '/'-separated paths relative to the store's root ("t.lance/_versions/x").
// Every implementation offers an atomic PutIfAbsent: it is the only
// synchronisation primitive flightwal relies on (WAL entries, region
// manifests and Lance manifest commits all use it).
package objstore

import (
	"context"
	"errors"
	"sync"
	"time"
)

var (
	// ErrNotFound is returned by Get, GetRange, Stat and Delete for a missing key.
	ErrNotFound = errors.New("objstore: object not found")
	// ErrExists is returned by PutIfAbsent when the key already exists.
	ErrExists = errors.New("objstore: object already exists")
	// ErrUnavailable wraps transient failures (network, throttling, 5xx):
	// the caller may retry the same call safely.
	ErrUnavailable = errors.New("objstore: store unavailable")
	// ErrNoSpace wraps writes the store refused for want of space or quota
	// (ENOSPC, EDQUOT, EFBIG; S3's storage-full answers). Retrying the same
	// write succeeds once space is freed.
	ErrNoSpace = errors.New("objstore: no space left")
	// ErrReadOnly wraps writes refused because the storage is read-only or
	// the process may not write there (EROFS, EACCES, EPERM).
	ErrReadOnly = errors.New("objstore: storage is read-only")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string // full key relative to the store root
	Size    int64
	ModTime time.Time
}

// Store is the object-storage contract. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the whole object.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange returns length bytes starting at offset. A range past the end
	// is truncated to the object's end (like HTTP range reads).
	GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// Stat returns the object's size without reading it.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Put writes (or overwrites) the object atomically: readers see the old
	// object or the whole new one, never a prefix. Durable on return. Put
	// and PutIfAbsent do not retain data: the caller may reuse it after.
	Put(ctx context.Context, key string, data []byte) error
	// PutIfAbsent writes the object only if no object exists at key, atomically;
	// otherwise it returns an error wrapping ErrExists and changes nothing.
	// Durable on return.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object. Deleting a missing key returns ErrNotFound.
	Delete(ctx context.Context, key string) error
	// String names the store for messages ("file:///data", "s3://b/p").
	String() string
}

// DeleteAll deletes every object under prefix, those for which first
// reports true before the others (first may be nil), skipping objects
// already gone. It tries them all and returns how many it listed and the
// first error.
func DeleteAll(ctx context.Context, s Store, prefix string, first func(key string) bool) (int, error) {
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	// The first group is gone before the others are touched.
	var early, late []ObjectInfo
	for _, o := range objs {
		if first != nil && first(o.Key) {
			early = append(early, o)
		} else {
			late = append(late, o)
		}
	}
	var firstErr error
	for _, group := range [][]ObjectInfo{early, late} {
		err := Each(ctx, len(group), func(i int) error {
			if err := s.Delete(ctx, group[i].Key); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			return nil
		})
		if firstErr == nil {
			firstErr = err
		}
	}
	return len(objs), firstErr
}

// Parallelism bounds the object calls Each keeps in flight: enough to hide
// an object store's round trip (a delete of thousands of WAL entries takes
// seconds, not minutes), few enough not to be throttled.
const Parallelism = 16

// Each calls fn(0) ... fn(n-1), at most Parallelism at a time, and returns
// the first error after every call has returned. It stops starting calls
// once ctx is done.
func Each(ctx context.Context, n int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, Parallelism)
	)
	for i := 0; i < n; i++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			if first == nil {
				first = ctx.Err()
			}
			return first
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-slots; wg.Done() }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return first
}
