package objstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flightwal/flightwal/internal/testminio"
	"github.com/flightwal/flightwal/objstore"
)

// BenchmarkPut measures 64 KiB PUTs one at a time and reports their median
// latency as p50-ms: the store's own PUT p50 that WAL group-commit latency
// is judged against.
func BenchmarkPut(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) objstore.Store
	}{
		{"Local", func(b *testing.B) objstore.Store {
			s, err := objstore.NewLocal(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"MinIO", func(b *testing.B) objstore.Store { return testminio.Shared(b).Store(b) }},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			ctx := context.Background()
			data := randBytes(1, 64<<10)
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := s.Put(ctx, fmt.Sprintf("bench/%08d", i), data); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Millisecond), "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Millisecond), "p99-ms")
		})
	}
}

// BenchmarkLocalPutLarge measures WAL-entry-sized PutIfAbsents on Local
// one after another, the way a region's WAL writes them: MB/s is the
// ceiling for durable ingest on this disk. aligned buffers take the
// direct-I/O path of writeData, unaligned ones the page cache.
func BenchmarkLocalPutLarge(b *testing.B) {
	for _, size := range []int{4 << 20, 16 << 20} {
		for _, aligned := range []bool{true, false} {
			b.Run(fmt.Sprintf("size=%dMiB/aligned=%v", size>>20, aligned), func(b *testing.B) {
				s, err := objstore.NewLocal(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				data := objstore.AlignedBytes(size + 1)
				if aligned {
					data = data[:size]
				} else {
					data = data[1:]
				}
				copy(data, randBytes(2, size))
				ctx := context.Background()
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.PutIfAbsent(ctx, fmt.Sprintf("wal/%08d", i), data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
