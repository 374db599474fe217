// Package datagen makes the seeded data sets that tests, benchmarks and the
// `flightwal put --generate` command share: rows of (int64 id, float32
// vector, ~100-byte text), as in the Lance MemWAL benchmark.
package datagen

import (
	"math/rand/v2"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Schema is (id int64 primary key, vec fixed_size_list<float32, dim>, text utf8).
func Schema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})},
		{Name: "vec", Type: arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32), Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
}

var words = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor
incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris
nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat
nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim
id est laborum quick brown fox jumps over lazy dog stream lance arrow flight region memtable durable`)

// Batch returns rows [first, first+n) of the seeded data set: ids are first..,
// vectors and text depend only on (seed, id), so a row can be regenerated
// to check what a read returned.
func Batch(mem memory.Allocator, dim int, seed uint64, first, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, Schema(dim))
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	vl := b.Field(1).(*array.FixedSizeListBuilder)
	vv := vl.ValueBuilder().(*array.Float32Builder)
	tx := b.Field(2).(*array.StringBuilder)
	ids.Reserve(int(n))
	vl.Reserve(int(n))
	vv.Reserve(int(n) * dim)
	vec := make([]float32, dim)
	for id := first; id < first+n; id++ {
		ids.UnsafeAppend(id)
		Vector(vec, seed, id)
		vl.Append(true)
		vv.AppendValues(vec, nil)
		tx.Append(Text(seed, id))
	}
	return b.NewRecordBatch()
}

// Vector fills v with row id's vector.
func Vector(v []float32, seed uint64, id int64) {
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
}

// Text is row id's text: about 100 bytes of words.
func Text(seed uint64, id int64) string {
	r := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(id)))
	var sb strings.Builder
	for sb.Len() < 100 {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(words[r.IntN(len(words))])
	}
	return sb.String()
}

// TextSchema is a small table of (id int64 primary key, text utf8), for
// tests of text columns and of invalid batches.
var TextSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})},
	{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// TextBatch is a TextSchema batch: the given ids, each with text.
func TextBatch(mem memory.Allocator, ids []int64, text string) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, TextSchema)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(text)
	}
	return b.NewRecordBatch()
}

// BadOffsetsBatch is an invalid TextSchema batch a hostile client can
// send: 2 rows whose utf8 offsets [0, 50, 5] run past a 5-byte buffer.
// arrow-go builds and sends it as is; reading row 0 would panic.
func BadOffsetsBatch(mem memory.Allocator) arrow.RecordBatch {
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.AppendValues([]int64{1, 2}, nil)
	ids := ib.NewArray()
	defer ids.Release()
	offsets := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 50, 5}))
	data := array.NewData(arrow.BinaryTypes.String, 2, []*memory.Buffer{nil, offsets, memory.NewBufferBytes([]byte("hello"))}, nil, 0, 0)
	defer data.Release()
	text := array.MakeFromData(data)
	defer text.Release()
	return array.NewRecordBatch(TextSchema, []arrow.Array{ids, text}, 2)
}
