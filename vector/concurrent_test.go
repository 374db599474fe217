package vector

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentAddSearch runs one writer and several readers on one
// Index (run it with -race). The writer publishes a visible count after
// each Add returns, as a memtable does; readers search at that bound and
// must see exactly the visible rows: with every partition probed and
// refinement over every candidate, results equal exact search over the
// visible prefix.
func TestConcurrentAddSearch(t *testing.T) {
	const (
		dim     = 16
		rows    = 3000
		readers = 4
	)
	data := GenerateClustered(rows+50, dim, 10, 11)
	queries := data[rows*dim:]
	data = data[:rows*dim]
	m := mustTrain(t, data, dim, Params{Partitions: 12, SubVectors: 4}, 1)
	ix := NewIndex(m)

	var visible atomic.Uint32
	var done atomic.Bool
	var wg sync.WaitGroup
	var searches atomic.Int64
	exact := exactFunc(data, dim)
	for r := range readers {
		wg.Go(func() {
			for q := r; !done.Load() || q < r+readers*3; q += readers {
				maxPos := visible.Load()
				query := queries[(q%50)*dim : (q%50+1)*dim]
				got, err := ix.Search(query, SearchParams{
					K: 5, NProbes: m.Partitions(), RefineFactor: rows, MaxPos: maxPos, Exact: exact,
				})
				if err != nil {
					t.Error(err)
					return
				}
				want, _ := FlatSearch(data[:int(maxPos)*dim], dim, query, 5, L2, nil)
				if !slices.Equal(got, want) {
					t.Errorf("at %d visible rows: got %v, want %v", maxPos, got, want)
					return
				}
				searches.Add(1)
			}
		})
	}
	wg.Go(func() { // a flush reading the index meanwhile
		for !done.Load() {
			before := visible.Load()
			enc, err := ix.MarshalBinary()
			if err != nil {
				t.Error(err)
				return
			}
			back := NewIndex(m)
			if err := back.UnmarshalBinary(enc); err != nil {
				t.Error(err)
				return
			}
			if back.Len() < int(before) || back.Len() != int(back.NextPos()) {
				t.Errorf("snapshot of %d rows (next %d) while %d were visible", back.Len(), back.NextPos(), before)
				return
			}
		}
	})
	// Batch sizes vary so that both the serial and the parallel encoding
	// paths of Add run.
	batches := []int{37, 300, 1, 150}
	for lo, b := 0, 0; lo < rows; lo, b = lo+batches[b%len(batches)], b+1 {
		hi := min(lo+batches[b%len(batches)], rows)
		if err := ix.Add(uint32(lo), data[lo*dim:hi*dim]); err != nil {
			t.Fatal(err)
		}
		visible.Store(uint32(hi)) // publish only after Add returned
	}
	done.Store(true)
	wg.Wait()
	if searches.Load() < readers {
		t.Fatalf("only %d searches ran", searches.Load())
	}
	t.Logf("%d concurrent searches", searches.Load())
}
