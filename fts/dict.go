package fts

import (
	"hash/maphash"
	"sync"
)

// dict is an Index's term dictionary: a map from term text to *term,
// sharded to keep readers of different terms off one lock.
//
// Concurrency: only the writer inserts, under the shard's write lock;
// readers look up under the read lock. The writer's own lookups take no
// lock, because concurrent map reads do not conflict and no other
// goroutine writes. A term, once inserted, is never removed or replaced.
type dict struct {
	seed   maphash.Seed
	shards [dictShards]dictShard
}

const dictShards = 32

type dictShard struct {
	mu sync.RWMutex
	m  map[string]*term
	_  [40]byte // keep shards' locks on separate cache lines
}

func (d *dict) init() {
	d.seed = maphash.MakeSeed()
	for i := range d.shards {
		d.shards[i].m = make(map[string]*term)
	}
}

func (d *dict) shard(text string) *dictShard {
	return &d.shards[maphash.String(d.seed, text)%dictShards]
}

// lookup returns the term for text, or nil. Safe concurrently with the
// writer.
func (d *dict) lookup(text string) *term {
	s := d.shard(text)
	s.mu.RLock()
	t := s.m[text]
	s.mu.RUnlock()
	return t
}

// writerGet returns the term for text, inserting an empty one if needed,
// and whether it was inserted (the writer only).
func (d *dict) writerGet(text string) (t *term, inserted bool) {
	s := d.shard(text)
	if t := s.m[text]; t != nil {
		return t, false
	}
	t = newTerm(text)
	s.mu.Lock()
	s.m[text] = t
	s.mu.Unlock()
	return t, true
}

// terms returns every term (in no particular order). Safe concurrently
// with the writer; terms inserted meanwhile may be missing.
func (d *dict) terms() []*term {
	var ts []*term
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for _, t := range s.m {
			ts = append(ts, t)
		}
		s.mu.RUnlock()
	}
	return ts
}

// len returns the number of terms.
func (d *dict) len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
