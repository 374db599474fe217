package flight_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// TestFaultInjectedIngest streams batches from several clients while every
// kind of store call fails at random (before the call, or after a write
// really happened), is delayed, or is throttled; flushes and compactions
// run meanwhile. After a restart without faults: every acknowledged batch
// is there, every batch is wholly there or wholly absent, and every batch
// that was not acknowledged was reported to its client as failed.
func TestFaultInjectedIngest(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	faulty := objstore.NewFaulty(testStore(t), objstore.FaultOptions{Seed: seed})
	e := newEnv(t, withStore(faulty), withLSM(lsm.Options{
		MemTableMaxRows: 400, CompactAfterGenerations: 3,
		// Few retries, so that some faults get through to the clients.
		Retry: objstore.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: 5 * time.Millisecond},
	}))
	const dim, rows, perStream = 8, 50, 4
	// One region: a batch spanning regions is not atomic across them
	// (README, "Wire contract notes"), and this test checks atomicity.
	e.createTable("x", datagen.Schema(dim), nil)

	var fo objstore.FaultOptions
	fo.SetAll(objstore.Fault{ErrorRate: 0.3, AfterWriteRate: 0.1, Latency: 100 * time.Microsecond, Jitter: 2 * time.Millisecond})
	fo.MaxConcurrent = 12
	faulty.SetOptions(fo)

	var mu sync.Mutex
	acked := map[int]bool{}
	sent := 0
	unreported := 0
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.newClient()
			defer c.Close()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for s := 0; s < 12; s++ {
				mu.Lock()
				first := sent
				sent += perStream
				mu.Unlock()
				recs := make([]arrow.RecordBatch, perStream)
				for i := range recs {
					b := first + i
					recs[i] = datagen.Batch(e.mem, dim, uint64(b), int64(b)*rows, rows)
				}
				res, err := putWith(c, pathDesc("x"), recs...)
				if status.Code(err) == codes.Unavailable {
					// The region refuses batches while a failed WAL put is
					// retried in place: back off, as a client would.
					time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
				}
				for _, r := range recs {
					r.Release()
				}
				mu.Lock()
				for _, r := range res {
					if r.Durable {
						acked[first+r.Batch] = true
					}
				}
				if err == nil && len(res) != perStream {
					unreported++
				}
				mu.Unlock()
				switch rng.IntN(6) {
				case 0:
					_, _ = e.action("flush", map[string]any{"table": "x"})
				case 1:
					_, _ = e.action("compact", map[string]any{"table": "x"})
				}
			}
		}()
	}
	wg.Wait()
	stats := faulty.TotalStats()
	t.Logf("faults injected: %+v; %d batches sent, %d acknowledged", stats, sent, len(acked))
	if unreported > 0 {
		t.Fatalf("%d streams ended without an error but with batches unacknowledged", unreported)
	}
	if len(acked) == 0 || len(acked) == sent {
		t.Fatalf("%d of %d batches acknowledged: the faults did not bite, or nothing got through", len(acked), sent)
	}

	// Faults off: the server still serves writes, and after a restart every
	// acknowledged batch is back.
	// A WAL put that failed is retried in place, and the region refuses
	// new batches (Unavailable) until it lands: writes resume within the
	// retry backoff.
	faulty.SetOptions(objstore.FaultOptions{})
	extra := datagen.Batch(e.mem, dim, uint64(sent), int64(sent)*rows, rows)
	defer extra.Release()
	var lastErr error
	if !eventually(t, 5*time.Second, func() bool { _, lastErr = e.put(pathDesc("x"), extra); return lastErr == nil }) {
		t.Fatalf("writes did not resume once the store recovered: %v", lastErr)
	}
	acked[sent] = true
	sent++
	e.restart()
	rec := e.mustGet(map[string]any{"table": "x", "columns": []string{"id", "text"}})
	defer rec.Release()
	ids := rec.Column(0).(*array.Int64)
	texts := rec.Column(1).(*array.String)
	perBatch := map[int]int{}
	for i := 0; i < ids.Len(); i++ {
		id := ids.Value(i)
		b := int(id / rows)
		if texts.Value(i) != datagen.Text(uint64(b), id) {
			t.Fatalf("id %d: wrong text", id)
		}
		perBatch[b]++
	}
	for b := 0; b < sent; b++ {
		n := perBatch[b]
		switch {
		case acked[b] && n != rows:
			t.Fatalf("acknowledged batch %d has %d of %d rows", b, n, rows)
		case n != 0 && n != rows:
			t.Fatalf("batch %d half applied: %d of %d rows", b, n, rows)
		}
	}
	if len(perBatch) > sent {
		t.Fatalf("rows of %d batches, only %d sent", len(perBatch), sent)
	}
}
