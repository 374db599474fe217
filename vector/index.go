package vector

import (
	"sync"
	"sync/atomic"
)

// Index is the IVF-PQ index of one layer's rows (a memtable or a flushed
// generation): per partition, the positions and PQ codes of its rows.
//
// It grows by Add while readers Search it. Add calls serialize on an
// internal lock (one writer at a time); Search, Len, NextPos, SizeBytes
// and MarshalBinary never block and may run concurrently with Add. A
// reader sees a prefix of each partition's rows (see postings.go); callers
// make a consistent snapshot by passing the number of visible positions
// (SearchParams.MaxPos) that they published after the Add that indexed
// those rows returned.
type Index struct {
	model *Model
	lists []postingList

	mu   sync.Mutex // held by Add and UnmarshalBinary: the one writer
	next uint32     // writer only: positions below next have been added
	lens []uint32   // writer only: entries written per list (>= published)
	encs []*encoder // writer only: one per parallel chunk

	// Published after the lists, in this order: rows, then end.
	rows  atomic.Uint64 // rows indexed
	end   atomic.Uint32 // one past the highest position indexed
	bytes atomic.Int64  // bytes of chunk storage allocated
}

// NewIndex returns an empty index over model's partitions.
func NewIndex(model *Model) *Index {
	return &Index{
		model: model,
		lists: make([]postingList, model.Partitions()),
		lens:  make([]uint32, model.Partitions()),
	}
}

// Model returns the model the index encodes with.
func (ix *Index) Model() *Model { return ix.model }

// Len returns the number of rows indexed (published).
func (ix *Index) Len() int { return int(ix.rows.Load()) }

// NextPos returns one past the highest position indexed: the smallest
// firstPos the next Add accepts.
func (ix *Index) NextPos() uint32 { return ix.end.Load() }

// SizeBytes returns the memory held by the index's row storage (positions
// and codes, including unused chunk capacity), not counting the model.
func (ix *Index) SizeBytes() int64 {
	return ix.bytes.Load() + int64(len(ix.lists))*int64(maxChunks*8+8)
}

// addChunk is how many vectors one encoder goroutine takes at least.
const addChunk = 64

// Add indexes len(vectors)/dim vectors (row-major) at the consecutive
// positions firstPos, firstPos+1, .... Positions must increase across
// calls (gaps are allowed, e.g. for rows with a null vector): firstPos must
// be at least NextPos. Each vector is normalized (cosine), assigned to its
// nearest partition and encoded; large batches are encoded on GOMAXPROCS
// goroutines. Invalid input (shape, NaN/±Inf, positions) wraps ErrInvalid
// and indexes nothing.
//
// When Add returns, every row is visible to Search: the caller publishes
// the rows to its readers (raising their MaxPos) only after that.
func (ix *Index) Add(firstPos uint32, vectors []float32) error {
	dim := ix.model.dim
	if err := CheckVectors(vectors, dim); err != nil {
		return err
	}
	n := len(vectors) / dim
	if n == 0 {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if firstPos < ix.next {
		return invalidf("position %d is below the next free position %d (positions must increase)", firstPos, ix.next)
	}
	if uint64(firstPos)+uint64(n) > maxRows {
		return invalidf("positions %d + %d rows exceed the limit of %d", firstPos, n, uint64(maxRows))
	}

	// Encode (parallel, into batch-local buffers).
	m := ix.model.pq.m
	parts := make([]int32, n)
	codes := make([]byte, n*m)
	chunks, _ := split(n, workers(), addChunk)
	for len(ix.encs) < chunks {
		ix.encs = append(ix.encs, ix.model.newEncoder())
	}
	parallelFor(n, workers(), addChunk, func(c, lo, hi int) {
		e := ix.encs[c]
		for i := lo; i < hi; i++ {
			parts[i] = int32(e.encode(vectors[i*dim:(i+1)*dim], codes[i*m:(i+1)*m]))
		}
	})

	// Append (serial, in position order, so each list stays sorted by
	// position), then publish each touched list, then the totals.
	var touched []int32
	var allocated int
	for i, p := range parts {
		l := &ix.lists[p]
		if ix.lens[p] == l.n.Load() {
			touched = append(touched, p)
		}
		allocated += l.put(ix.lens[p], firstPos+uint32(i), codes[i*m:(i+1)*m])
		ix.lens[p]++
	}
	ix.bytes.Add(int64(allocated))
	for _, p := range touched {
		ix.lists[p].publish(ix.lens[p])
	}
	ix.next = firstPos + uint32(n)
	ix.rows.Add(uint64(n))
	ix.end.Store(ix.next)
	return nil
}
