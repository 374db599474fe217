package lsm

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Lance's bucket transform test vectors (num_buckets = 8, its MemWAL
// format document, appendix "Bucket Hashing").
func TestBucketVectors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	check := func(name string, b array.Builder, want []int) {
		t.Helper()
		a := b.NewArray()
		defer a.Release()
		b.Release()
		got, err := shardSpec{transform: transformBucket, buckets: 8}.route(a)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: row %d in bucket %d, want %d (all %v)", name, i, got[i], want[i], got)
			}
		}
	}
	i32 := array.NewInt32Builder(mem)
	i32.AppendValues([]int32{1, 2, 0, 3}, []bool{true, true, false, true})
	check("int32", i32, []int{2, 7, 0, 1})
	d32 := array.NewDate32Builder(mem)
	d32.AppendValues([]arrow.Date32{1, 2, 3}, nil)
	check("date32", d32, []int{2, 7, 1})
	s := array.NewStringBuilder(mem)
	s.AppendValues([]string{"a", "b", ""}, []bool{true, true, false})
	check("utf8", s, []int{1, 5, 0})
	bo := array.NewBooleanBuilder(mem)
	bo.Append(true)
	check("bool", bo, []int{2})
	f32 := array.NewFloat32Builder(mem)
	f32.Append(1.25)
	check("float32", f32, []int{0})
	f64 := array.NewFloat64Builder(mem)
	f64.Append(1.25)
	check("float64", f64, []int{0})
	// int64 keys 0..15 in 4 buckets, as LanceDB 0.39 routed them.
	i64 := array.NewInt64Builder(mem)
	for k := range int64(16) {
		i64.Append(k)
	}
	b4 := []int{0, 0, 0, 3, 2, 3, 1, 3, 3, 3, 0, 3, 0, 1, 1, 0}
	a := i64.NewArray()
	defer a.Release()
	i64.Release()
	got, err := shardSpec{transform: transformBucket, buckets: 4}.route(a)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range b4 {
		if got[k] != want {
			t.Fatalf("int64 %d in bucket %d, want %d", k, got[k], want)
		}
	}
}

// Region ids are the UUIDs LanceDB 0.39's shard writers created.
func TestRegionUUIDs(t *testing.T) {
	bucket := shardSpec{transform: transformBucket, buckets: 4}
	for i, want := range []string{
		"4a388480-a25b-59a8-b058-24217f980256",
		"8e131bde-8368-54ff-89d9-c2e1cc781b29",
		"e00299e4-8c4b-50fc-bbdd-ce8179135761",
		"1d8d46d4-1ffd-5f6e-9aea-466d5ea76fdb",
	} {
		if got := formatUUID(bucket.regionUUID(i)); got != want {
			t.Fatalf("bucket %d: %s, want %s", i, got, want)
		}
	}
	if got := formatUUID(shardSpec{transform: transformUnsharded}.regionUUID(0)); got != "aa48498d-ac91-59e2-8452-69f46010ace2" {
		t.Fatalf("unsharded: %s", got)
	}
}

// keyRegion (reads: which region holds a key) agrees with route (writes)
// for every key type the bucket transform hashes.
func TestKeyRegionAgreesWithRoute(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Uint64, arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Time32ms, arrow.FixedWidthTypes.Time64ns, arrow.FixedWidthTypes.Timestamp_us, arrow.BinaryTypes.String, arrow.BinaryTypes.LargeString} {
		schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: typ}}, nil)
		l := newLayout(schema, 0, shardSpec{id: 1, transform: transformBucket, col: 0, buckets: 7})
		b := array.NewBuilder(mem, typ)
		for i := range 300 {
			v := int64(i*7919 - 1000)
			switch bb := b.(type) {
			case *array.Int8Builder:
				bb.Append(int8(v))
			case *array.Int32Builder:
				bb.Append(int32(v))
			case *array.Int64Builder:
				bb.Append(v * 1000003)
			case *array.Uint16Builder:
				bb.Append(uint16(v))
			case *array.Uint64Builder:
				bb.Append(uint64(v) * 1000003)
			case *array.Date32Builder:
				bb.Append(arrow.Date32(v))
			case *array.Time32Builder:
				bb.Append(arrow.Time32(v))
			case *array.Time64Builder:
				bb.Append(arrow.Time64(v * 1000003))
			case *array.TimestampBuilder:
				bb.Append(arrow.Timestamp(v * 1000003))
			case *array.StringBuilder:
				bb.Append("key-" + string(rune('a'+i%26)) + string(rune('0'+i%10)) + string(make([]byte, i%5)))
			case *array.LargeStringBuilder:
				bb.Append("k" + string(rune('a'+i%26)))
			}
		}
		col := b.NewArray()
		b.Release()
		routed, err := l.spec.route(col)
		if err != nil {
			t.Fatal(err)
		}
		kt, err := pkKeyType(typ)
		if err != nil {
			t.Fatal(err)
		}
		read := keyReader(col)
		for i := range routed {
			if got := l.keyRegion(read(i), kt); got != routed[i] {
				t.Fatalf("%s row %d: keyRegion %d, route %d", typ, i, got, routed[i])
			}
		}
		col.Release()
	}
}
