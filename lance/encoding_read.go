package lance

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	ep "github.com/flightwal/flightwal/lance/lancepb/encodingspb"
)

// The 2.0 page decoder. It understands every encoding Lance's 2.0 writer
// emits for flightwal's column types: flat (uncompressed), nullable,
// fixed_size_list, binary and dictionary (low-cardinality strings). Each
// decode checks buffer sizes against the row count first, so a corrupt
// page yields an error, never a panic or an out-of-range read.
//
// Fixed-width values are not copied: the returned array references the
// bytes read from storage. Validity bitmaps and offsets that need
// rewriting are allocated from mem.

// pageSource resolves an encoding's Buffer to bytes.
type pageSource struct {
	key    string   // data file, for errors
	page   [][]byte // the page's buffers
	column [][]byte // the column's metadata buffers
}

func (s *pageSource) buffer(b *ep.Buffer) ([]byte, error) {
	if b == nil {
		return nil, corruptf(s.key, "encoding without buffer")
	}
	var set [][]byte
	switch b.GetBufferType() {
	case ep.Buffer_page:
		set = s.page
	case ep.Buffer_column:
		set = s.column
	default:
		return nil, unsupportedf("%s: file-level encoding buffers", s.key)
	}
	if int(b.GetBufferIndex()) >= len(set) {
		return nil, corruptf(s.key, "buffer %d of %d (%s)", b.GetBufferIndex(), len(set), b.GetBufferType())
	}
	return set[b.GetBufferIndex()], nil
}

// decodeArray decodes n rows of type dt.
func decodeArray(mem memory.Allocator, src *pageSource, enc *ep.ArrayEncoding, dt arrow.DataType, n int) (arrow.Array, error) {
	switch e := enc.GetArrayEncoding().(type) {
	case *ep.ArrayEncoding_Nullable:
		return decodeNullable(mem, src, e.Nullable, dt, n)
	case *ep.ArrayEncoding_Flat:
		return decodeFlat(src, e.Flat, dt, n)
	case *ep.ArrayEncoding_FixedSizeList:
		return decodeFSL(mem, src, e.FixedSizeList, dt, n)
	case *ep.ArrayEncoding_Binary:
		return decodeBinary(mem, src, e.Binary, dt, n)
	case *ep.ArrayEncoding_Dictionary:
		return decodeDictionary(mem, src, e.Dictionary, dt, n)
	case nil:
		return nil, corruptf(src.key, "empty array encoding")
	}
	return nil, unsupportedf("%s: array encoding %T for %s", src.key, enc.GetArrayEncoding(), dt)
}

func decodeNullable(mem memory.Allocator, src *pageSource, nl *ep.Nullable, dt arrow.DataType, n int) (arrow.Array, error) {
	switch x := nl.GetNullability().(type) {
	case *ep.Nullable_NoNulls:
		return decodeArray(mem, src, x.NoNulls.GetValues(), dt, n)
	case *ep.Nullable_AllNulls:
		return array.MakeArrayOfNull(mem, dt, n), nil
	case *ep.Nullable_SomeNulls:
		validity, err := decodeBits(src, x.SomeNulls.GetValidity(), n)
		if err != nil {
			return nil, err
		}
		values, err := decodeArray(mem, src, x.SomeNulls.GetValues(), dt, n)
		if err != nil {
			return nil, err
		}
		defer values.Release()
		return withValidity(mem, values, validity, n), nil
	}
	return nil, corruptf(src.key, "nullable encoding without a case")
}

// withValidity returns values with its null bitmap replaced by the AND of
// its own validity (if any) and validity (n bits at offset 0).
func withValidity(mem memory.Allocator, values arrow.Array, validity []byte, n int) arrow.Array {
	data := values.Data()
	bm := memory.NewResizableBuffer(mem)
	bm.Resize(int(bitutil.BytesForBits(int64(n))))
	out := bm.Bytes()
	bitutil.CopyBitmap(validity, 0, n, out, 0)
	if own := data.Buffers()[0]; own != nil && values.NullN() > 0 {
		bitutil.BitmapAnd(out, own.Bytes(), 0, int64(data.Offset()), out, 0, int64(n))
	}
	bufs := append([]*memory.Buffer{bm}, data.Buffers()[1:]...)
	nd := array.NewData(data.DataType(), n, bufs, data.Children(), array.UnknownNullCount, data.Offset())
	bm.Release()
	defer nd.Release()
	return array.MakeFromData(nd)
}

