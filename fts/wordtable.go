package fts

import (
	"bytes"
	"hash/maphash"
)

// wordTable memoizes, for an Index's writer, the term each lower-cased
// word analyzes to (nil: the word is dropped), so that stemming and the
// dictionary lookup run once per distinct word rather than once per
// occurrence. It is an open-addressing hash table whose keys live in one
// byte arena: a lookup touches the slot (full hash first) and the arena,
// about half the cache misses of a map[string]*term, whose key bytes and
// entries are scattered. It is bounded: when full, it starts over.
// Writer-only; not safe for concurrent use.
type wordTable struct {
	seed  maphash.Seed
	slots []wordSlot // len is a power of two; hash 0 marks an empty slot
	arena []byte     // the keys, back to back
	n     int
	limit int
}

type wordSlot struct {
	hash     uint64
	off, len uint32 // the key: arena[off : off+len]
	t        *term
}

func newWordTable(limit int) wordTable {
	return wordTable{seed: maphash.MakeSeed(), slots: make([]wordSlot, 1024), limit: limit}
}

func (w *wordTable) hash(word []byte) uint64 {
	return maphash.Bytes(w.seed, word) | 1
}

// get returns the cached term of word, and whether word is cached.
func (w *wordTable) get(word []byte) (*term, bool) {
	h := w.hash(word)
	mask := uint64(len(w.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &w.slots[i]
		if s.hash == 0 {
			return nil, false
		}
		if s.hash == h && bytes.Equal(w.arena[s.off:s.off+s.len], word) {
			return s.t, true
		}
	}
}

// put caches t for word, which must not be cached.
func (w *wordTable) put(word []byte, t *term) {
	if w.n >= w.limit || len(w.arena)+len(word) > 1<<31 {
		clear(w.slots)
		w.arena, w.n = w.arena[:0], 0
	}
	if 4*(w.n+1) > 3*len(w.slots) {
		w.grow()
	}
	s := wordSlot{hash: w.hash(word), off: uint32(len(w.arena)), len: uint32(len(word)), t: t}
	w.arena = append(w.arena, word...)
	w.insert(s)
	w.n++
}

func (w *wordTable) insert(s wordSlot) {
	mask := uint64(len(w.slots) - 1)
	i := s.hash & mask
	for w.slots[i].hash != 0 {
		i = (i + 1) & mask
	}
	w.slots[i] = s
}

func (w *wordTable) grow() {
	old := w.slots
	w.slots = make([]wordSlot, 2*len(old))
	for _, s := range old {
		if s.hash != 0 {
			w.insert(s)
		}
	}
}
