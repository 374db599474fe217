package lance

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"github.com/flightwal/flightwal/objstore"
)

// DefaultFileCacheFiles is the capacity of the FileCache a Dataset makes
// for itself when its opener gives none.
const DefaultFileCacheFiles = 1024

// FileCache keeps the parsed metadata of recently read data files (footer,
// schema, column and page metadata: typically a few KiB per file) so
// that reads after the first skip the tail read of the file. Entries are
// keyed by the file's key and size and evicted least recently used first.
// It is safe for concurrent use.
//
// Whoever opens a Dataset owns its cache: OpenDataset and friends make a
// private one; OpenDatasetWith takes one the caller may share between the
// Datasets it opens from the same store (for example successive versions
// of one table); Commit hands its Dataset's cache to the new version. A
// cache holds no store: data files are immutable and uniquely named, so a
// (key, size) names the same bytes in every Dataset of the store.
type FileCache struct {
	max int

	mu  sync.Mutex
	lru *list.List // of *fileCacheEntry, most recent first
	m   map[fileCacheKey]*list.Element
}

type fileCacheKey struct {
	key  string
	size int64 // 0 when the manifest does not record it
}

type fileCacheEntry struct {
	k     fileCacheKey
	ready chan struct{} // closed when r or err is set
	r     *fileReader
	err   error
}

// NewFileCache returns a cache of at most maxFiles files' metadata
// (DefaultFileCacheFiles if maxFiles <= 0).
func NewFileCache(maxFiles int) *FileCache {
	if maxFiles <= 0 {
		maxFiles = DefaultFileCacheFiles
	}
	return &FileCache{max: maxFiles, lru: list.New(), m: make(map[fileCacheKey]*list.Element)}
}

// Len is the number of files cached (or being read).
func (c *FileCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// open returns the reader of the data file at key, reading its metadata
// from store only if the cache does not hold it. Concurrent opens of one
// file share a single read.
func (c *FileCache) open(ctx context.Context, store objstore.Store, key string, size int64) (*fileReader, error) {
	k := fileCacheKey{key, max(size, 0)}
	for {
		c.mu.Lock()
		if el, ok := c.m[k]; ok {
			c.lru.MoveToFront(el)
			e := el.Value.(*fileCacheEntry)
			c.mu.Unlock()
			select {
			case <-e.ready:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if e.err != nil && ctx.Err() == nil && isContextErr(e.err) {
				continue // the reader that loaded it was canceled, not us: retry
			}
			return e.r, e.err
		}
		e := &fileCacheEntry{k: k, ready: make(chan struct{})}
		c.m[k] = c.lru.PushFront(e)
		for c.lru.Len() > c.max {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.m, old.Value.(*fileCacheEntry).k)
		}
		c.mu.Unlock()

		e.r, e.err = openFileReader(ctx, store, key, size)
		close(e.ready)
		if e.err != nil {
			// Errors are not cached: the next open reads again.
			c.mu.Lock()
			if el, ok := c.m[k]; ok && el.Value.(*fileCacheEntry) == e {
				c.lru.Remove(el)
				delete(c.m, k)
			}
			c.mu.Unlock()
		}
		return e.r, e.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
