package fts

import "unsafe"

// docTable holds, for every position of a layer below the Index's
// published bound, the document's length (its number of indexed terms;
// zero for null, empty or all-stop-word text, and for positions never
// added) and prefix sums, so that statistics over a prefix of positions
// cost O(1). It follows the publish rules of term postings: slots is grown
// by copying into a new table (stored before the bound is published), and
// slots below the published bound are immutable.
type docTable struct {
	slots []docSlot // len == cap
}

type docSlot struct {
	len       uint32 // the document's length
	nzBefore  uint32 // documents of non-zero length at lower positions
	lenBefore uint64 // sum of the lengths at lower positions
}

const docSlotSize = int64(unsafe.Sizeof(docSlot{}))

// after returns the prefix sums over positions [0, i], i.e. the docSlot
// counters of position i+1.
func (s docSlot) after() (nz uint32, total uint64) {
	nz = s.nzBefore
	if s.len > 0 {
		nz++
	}
	return nz, s.lenBefore + uint64(s.len)
}

// prefix returns the number of non-empty documents and their total length
// over positions [0, m); m must not exceed the published bound.
func (d *docTable) prefix(m uint32) (docs int64, total int64) {
	if m == 0 {
		return 0, 0
	}
	nz, tl := d.slots[m-1].after()
	return int64(nz), int64(tl)
}

// length returns the length of the document at pos (below the bound).
func (d *docTable) length(pos uint32) uint32 { return d.slots[pos].len }
