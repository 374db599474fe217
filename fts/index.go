package fts

import (
	"math"
	"sync"
	"sync/atomic"
)

// Index is the inverted index of one layer (a memtable, a flushed
// generation): for each term, the positions of the documents holding it,
// with term frequencies and token positions; and each document's length.
// Documents are identified by their row position in the layer.
//
// An Index grows by Add while readers call Search, TermStats, DocStats,
// DocFreqs and MarshalBinary: one writer at a time (Add serializes
// itself), any number of concurrent readers, which never block the writer
// for longer than a dictionary insert. Every read takes a bound maxPos and
// sees exactly the documents at positions below min(maxPos, Len()), as
// they were when added.
//
// Create an Index with NewIndex or UnmarshalIndex; the zero value is only
// a valid target for UnmarshalBinary.
//
// Publish order: Add writes the document's length into the doc table, then
// appends and publishes each term's posting (postings.go), then stores the
// bound Len = pos+1. Readers load the bound first; everything a reader
// then looks at for positions below it was published before the bound.
type Index struct {
	cfg   TokenizerConfig // normalized
	bound atomic.Uint32   // positions below it are fully indexed
	docs  atomic.Pointer[docTable]
	dict  dict
	bytes atomic.Int64 // approximate heap bytes held

	mu sync.Mutex // serializes writers
	w  writer     // guarded by mu
}

// writer is the state of the Index's single writer.
type writer struct {
	an        analyzer
	words     wordTable // lower-cased word → term; nil: dropped
	touched   []*term   // terms of the document being added
	positions uint64    // positions ever stored, over all terms
}

// maxPositions bounds the token positions one Index stores (all terms
// together), so that per-term offsets fit in uint32. Add checks it before
// storing each position.
const maxPositions = math.MaxUint32

// NewIndex returns an empty Index that analyzes text with cfg.
func NewIndex(cfg TokenizerConfig) *Index {
	ix := &Index{}
	ix.init(cfg)
	return ix
}

func (ix *Index) init(cfg TokenizerConfig) {
	ix.cfg = cfg.normalized()
	ix.dict.init()
	ix.docs.Store(&docTable{})
	ix.w = writer{an: analyzer{cfg: ix.cfg}, words: newWordTable(termCacheLimit)}
}

// Config returns the tokenizer configuration of ix (normalized:
// MaxTokenLen resolved). Queries for ix must be parsed with it.
func (ix *Index) Config() TokenizerConfig { return ix.cfg }

// Len returns the bound of the positions indexed so far: every position
// below it has been added (or skipped) and is visible to readers.
func (ix *Index) Len() uint32 { return ix.bound.Load() }

// NumTerms returns the number of distinct terms in ix.
func (ix *Index) NumTerms() int { return ix.dict.len() }

// MemBytes returns an estimate of the heap memory ix holds, for memtable
// sizing: the arrays in use (including their spare capacity) and per-term
// overhead. Arrays replaced by larger ones are not counted (they are
// garbage once no reader holds them), nor is the writer's bounded word
// cache (a few MiB at most).
func (ix *Index) MemBytes() int64 { return ix.bytes.Load() }

// Add indexes text as the document at row position pos. Positions must be
// added in increasing order: pos must be at least Len(), and below
// math.MaxUint32; skipped positions count as documents with no text. Null
// or empty text is allowed (a document of length 0, which no query
// matches and statistics do not count). Memory grows with the largest
// position, so positions should be dense.
//
// On error the document is not indexed and readers see no change. Add is safe
// concurrently with readers and with other Add calls (which it
// serializes).
func (ix *Index) Add(pos uint32, text string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	w := &ix.w
	bound := ix.bound.Load()
	if pos < bound || pos == math.MaxUint32 {
		return invalidf("position %d: want a position in [%d, %d)", pos, bound, uint32(math.MaxUint32))
	}
	var allocated int64
	// (1) Token positions of each term, unpublished.
	w.touched = w.touched[:0]
	dl := uint64(0)
	full := false
	it := &w.an.it
	it.reset(text)
	for p := uint32(0); it.next(); p = satInc(p) {
		t, ok := w.words.get(it.word)
		if !ok {
			if s, keep := w.an.term(it.word, it.runes); keep {
				var inserted bool
				if t, inserted = ix.dict.writerGet(s); inserted {
					allocated += termOverhead + int64(len(s))
				}
			}
			w.words.put(it.word, t)
		}
		if t == nil {
			continue
		}
		if w.positions+dl >= maxPositions {
			full = true
			break
		}
		first, a := t.addPos(pos, p)
		if first {
			w.touched = append(w.touched, t)
		}
		allocated += a
		dl++
	}
	if full {
		for _, t := range w.touched {
			t.abort()
		}
		ix.bytes.Add(allocated)
		return invalidf("index full: more than %d token positions", uint64(maxPositions))
	}
	w.positions += dl
	// (2) The document's length and prefix sums.
	allocated += ix.setDoc(bound, pos, uint32(dl))
	// (3) Postings, each published.
	for _, t := range w.touched {
		allocated += t.finish()
	}
	// (4) The bound.
	ix.bytes.Add(allocated)
	ix.bound.Store(pos + 1)
	return nil
}

// setDoc writes the slots of positions [bound, pos], all empty but pos,
// of length dl (the writer only), and returns the bytes allocated.
func (ix *Index) setDoc(bound, pos, dl uint32) (allocated int64) {
	d := ix.docs.Load()
	if int(pos) >= len(d.slots) {
		grown := make([]docSlot, max(64, 2*len(d.slots), int(pos)+1))
		copy(grown, d.slots[:bound])
		allocated = docSlotSize * int64(len(grown)-len(d.slots))
		d = &docTable{slots: grown}
		ix.docs.Store(d)
	}
	var prev docSlot
	if bound > 0 {
		prev = d.slots[bound-1]
	}
	for i := bound; i <= pos; i++ {
		nz, total := prev.after()
		prev = docSlot{nzBefore: nz, lenBefore: total}
		if i == pos {
			prev.len = dl
		}
		d.slots[i] = prev
	}
	return allocated
}

// snapshot is what a reader works on: the bound it saw (clamped to the
// caller's maxPos) and the doc table current at that bound.
type snapshot struct {
	bound uint32
	docs  *docTable
}

func (ix *Index) snapshot(maxPos uint32) snapshot {
	b := min(ix.bound.Load(), maxPos)
	return snapshot{bound: b, docs: ix.docs.Load()}
}