// decodeBits returns the bytes of a 1-bit flat encoding holding n bits.
func decodeBits(src *pageSource, enc *ep.ArrayEncoding, n int) ([]byte, error) {
	f := enc.GetFlat()
	if f == nil || f.GetBitsPerValue() != 1 {
		return nil, unsupportedf("%s: validity encoding %v", src.key, enc)
	}
	if f.GetCompression() != nil && f.GetCompression().GetScheme() != "" {
		return nil, unsupportedf("%s: compressed validity (%s)", src.key, f.GetCompression().GetScheme())
	}
	b, err := src.buffer(f.GetBuffer())
	if err != nil {
		return nil, err
	}
	if int64(len(b)) < bitutil.BytesForBits(int64(n)) {
		return nil, corruptf(src.key, "bitmap of %d bytes for %d rows", len(b), n)
	}
	return b, nil
}

// bitWidth is the stored bits per value of a fixed-width type.
func bitWidth(dt arrow.DataType) (int, bool) {
	fw, ok := dt.(arrow.FixedWidthDataType)
	if !ok {
		return 0, false
	}
	if _, isList := dt.(*arrow.FixedSizeListType); isList {
		return 0, false
	}
	return fw.BitWidth(), true
}

func decodeFlat(src *pageSource, f *ep.Flat, dt arrow.DataType, n int) (arrow.Array, error) {
	w, ok := bitWidth(dt)
	if !ok {
		return nil, unsupportedf("%s: flat encoding for %s", src.key, dt)
	}
	if f.GetBitsPerValue() != uint64(w) {
		return nil, corruptf(src.key, "flat encoding of %d bits for %s", f.GetBitsPerValue(), dt)
	}
	if f.GetCompression() != nil && f.GetCompression().GetScheme() != "" {
		return nil, unsupportedf("%s: compressed flat buffer (%s)", src.key, f.GetCompression().GetScheme())
	}
	b, err := src.buffer(f.GetBuffer())
	if err != nil {
		return nil, err
	}
	need := bitutil.BytesForBits(int64(n) * int64(w))
	if int64(len(b)) < need {
		return nil, corruptf(src.key, "%d bytes for %d values of %d bits", len(b), n, w)
	}
	data := array.NewData(dt, n, []*memory.Buffer{nil, memory.NewBufferBytes(b[:need])}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

func decodeFSL(mem memory.Allocator, src *pageSource, f *ep.FixedSizeList, dt arrow.DataType, n int) (arrow.Array, error) {
	t, ok := dt.(*arrow.FixedSizeListType)
	if !ok || f.GetDimension() != uint32(t.Len()) {
		return nil, corruptf(src.key, "fixed_size_list of dimension %d for %s", f.GetDimension(), dt)
	}
	if f.GetHasValidity() {
		return nil, unsupportedf("%s: fixed_size_list with inline validity", src.key)
	}
	items, err := decodeArray(mem, src, f.GetItems(), t.Elem(), n*int(t.Len()))
	if err != nil {
		return nil, err
	}
	defer items.Release()
	data := array.NewData(dt, n, []*memory.Buffer{nil}, []arrow.ArrayData{items.Data()}, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// decodeU64s decodes n unsigned integers (offsets or dictionary indices)
// stored as flat values of 8, 16, 32 or 64 bits, possibly under a
// no-nulls nullable.
func decodeUints(src *pageSource, enc *ep.ArrayEncoding, n int) (func(i int) uint64, error) {
	if nn := enc.GetNullable().GetNoNulls(); nn != nil {
		enc = nn.GetValues()
	}
	f := enc.GetFlat()
	if f == nil {
		return nil, unsupportedf("%s: integer encoding %v", src.key, enc)
	}
	if f.GetCompression() != nil && f.GetCompression().GetScheme() != "" {
		return nil, unsupportedf("%s: compressed integers (%s)", src.key, f.GetCompression().GetScheme())
	}
	b, err := src.buffer(f.GetBuffer())
	if err != nil {
		return nil, err
	}
	w := int(f.GetBitsPerValue())
	if w != 8 && w != 16 && w != 32 && w != 64 {
		return nil, unsupportedf("%s: %d-bit integers", src.key, w)
	}
	if len(b) < n*w/8 {
		return nil, corruptf(src.key, "%d bytes for %d values of %d bits", len(b), n, w)
	}
	switch w {
	case 8:
		return func(i int) uint64 { return uint64(b[i]) }, nil
	case 16:
		v := arrow.Uint16Traits.CastFromBytes(b[:n*2])
		return func(i int) uint64 { return uint64(v[i]) }, nil
	case 32:
		v := arrow.Uint32Traits.CastFromBytes(b[:n*4])
		return func(i int) uint64 { return uint64(v[i]) }, nil
	}
	v := arrow.Uint64Traits.CastFromBytes(b[:n*8])
	return func(i int) uint64 { return v[i] }, nil
}

// decodeRawBytes returns the whole buffer of an 8-bit flat encoding.
func decodeRawBytes(src *pageSource, enc *ep.ArrayEncoding) ([]byte, error) {
	if nn := enc.GetNullable().GetNoNulls(); nn != nil {
		enc = nn.GetValues()
	}
	f := enc.GetFlat()
	if f == nil || f.GetBitsPerValue() != 8 {
		return nil, unsupportedf("%s: bytes encoding %v", src.key, enc)
	}
	if f.GetCompression() != nil && f.GetCompression().GetScheme() != "" {
		return nil, unsupportedf("%s: compressed bytes (%s)", src.key, f.GetCompression().GetScheme())
	}
	return src.buffer(f.GetBuffer())
}

func isLargeBinary(dt arrow.DataType) (large, ok bool) {
	switch dt.ID() {
	case arrow.STRING, arrow.BINARY:
		return false, true
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return true, true
	}
	return false, false
}

// decodeBinary rebuilds Arrow offsets from Lance end offsets: value v >=
// null_adjustment marks a null row, v % null_adjustment is the row's end.
func decodeBinary(mem memory.Allocator, src *pageSource, b *ep.Binary, dt arrow.DataType, n int) (arrow.Array, error) {
	large, ok := isLargeBinary(dt)
	if !ok {
		return nil, corruptf(src.key, "binary encoding for %s", dt)
	}
	ends, err := decodeUints(src, b.GetIndices(), n)
	if err != nil {
		return nil, err
	}
	bytes, err := decodeRawBytes(src, b.GetBytes())
	if err != nil {
		return nil, err
	}
	adj := b.GetNullAdjustment()
	ob := newOffsets(mem, n, large)
	var validity *memory.Buffer
	nulls := 0
	prev := uint64(0)
	ob.set(0, 0)
	for i := 0; i < n; i++ {
		v := ends(i)
		end := v
		if adj > 0 {
			end = v % adj
			if v >= adj {
				if validity == nil {
					validity = memory.NewResizableBuffer(mem)
					validity.Resize(int(bitutil.BytesForBits(int64(n))))
					bitutil.SetBitsTo(validity.Bytes(), 0, int64(n), true)
				}
				bitutil.ClearBit(validity.Bytes(), i)
				nulls++
			}
		}
		if end < prev || end > uint64(len(bytes)) || (!large && end > 1<<31-1) {
			ob.buf.Release()
			if validity != nil {
				validity.Release()
			}
			return nil, corruptf(src.key, "string end offset %d at row %d (previous %d, %d bytes)", end, i, prev, len(bytes))
		}
		ob.set(i+1, end)
		prev = end
	}
	data := array.NewData(dt, n, []*memory.Buffer{validity, ob.buf, memory.NewBufferBytes(bytes[:prev])}, nil, nulls, 0)
	ob.buf.Release()
	if validity != nil {
		validity.Release()
	}
	defer data.Release()
	return array.MakeFromData(data), nil
}

// offsetsBuf is an Arrow offsets buffer of int32 or int64.
type offsetsBuf struct {
	buf   *memory.Buffer
	large bool
	i32   []int32
	i64   []int64
}

func newOffsets(mem memory.Allocator, n int, large bool) *offsetsBuf {
	o := &offsetsBuf{buf: memory.NewResizableBuffer(mem), large: large}
	if large {
		o.buf.Resize((n + 1) * 8)
		o.i64 = arrow.Int64Traits.CastFromBytes(o.buf.Bytes())
	} else {
		o.buf.Resize((n + 1) * 4)
		o.i32 = arrow.Int32Traits.CastFromBytes(o.buf.Bytes())
	}
	return o
}

func (o *offsetsBuf) set(i int, v uint64) {
	if o.large {
		o.i64[i] = int64(v)
	} else {
		o.i32[i] = int32(v)
	}
}

// decodeDictionary materializes a dictionary-encoded string page. Lance
// 2.0 stores 1-based indices; index 0 is a null row.
func decodeDictionary(mem memory.Allocator, src *pageSource, d *ep.Dictionary, dt arrow.DataType, n int) (arrow.Array, error) {
	large, ok := isLargeBinary(dt)
	if !ok {
		return nil, unsupportedf("%s: dictionary encoding for %s", src.key, dt)
	}
	idx, err := decodeUints(src, d.GetIndices(), n)
	if err != nil {
		return nil, err
	}
	nItems := int(d.GetNumDictionaryItems())
	items, err := decodeArray(mem, src, d.GetItems(), dt, nItems)
	if err != nil {
		return nil, err
	}
	defer items.Release()
	total := 0
	for i := 0; i < n; i++ {
		k := idx(i)
		if k == 0 {
			continue
		}
		if k > uint64(nItems) || items.IsNull(int(k-1)) {
			return nil, corruptf(src.key, "dictionary index %d of %d items at row %d", k, nItems, i)
		}
		total += int(offsetAt(items, large, int(k)) - offsetAt(items, large, int(k-1)))
	}
	if !large && total > 1<<31-1 {
		return nil, fmt.Errorf("lance: %s: dictionary page expands past 2 GiB", src.key)
	}
	ob := newOffsets(mem, n, large)
	vals := memory.NewResizableBuffer(mem)
	vals.Resize(total)
	out := vals.Bytes()[:0]
	var validity *memory.Buffer
	nulls := 0
	for i := 0; i < n; i++ {
		k := idx(i)
		if k == 0 {
			if validity == nil {
				validity = memory.NewResizableBuffer(mem)
				validity.Resize(int(bitutil.BytesForBits(int64(n))))
				bitutil.SetBitsTo(validity.Bytes(), 0, int64(n), true)
			}
			bitutil.ClearBit(validity.Bytes(), i)
			nulls++
		} else {
			out = append(out, binaryValue(items, large, int(k-1))...)
		}
		ob.set(i+1, uint64(len(out)))
	}
	data := array.NewData(dt, n, []*memory.Buffer{validity, ob.buf, vals}, nil, nulls, 0)
	ob.buf.Release()
	vals.Release()
	if validity != nil {
		validity.Release()
	}
	defer data.Release()
	return array.MakeFromData(data), nil
}

// binaryValue is row i of a binary-like array, without copying.
func binaryValue(a arrow.Array, large bool, i int) []byte {
	s, e := offsetAt(a, large, i), offsetAt(a, large, i+1)
	if e == s {
		return nil
	}
	return a.Data().Buffers()[2].Bytes()[s:e]
}
