package lance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkFormat22VsLanceDB reads tables LanceDB 0.39 wrote in data
// storage version 2.2 ("vec": 62,000 rows of id and a 1024-dim float32
// vector; "small": 1,000,000 rows of id, i32, f64 and a short string; one
// fragment each; interop/bench_format.mjs writes them under
// $FLIGHTWAL_CACHE/bench-format22 the first time, about 260 MB) and
// compares, in the same run, a full scan (all columns) and single-row
// takes (the same pseudo-random offsets) with LanceDB doing the same from
// node. Reported: ours and LanceDB's scan rows/s and their ratio (target
// >= 0.8), and the p50 of a take, ours and LanceDB's (target: ours <=).
func BenchmarkFormat22VsLanceDB(b *testing.B) {
	nm := nodeModules(b, "v039")
	cache := os.Getenv("FLIGHTWAL_CACHE")
	if cache == "" {
		cache = filepath.Join("..", ".cache")
	}
	dir := filepath.Join(cache, "bench-format22")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	out := runNode(b, nm, "bench_format.mjs", dir, "3", "200")
	var ref struct {
		Version string `json:"lancedb_version"`
		Tables  map[string]struct {
			Rows     int64     `json:"rows"`
			ScanMS   []float64 `json:"scan_ms"`
			LookupMS []float64 `json:"lookup_ms"`
			Offsets  []uint64  `json:"lookup_offsets"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		b.Fatalf("node output: %v\n%s", err, out)
	}
	ctx := context.Background()
	st := newLocalStore(b, dir)
	mem := memory.DefaultAllocator
	for _, name := range []string{"vec", "small"} {
		lt := ref.Tables[name]
		d, err := OpenDataset(ctx, st, name+".lance")
		if err != nil {
			b.Fatal(err)
		}
		if d.DataStorageVersion() != Version22 || d.CountRows() != lt.Rows || len(d.Fragments()) != 1 {
			b.Fatalf("%s: version %s, %d rows in %d fragments", name, d.DataStorageVersion(), d.CountRows(), len(d.Fragments()))
		}
		scan := func() {
			rows := 0
			err := d.Scan(ctx, mem, nil, 0, func(_ Fragment, _ uint64, rec arrow.RecordBatch) error {
				rows += int(rec.NumRows())
				return nil
			})
			if err != nil || int64(rows) != lt.Rows {
				b.Fatal(rows, err)
			}
		}
		b.Run(name+"/scan", func(b *testing.B) {
			scan() // warm: metadata cached, as LanceDB's open table has it
			b.ResetTimer()
			for range b.N {
				scan()
			}
			b.StopTimer()
			ours := float64(lt.Rows) * float64(b.N) / b.Elapsed().Seconds()
			theirs := float64(lt.Rows) / (slices.Min(lt.ScanMS) / 1000)
			b.ReportMetric(ours, "rows/s")
			b.ReportMetric(theirs, "lancedb-rows/s")
			b.ReportMetric(ours/theirs, "ours/lancedb")
		})
		b.Run(name+"/take1", func(b *testing.B) {
			frag := d.Fragments()[0].ID
			take := func(off uint64) time.Duration {
				s := time.Now()
				rec, err := d.Take(ctx, mem, frag, []uint64{off}, nil)
				el := time.Since(s)
				if err != nil {
					b.Fatal(err)
				}
				if rec.NumRows() != 1 || rec.Column(0).(*array.Int64).Value(0) != int64(off) {
					b.Fatalf("take %d: %d rows", off, rec.NumRows())
				}
				rec.Release()
				return el
			}
			for _, off := range lt.Offsets[:5] {
				take(off)
			}
			var samples []float64
			b.ResetTimer()
			for i := range b.N {
				for _, off := range lt.Offsets {
					if i == 0 {
						samples = append(samples, float64(take(off).Microseconds())/1000)
					} else {
						take(off)
					}
				}
			}
			b.StopTimer()
			p50 := func(v []float64) float64 {
				v = slices.Clone(v)
				slices.Sort(v)
				return v[len(v)/2]
			}
			b.ReportMetric(p50(samples), "p50-ms")
			b.ReportMetric(p50(lt.LookupMS), "lancedb-p50-ms")
		})
	}
}
