package flight_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
)

// BenchmarkIngestWithIndexes: durable DoPut rows/s of one stream of 62,000
// rows (id, 128-dim vector, ~100-byte text) in 1,000-row batches into a
// fresh table without indexes, with an ivf_pq index, with an fts index,
// and with both. The indexes are maintained behind the write path; the
// ratios index/none say what that maintenance costs ingest (target >=
// 0.70). Each table first takes 10,000 rows, untimed, and the stream
// starts once they are indexed: the one-time model training (about a
// second of both cores) is not maintenance. indexed_s is how long after
// the stream started every row was indexed too. Tables are dropped,
// untimed, between streams, which also stops their indexers; modes
// rotate.
func BenchmarkIngestWithIndexes(b *testing.B) {
	const rows, dim, batchRows = 62000, 128, 1000
	e := newEnv(b, withLSM(lsm.Options{MemTableMaxBytes: 4 << 30, MaxUnflushedBytes: 8 << 30, CompactAfterGenerations: -1}))
	var recs, warm []arrow.RecordBatch
	for lo := int64(0); lo < rows; lo += batchRows {
		recs = append(recs, datagen.Batch(e.mem, dim, 1, lo, batchRows))
	}
	for lo := int64(rows); lo < rows+10000; lo += batchRows {
		warm = append(warm, datagen.Batch(e.mem, dim, 1, lo, batchRows))
	}
	b.Cleanup(func() {
		for _, r := range append(recs, warm...) {
			r.Release()
		}
	})
	// indexed reports whether every index is trained and covers every row.
	indexed := func(name string) bool {
		time.Sleep(20 * time.Millisecond) // poll gently: stats cost CPU the indexers need
		st := e.mustAction("stats", map[string]any{"table": name})
		is, _ := st["index_status"].([]any)
		for _, x := range is {
			s := x.(map[string]any)
			if s["unindexed_rows"].(float64) > 0 || (s["type"] == "ivf_pq" && s["trained"] != true) {
				return false
			}
		}
		return true
	}
	modes := []struct {
		name    string
		indexes []map[string]any
	}{
		{"none", nil},
		{"ivf_pq", []map[string]any{{"name": "v", "column": "vec", "type": "ivf_pq"}}},
		{"fts", []map[string]any{{"name": "t", "column": "text", "type": "fts"}}},
		{"both", []map[string]any{{"name": "v", "column": "vec", "type": "ivf_pq"}, {"name": "t", "column": "text", "type": "fts"}}},
	}
	took := make([]time.Duration, len(modes))
	lag := make([]time.Duration, len(modes))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range modes {
			m := (i + j) % len(modes)
			b.StopTimer()
			name := fmt.Sprintf("%s_%d", modes[m].name, i)
			extra := map[string]any{}
			if modes[m].indexes != nil {
				extra["indexes"] = modes[m].indexes
			}
			e.createTable(name, datagen.Schema(dim), extra)
			e.mustPut(pathDesc(name), warm...)
			if !eventually(b, time.Minute, func() bool { return indexed(name) }) {
				b.Fatalf("%s: warm-up rows not indexed: %v", name, e.mustAction("stats", map[string]any{"table": name})["index_status"])
			}
			b.StartTimer()
			start := time.Now()
			e.mustPut(pathDesc(name), recs...)
			took[m] += time.Since(start)
			b.StopTimer()
			if !eventually(b, time.Minute, func() bool { return indexed(name) }) {
				b.Fatalf("%s: rows not indexed after a minute", name)
			}
			lag[m] += time.Since(start)
			e.mustAction("drop_table", map[string]any{"name": name})
			b.StartTimer()
		}
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(b.N*rows) / d.Seconds() }
	for m, md := range modes {
		b.ReportMetric(rate(took[m]), md.name+"-rows/s")
		if m > 0 {
			b.ReportMetric(rate(took[m])/rate(took[0]), md.name+"/none")
			b.ReportMetric(lag[m].Seconds()/float64(b.N), md.name+"-indexed_s")
		}
	}
}
