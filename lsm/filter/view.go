package filter

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Views: column types the filter compares as another type.
//
//	float16                      as float32 (exact: every float16 is a float32)
//	date64                       as timestamp[ms] without zone (the same int64)
//	time32, time64, duration     as int32/int64: counts of the column's unit
//	dictionary<string>           as its decoded values
//
// Decimals compare as themselves (clsDecimal); every other type is its own
// view.
func viewType(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.Float16Type:
		return arrow.PrimitiveTypes.Float32
	case *arrow.Date64Type:
		return &arrow.TimestampType{Unit: arrow.Millisecond}
	case *arrow.Time32Type:
		return arrow.PrimitiveTypes.Int32
	case *arrow.Time64Type, *arrow.DurationType:
		return arrow.PrimitiveTypes.Int64
	case *arrow.DictionaryType:
		switch t.ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
			return t.ValueType
		}
	}
	return t
}

// toView returns a (a new reference) as viewType(a's type) sees it.
func toView(ctx context.Context, a arrow.Array) (arrow.Array, error) {
	vt := viewType(a.DataType())
	if vt == a.DataType() {
		a.Retain()
		return a, nil
	}
	switch x := a.(type) {
	case *array.Float16:
		mem := compute.GetAllocator(ctx)
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		b.Reserve(x.Len())
		for i := 0; i < x.Len(); i++ {
			if x.IsNull(i) {
				b.AppendNull()
			} else {
				b.UnsafeAppend(x.Value(i).Float32())
			}
		}
		return b.NewArray(), nil
	case *array.Dictionary:
		return compute.TakeArray(ctx, x.Dictionary(), x.Indices())
	}
	// Same layout, another type: share the buffers.
	d := a.Data()
	nd := array.NewData(vt, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd), nil
}

// structField returns field j of s (a new reference) with s's nulls: a
// field of a null struct is null.
func structField(mem memory.Allocator, s *array.Struct, j int) arrow.Array {
	f := s.Field(j)
	if s.NullN() == 0 {
		f.Retain()
		return f
	}
	sd, fd := s.Data(), f.Data()
	sbits := sd.Buffers()[0].Bytes()
	fbits := sbits
	foff := sd.Offset()
	if fd.Buffers()[0] != nil {
		fbits, foff = fd.Buffers()[0].Bytes(), fd.Offset()
	}
	valid := bitutil.BitmapAndAlloc(mem, sbits, fbits, int64(sd.Offset()), int64(foff), int64(s.Len()), int64(fd.Offset()))
	defer valid.Release()
	bufs := append([]*memory.Buffer{valid}, fd.Buffers()[1:]...)
	nd := array.NewData(fd.DataType(), fd.Len(), bufs, fd.Children(), array.UnknownNullCount, fd.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}
