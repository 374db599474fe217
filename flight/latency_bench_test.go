package flight_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// BenchmarkDurableAckLatency: W concurrent writers each stream small
// durable batches; it reports the ack latency p50/p99, the WAL PUTs per
// batch (group commit makes many writers share one PUT), and the store's
// own PUT p50 measured in the same run, with the target
// p50 <= flush interval + 2 x PUT p50.
func BenchmarkDurableAckLatency(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			base := testStore(b)
			hs := objstore.NewFaulty(base, objstore.FaultOptions{})
			var walPuts atomic.Int64
			hookWrites(hs, nil, func(key string, err error) {
				if strings.Contains(key, "/wal/") {
					walPuts.Add(1)
				}
			})
			e := newEnv(b, withStore(hs), withLSM(lsm.Options{CompactAfterGenerations: -1}))
			e.createTable("lat", datagen.Schema(16), nil)
			const batchesPerWriter = 20
			walPuts.Store(0)
			var mu sync.Mutex
			var lats []time.Duration
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				var wg sync.WaitGroup
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						c := e.newClient()
						for i := 0; i < batchesPerWriter; i++ {
							rec := datagen.Batch(e.mem, 16, 1, int64((it*writers+w)*batchesPerWriter+i)*10, 10)
							start := time.Now()
							_, err := putWith(c, pathDesc("lat"), rec)
							d := time.Since(start)
							rec.Release()
							if err != nil {
								b.Error(err)
								return
							}
							mu.Lock()
							lats = append(lats, d)
							mu.Unlock()
						}
					}(w)
				}
				wg.Wait()
			}
			b.StopTimer()
			batches := int64(b.N * writers * batchesPerWriter)
			sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
			p50, p99 := lats[len(lats)/2], lats[len(lats)*99/100]
			putP50 := storePutP50(b, base)
			b.ReportMetric(float64(p50.Microseconds()), "p50-us")
			b.ReportMetric(float64(p99.Microseconds()), "p99-us")
			b.ReportMetric(float64(walPuts.Load())/float64(batches), "PUTs/batch")
			b.ReportMetric(float64(putP50.Microseconds()), "store-put-p50-us")
			b.Logf("%d writers: ack p50 %v p99 %v; %d WAL PUTs for %d batches (%.3f per batch); store PUT p50 %v; target p50 <= 100ms + 2 x %v",
				writers, p50, p99, walPuts.Load(), batches, float64(walPuts.Load())/float64(batches), putP50, putP50)
		})
	}
}

// storePutP50 measures the store's own put-if-absent latency for a WAL-sized object.
func storePutP50(b *testing.B, s interface {
	PutIfAbsent(ctx context.Context, key string, data []byte) error
}) time.Duration {
	data := make([]byte, 4<<10)
	var lats []time.Duration
	for i := 0; i < 50; i++ {
		start := time.Now()
		if err := s.PutIfAbsent(context.Background(), fmt.Sprintf("putbench/%d", i), data); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, time.Since(start))
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return lats[len(lats)/2]
}
