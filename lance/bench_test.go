package lance

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	benchRows  = 62_000
	benchDim   = 1024
	benchBatch = 1000
)

func benchSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vec", Type: arrow.FixedSizeListOf(benchDim, arrow.PrimitiveTypes.Float32)},
		{Name: "text", Type: arrow.BinaryTypes.String},
	}, nil)
}

// benchRecords builds the benchmark table (62,000 rows: int64, 1024-dim
// float32 vector, ~100-byte string) in 1,000-row batches, and its size.
func benchRecords() ([]arrow.RecordBatch, int64) {
	schema := benchSchema()
	var recs []arrow.RecordBatch
	var size int64
	for lo := 0; lo < benchRows; lo += benchBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		ids := b.Field(0).(*array.Int64Builder)
		vb := b.Field(1).(*array.FixedSizeListBuilder)
		items := vb.ValueBuilder().(*array.Float32Builder)
		tb := b.Field(2).(*array.StringBuilder)
		v := make([]float32, benchDim)
		for i := lo; i < lo+benchBatch; i++ {
			ids.Append(int64(i))
			for j := range v {
				v[j] = float32(i%977) + float32(j)
			}
			vb.Append(true)
			items.AppendValues(v, nil)
			tb.Append(fmt.Sprintf("%010d the quick brown fox jumps over the lazy dog, the quick brown fox jumps over the lazy dog", i))
		}
		rec := b.NewRecordBatch()
		b.Release()
		for _, c := range rec.Columns() {
			for _, buf := range c.Data().Buffers() {
				if buf != nil {
					size += int64(buf.Len())
				}
			}
			for _, ch := range c.Data().Children() {
				for _, buf := range ch.Buffers() {
					if buf != nil {
						size += int64(buf.Len())
					}
				}
			}
		}
		recs = append(recs, rec)
	}
	return recs, size
}

// BenchmarkWriteDataset measures WriteDataset of the benchmark table to a
// local directory (MB/s of Arrow data).
func BenchmarkWriteDataset(b *testing.B) {
	recs, size := benchRecords()
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	ctx := context.Background()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := newLocalStore(b, b.TempDir())
		b.StartTimer()
		if _, err := WriteDataset(ctx, st, "bench.lance", benchSchema(), recs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan measures a full scan (all columns) of the benchmark table
// from a local directory (rows/s).
func BenchmarkScan(b *testing.B) {
	recs, size := benchRecords()
	ctx := context.Background()
	st := newLocalStore(b, b.TempDir())
	if _, err := WriteDataset(ctx, st, "bench.lance", benchSchema(), recs, nil); err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := OpenDataset(ctx, st, "bench.lance")
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		err = d.Scan(ctx, memory.DefaultAllocator, nil, 8192, func(_ Fragment, _ uint64, rec arrow.RecordBatch) error {
			rows += int(rec.NumRows())
			return nil
		})
		if err != nil || rows != benchRows {
			b.Fatal(rows, err)
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkTake measures point reads of the benchmark table (62,000 rows
// of id, 1024-dim float32 vector and text in ONE fragment) from a local
// directory against a full scan of it in the same run: "1row" takes one
// row (all columns) per op and reports take/scan, the ratio to keep below
// 1/100; "1000rows" takes 1,000 random rows per op.
func BenchmarkTake(b *testing.B) {
	recs, _ := benchRecords()
	ctx := context.Background()
	st := newLocalStore(b, b.TempDir())
	if _, err := WriteDataset(ctx, st, "bench.lance", benchSchema(), recs, nil); err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	d, err := OpenDataset(ctx, st, "bench.lance")
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.DefaultAllocator
	frag := d.Fragments()[0].ID
	// The full scan, best of three (the file's metadata is then cached, as
	// it is for the takes).
	scan := time.Duration(math.MaxInt64)
	for range 3 {
		start := time.Now()
		rows := 0
		err := d.Scan(ctx, mem, nil, 8192, func(_ Fragment, _ uint64, rec arrow.RecordBatch) error {
			rows += int(rec.NumRows())
			return nil
		})
		if err != nil || rows != benchRows {
			b.Fatal(rows, err)
		}
		scan = min(scan, time.Since(start))
	}
	take := func(b *testing.B, rows []uint64) {
		rec, err := d.Take(ctx, mem, frag, rows, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rec.NumRows() != int64(len(rows)) || rec.Column(0).(*array.Int64).Value(0) != int64(rows[0]) {
			b.Fatalf("take %d rows from %d: %d rows", len(rows), rows[0], rec.NumRows())
		}
		rec.Release()
	}
	b.Run("1row", func(b *testing.B) {
		take(b, []uint64{1})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			take(b, []uint64{uint64(i*7919) % benchRows})
		}
		b.StopTimer()
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(scan.Nanoseconds()), "scan-ns")
		b.ReportMetric(per/float64(scan.Nanoseconds()), "take/scan")
	})
	b.Run("1000rows", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(7, 7))
		sets := make([][]uint64, 16)
		for i := range sets {
			seen := map[uint64]bool{}
			for len(sets[i]) < 1000 {
				r := rng.Uint64N(benchRows)
				if !seen[r] {
					seen[r] = true
					sets[i] = append(sets[i], r)
				}
			}
			slices.Sort(sets[i])
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			take(b, sets[i%len(sets)])
		}
		b.StopTimer()
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(scan.Nanoseconds()), "scan-ns")
		b.ReportMetric(per/float64(scan.Nanoseconds()), "take/scan")
	})
}
