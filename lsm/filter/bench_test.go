package filter

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchRecord is rows rows of (category utf8, price float64, name utf8),
// with a few nulls.
func benchRecord(mem memory.Allocator, rows int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	cats := []string{"a", "b", "c", "d"}
	names := []string{"apple", "banana", "cherry", "pineapple", "grape"}
	for range rows {
		valid := rng.IntN(50) != 0
		b.Field(0).(*array.StringBuilder).AppendValues([]string{cats[rng.IntN(len(cats))]}, []bool{valid})
		b.Field(1).(*array.Float64Builder).AppendValues([]float64{rng.Float64() * 20}, []bool{valid})
		b.Field(2).(*array.StringBuilder).Append(names[rng.IntN(len(names))])
		b.Field(3).(*array.Int32Builder).Append(int32(rng.IntN(100)))
	}
	return b.NewRecordBatch()
}

func benchEval(b *testing.B, src string) {
	mem := memory.NewGoAllocator()
	const rows = 10_000
	rec := benchRecord(mem, rows)
	defer rec.Release()
	bd, err := Bind(mustParse(b, src), rec.Schema())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		m, err := bd.Eval(ctx, mem, rec)
		if err != nil {
			b.Fatal(err)
		}
		m.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
}

// BenchmarkEval is the ticket's example filter over a 10,000-row batch.
func BenchmarkEval(b *testing.B) { benchEval(b, "category = 'a' AND price >= 10") }

func BenchmarkEvalIn(b *testing.B) {
	benchEval(b, "qty IN (1, 5, 7, 42) OR category NOT IN ('a', 'b')")
}

func BenchmarkEvalLike(b *testing.B) { benchEval(b, "name LIKE '%apple%'") }

func BenchmarkEvalLikeGeneral(b *testing.B) { benchEval(b, "name LIKE '_i%p_e'") }

func BenchmarkParseBind(b *testing.B) {
	schema := benchRecord(memory.NewGoAllocator(), 0).Schema()
	for b.Loop() {
		e, err := Parse("category = 'a' AND price >= 10 OR name LIKE 'a%' AND qty IN (1, 2, 3)")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Bind(e, schema); err != nil {
			b.Fatal(err)
		}
	}
}
