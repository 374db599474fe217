package fts

import (
	"sort"
	"sync/atomic"
	"unsafe"
)

// A term is one entry of an Index's dictionary: the term's text and its
// postings, one per document holding it, in increasing document order,
// each locating the term's token positions in that document within a
// per-term positions array (their count is the term frequency).
//
// Postings are append-only and let one writer append while any number of
// readers iterate, without locks:
//
//   - data points to two arrays, post and pos, whose length is their
//     capacity. Entries [0, n) of post, with n the published count, and
//     the positions they reference are immutable.
//   - The writer fills entries at and above n (and positions beyond those
//     referenced by them). When an array is full it allocates a larger one,
//     copies the old content, and stores a new data pointer; old arrays
//     are never written again, and readers that hold them keep valid data.
//
// The writer keeps its own copies of the current arrays (wPos, wPost).
//
// Publish order (writer), and why reads are safe: (1) positions written,
// growing pos if needed; (2) the posting entry written, growing post if
// needed; every grow stores data before (3); (3) n stored. A reader loads n
// first, then data: the atomic store of n synchronizes with the load, so
// the reader sees a data at least as new as the one current at (3), whose
// arrays hold every entry below n and the positions they reference. It
// never reads entries at or above its n, the only ones the writer is still
// writing.
type term struct {
	// Writer-only state (readers never touch it), first, to share a
	// cache line: the posting being built for the document being added,
	// and the writer's copies of data's arrays (saving a pointer chase
	// per token).
	wDoc  uint32    // its document + 1, or 0 when none
	wOff  uint32    // offset of its first position (the previous posting's end)
	wNPos uint32    // positions written so far, published or not
	wPos  []uint32  // == data.Load().pos
	wPost []posting // == data.Load().post

	n    atomic.Uint32
	data atomic.Pointer[termData]
	text string
}

// termData holds a term's arrays; see term.
type termData struct {
	post []posting
	pos  []uint32
}

// posting is one document holding a term: the document's position in the
// layer, and the end of its token positions in the term's positions array.
// They start where the previous posting's end (0 for the first), so the
// positions of posting i are pos[span(post, i)], increasing, and the term
// frequency is their count.
type posting struct {
	doc, end uint32
}

// span returns the bounds of posting i's positions in the term's
// positions array.
func span(post []posting, i int) (start, end uint32) {
	if i > 0 {
		start = post[i-1].end
	}
	return start, post[i].end
}

const (
	postingSize = int64(unsafe.Sizeof(posting{}))
	// termOverhead is a term's memory besides its text and arrays: the
	// structs and its dictionary slot (key header and value pointer).
	termOverhead = int64(unsafe.Sizeof(term{})+unsafe.Sizeof(termData{})) + 24
	minPostCap   = 2
	minPosCap    = 4
)

func newTerm(text string) *term {
	t := &term{text: text}
	t.data.Store(&termData{})
	return t
}

// addPos appends position p of the term in document doc (the writer only;
// documents are added in increasing order, positions increase within
// one). It reports whether this starts the term's posting for doc and
// returns the growth in bytes held.
func (t *term) addPos(doc, p uint32) (first bool, allocated int64) {
	if t.wDoc != doc+1 {
		t.wDoc, t.wOff, first = doc+1, t.wNPos, true
	}
	if int(t.wNPos) == len(t.wPos) {
		grown := make([]uint32, growCap(len(t.wPos), minPosCap))
		copy(grown, t.wPos)
		allocated = int64(4 * (len(grown) - len(t.wPos)))
		t.wPos = grown
		t.data.Store(&termData{post: t.wPost, pos: grown})
	}
	t.wPos[t.wNPos] = p
	t.wNPos++
	return first, allocated
}

// abort forgets the positions written for the document being added (the
// writer only; nothing of it was published).
func (t *term) abort() {
	t.wNPos, t.wDoc = t.wOff, 0
}

// finish appends and publishes the posting of the document being added
// (the writer only), returning the growth in bytes held.
func (t *term) finish() (allocated int64) {
	n := t.n.Load()
	if int(n) == len(t.wPost) {
		grown := make([]posting, growCap(len(t.wPost), minPostCap))
		copy(grown, t.wPost)
		allocated = postingSize * int64(len(grown)-len(t.wPost))
		t.wPost = grown
		t.data.Store(&termData{post: grown, pos: t.wPos})
	}
	t.wPost[n] = posting{doc: t.wDoc - 1, end: t.wNPos}
	t.wDoc = 0
	t.n.Store(n + 1)
	return allocated
}

// growCap returns the capacity replacing a full array of capacity c:
// doubling while small, then growing by half, which bounds the unused
// tail of the large arrays (most of an index's memory) to a third.
func growCap(c, least int) int {
	if c < 1024 {
		return max(least, 2*c)
	}
	return c + c/2
}

// view returns the published postings of t for documents below bound, and
// the positions array they reference. Safe concurrently with the writer.
func (t *term) view(bound uint32) (post []posting, pos []uint32) {
	n := t.n.Load()
	if n == 0 {
		return nil, nil
	}
	d := t.data.Load()
	post = d.post[:n]
	if post[n-1].doc >= bound {
		post = post[:sort.Search(int(n), func(i int) bool { return post[i].doc >= bound })]
	}
	return post, d.pos
}
