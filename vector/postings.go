package vector

import (
	"math/bits"
	"sync/atomic"
)

// A postingList holds the rows of one IVF partition: for entry i, its
// position and its PQ code. It is append-only and lets one writer append
// while any number of readers iterate, without locks:
//
//   - Storage is a fixed directory of chunks of geometrically growing
//     capacity (chunk c holds 64<<c entries). A chunk, once allocated, is
//     never moved, resized or freed, so appending never invalidates a slice
//     a reader holds.
//   - Entries [0, n) with n = the published length are immutable. The writer
//     fills entries at and above n (allocating and storing the chunk
//     pointer first if needed), then stores the new n. A reader loads n
//     first and reads only entries below it.
//
// Publish order (writer), and why reads are safe: (1) chunk pointer stored,
// (2) entry fields written, (3) n stored. The atomic store of n
// synchronizes with a reader's atomic load of n, so everything written in
// (1) and (2) before it is visible to a reader that observed it; entries
// at or above the n a reader observed are never read, so the writer's
// concurrent writes to them do not race.
type postingList struct {
	n      atomic.Uint32
	chunks [maxChunks]atomic.Pointer[chunk]
}

const (
	chunkShift = 6  // chunk 0 holds 64 entries
	maxChunks  = 27 // 64 * (2^27 - 1) entries >= 2^32 positions
)

// chunk is a block of entries: pos[i] and codes[i*m:(i+1)*m].
type chunk struct {
	pos   []uint32
	codes []byte
}

// chunkOf maps entry i to its chunk and the offset inside it.
func chunkOf(i uint32) (c, off int) {
	b := uint64(i) + 1<<chunkShift
	c = bits.Len64(b) - 1 - chunkShift
	return c, int(b - 1<<(c+chunkShift))
}

// put writes entry i (i >= the published length; the writer only).
// It returns the bytes newly allocated, if a chunk was.
func (l *postingList) put(i, pos uint32, code []byte) (allocated int) {
	c, off := chunkOf(i)
	ch := l.chunks[c].Load()
	if ch == nil {
		size := 1 << (c + chunkShift)
		ch = &chunk{pos: make([]uint32, size), codes: make([]byte, size*len(code))}
		l.chunks[c].Store(ch)
		allocated = size * (4 + len(code))
	}
	m := len(code)
	ch.pos[off] = pos
	copy(ch.codes[off*m:(off+1)*m], code)
	return allocated
}

// publish makes entries [0, n) visible to readers (the writer only).
func (l *postingList) publish(n uint32) { l.n.Store(n) }

// segments calls fn for the published entries in chunk order: parallel
// slices of positions and codes (m bytes per entry). fn returns false to
// stop early. Safe concurrently with the writer.
func (l *postingList) segments(m int, fn func(pos []uint32, codes []byte) bool) {
	n := int(l.n.Load())
	for c := 0; n > 0; c++ {
		ch := l.chunks[c].Load()
		k := min(n, len(ch.pos))
		if !fn(ch.pos[:k], ch.codes[:k*m]) {
			return
		}
		n -= k
	}
}
