package vector

import (
	"runtime"
	"sync"
)

// workers returns how many goroutines CPU-bound loops of this package use.
func workers() int { return max(1, runtime.GOMAXPROCS(0)) }

// split divides [0, n) into at most w contiguous chunks of at least
// minChunk items (the last may be shorter): it returns the number of chunks
// and the size of all but the last.
func split(n, w, minChunk int) (chunks, size int) {
	if n <= 0 {
		return 0, 0
	}
	chunks = max(1, min(w, n/max(minChunk, 1)))
	size = (n + chunks - 1) / chunks
	return (n + size - 1) / size, size
}

// parallelFor calls fn(chunk, lo, hi) for the chunks of split(n, w,
// minChunk), each on its own goroutine, and waits. Callers keep results
// deterministic by writing disjoint outputs per index or per chunk.
func parallelFor(n, w, minChunk int, fn func(chunk, lo, hi int)) {
	chunks, size := split(n, w, minChunk)
	if chunks == 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for c := range chunks {
		wg.Go(func() { fn(c, c*size, min((c+1)*size, n)) })
	}
	wg.Wait()
}
