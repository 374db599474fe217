package lance

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"google.golang.org/protobuf/proto"

	ep "github.com/flightwal/flightwal/lance/lancepb/encodingspb"
	"github.com/flightwal/flightwal/lance/lancepb/file2pb"
)

// Page encodings written by flightwal (shared/LANCE_FORMAT.md section 5):
//
//	fixed width, bool:  nullable{no_nulls|some_nulls|all_nulls} over flat{W}
//	vector:             nullable{...} over fixed_size_list{D, items: nullable{...} over flat{W}}
//	string, binary:     binary{indices: nullable{no_nulls{flat{64}}}, bytes: flat{8}, null_adjustment: L+1}
//
// Buffer indices are assigned in the order Lance's encoder assigns them:
// a nullable's validity before its values, a binary's indices before its bytes.

// pageBuffers collects the buffers of one page; a buffer's index is its
// position. A buffer is a list of segments written back to back, so
// fixed-width values go from the Arrow buffers to the file in one copy.
type pageBuffers struct{ bufs [][][]byte }

func (p *pageBuffers) add(b []byte) uint32 { return p.addSegs([][]byte{b}) }

func (p *pageBuffers) addSegs(segs [][]byte) uint32 {
	p.bufs = append(p.bufs, segs)
	return uint32(len(p.bufs) - 1)
}

func flatEnc(bits uint64, buf uint32) *ep.ArrayEncoding {
	return &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_Flat{Flat: &ep.Flat{
		BitsPerValue: bits,
		Buffer:       &ep.Buffer{BufferIndex: buf, BufferType: ep.Buffer_page},
	}}}
}

func nullableEnc(n *ep.Nullable) *ep.ArrayEncoding {
	return &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_Nullable{Nullable: n}}
}

// encodePage encodes n rows of type dt given as consecutive array slices.
func encodePage(dt arrow.DataType, parts []arrow.Array, n int) (*ep.ArrayEncoding, [][][]byte, error) {
	p := &pageBuffers{}
	enc, err := encodeArray(p, dt, parts, n)
	if err != nil {
		return nil, nil, err
	}
	return enc, p.bufs, nil
}

func encodeArray(p *pageBuffers, dt arrow.DataType, parts []arrow.Array, n int) (*ep.ArrayEncoding, error) {
	switch t := dt.(type) {
	case *arrow.DictionaryType:
		return encodeDictionary20(p, t, parts, n)
	case *arrow.StringType, *arrow.BinaryType:
		return encodeBinary(p, parts, n, false), nil
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		return encodeBinary(p, parts, n, true), nil
	case *arrow.FixedSizeListType:
		return encodeNullable(p, parts, n, func() (*ep.ArrayEncoding, error) {
			d := int(t.Len())
			items := make([]arrow.Array, 0, len(parts))
			for _, a := range parts {
				data := a.Data()
				child := data.Children()[0]
				items = append(items, sliceData(child, (data.Offset())*d, a.Len()*d))
			}
			inner, err := encodeArray(p, t.Elem(), items, n*d)
			for _, it := range items {
				it.Release()
			}
			if err != nil {
				return nil, err
			}
			return &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_FixedSizeList{FixedSizeList: &ep.FixedSizeList{
				Dimension: uint32(d), Items: inner,
			}}}, nil
		})
	case *arrow.BooleanType:
		return encodeNullable(p, parts, n, func() (*ep.ArrayEncoding, error) {
			return flatEnc(1, p.add(concatBits(parts, n, 1))), nil
		})
	case arrow.FixedWidthDataType:
		w := t.BitWidth()
		if w%8 != 0 {
			return nil, unsupportedf("encode %s", dt)
		}
		return encodeNullable(p, parts, n, func() (*ep.ArrayEncoding, error) {
			return flatEnc(uint64(w), p.addSegs(fixedSegments(parts, w/8))), nil
		})
	}
	return nil, unsupportedf("encode %s", dt)
}

// encodeNullable wraps the values encoding in Nullable; values runs after
// the validity buffer is numbered, as in Lance.
func encodeNullable(p *pageBuffers, parts []arrow.Array, n int, values func() (*ep.ArrayEncoding, error)) (*ep.ArrayEncoding, error) {
	nulls := 0
	for _, a := range parts {
		nulls += a.NullN()
	}
	switch {
	case nulls == n && n > 0:
		return nullableEnc(&ep.Nullable{Nullability: &ep.Nullable_AllNulls{AllNulls: &ep.Nullable_AllNull{}}}), nil
	case nulls == 0:
		v, err := values()
		if err != nil {
			return nil, err
		}
		return nullableEnc(&ep.Nullable{Nullability: &ep.Nullable_NoNulls{NoNulls: &ep.Nullable_NoNull{Values: v}}}), nil
	}
	validity := flatEnc(1, p.add(concatValidity(parts, n)))
	v, err := values()
	if err != nil {
		return nil, err
	}
	return nullableEnc(&ep.Nullable{Nullability: &ep.Nullable_SomeNulls{SomeNulls: &ep.Nullable_SomeNull{
		Validity: validity, Values: v,
	}}}), nil
}

// concatValidity is the LSB-first validity bitmap of the parts.
func concatValidity(parts []arrow.Array, n int) []byte {
	out := make([]byte, bitutil.BytesForBits(int64(n)))
	pos := 0
	for _, a := range parts {
		data := a.Data()
		if a.NullN() == 0 || len(data.Buffers()) == 0 || data.Buffers()[0] == nil {
			bitutil.SetBitsTo(out, int64(pos), int64(a.Len()), true)
		} else {
			bitutil.CopyBitmap(data.Buffers()[0].Bytes(), data.Offset(), a.Len(), out, pos)
		}
		pos += a.Len()
	}
	return out
}

// concatBits concatenates the bit-packed values buffer (buffer 1) of the parts.
func concatBits(parts []arrow.Array, n, _ int) []byte {
	out := make([]byte, bitutil.BytesForBits(int64(n)))
	pos := 0
	for _, a := range parts {
		data := a.Data()
		if b := data.Buffers()[1]; b != nil && a.Len() > 0 {
			bitutil.CopyBitmap(b.Bytes(), data.Offset(), a.Len(), out, pos)
		}
		pos += a.Len()
	}
	return out
}

// fixedSegments returns the values bytes of fixed-width parts, in order,
// without copying (zeros for parts without a values buffer).
func fixedSegments(parts []arrow.Array, width int) [][]byte {
	segs := make([][]byte, 0, len(parts))
	for _, a := range parts {
		data := a.Data()
		lo, hi := data.Offset()*width, (data.Offset()+a.Len())*width
		if b := data.Buffers()[1]; b != nil && b.Len() >= hi {
			segs = append(segs, b.Bytes()[lo:hi])
		} else {
			segs = append(segs, make([]byte, hi-lo))
		}
	}
	return segs
}

// encodeBinary writes end offsets (u64, no leading zero) and bytes. A null
// row stores its end offset plus null_adjustment = total bytes + 1, so any
// stored value >= null_adjustment marks a null and value % null_adjustment
// is the end offset.
func encodeBinary(p *pageBuffers, parts []arrow.Array, n int, large bool) *ep.ArrayEncoding {
	total := 0
	for _, a := range parts {
		if a.Len() > 0 {
			s, e := offsetRange(a, large)
			total += int(e - s)
		}
	}
	adj := uint64(total) + 1
	ends := make([]byte, 0, n*8)
	bytes := make([]byte, 0, total)
	for _, a := range parts {
		if a.Len() == 0 {
			continue
		}
		data := a.Data()
		base := uint64(len(bytes))
		s, e := offsetRange(a, large)
		if e > s {
			bytes = append(bytes, data.Buffers()[2].Bytes()[s:e]...)
		}
		for i := 0; i < a.Len(); i++ {
			end := base + uint64(offsetAt(a, large, i+1)-s)
			if a.IsNull(i) {
				end += adj
			}
			ends = appendU64(ends, end)
		}
	}
	indices := nullableEnc(&ep.Nullable{Nullability: &ep.Nullable_NoNulls{NoNulls: &ep.Nullable_NoNull{
		Values: flatEnc(64, p.add(ends)),
	}}})
	bytesEnc := flatEnc(8, p.add(bytes))
	return &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_Binary{Binary: &ep.Binary{
		Indices: indices, Bytes: bytesEnc, NullAdjustment: adj,
	}}}
}

func appendU64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// offsetAt is the i-th entry of a binary-like array's offsets (relative to
// the array's own slice offset).
func offsetAt(a arrow.Array, large bool, i int) int64 {
	data := a.Data()
	b := data.Buffers()[1].Bytes()
	if large {
		return arrow.Int64Traits.CastFromBytes(b)[data.Offset()+i]
	}
	return int64(arrow.Int32Traits.CastFromBytes(b)[data.Offset()+i])
}

func offsetRange(a arrow.Array, large bool) (int64, int64) {
	return offsetAt(a, large, 0), offsetAt(a, large, a.Len())
}

// sliceData is the array view of rows [off, off+n) of d; release it.
func sliceData(d arrow.ArrayData, off, n int) arrow.Array {
	sd := array.NewSliceData(d, int64(off), int64(off+n))
	defer sd.Release()
	return array.MakeFromData(sd)
}

// writeNested20 writes a struct or list field to a 2.0 file: a column per
// field in pre-order. A struct column holds empty SimpleStruct pages (2.0
// stores no struct validity, so a null struct is refused); a list column
// holds one List page per chunk (end offsets from the page's first item,
// a null list's end plus null_offset_adjustment) and its item field's
// column the items.
func (w *fileWriter) writeNested20(f arrow.Field, chunks []arrow.Array, colEnc *file2pb.Encoding) ([][]byte, error) {
	cm := &file2pb.ColumnMetadata{Encoding: colEnc}
	marshal := func(cm *file2pb.ColumnMetadata) ([]byte, error) {
		return proto.MarshalOptions{Deterministic: true}.Marshal(cm)
	}
	var out [][]byte
	first := uint64(0)
	addPage := func(rows int, enc *ep.ArrayEncoding, bufs ...[]byte) error {
		page := &file2pb.ColumnMetadata_Page{Length: uint64(rows), Priority: first}
		for _, b := range bufs {
			pos, size := w.writeBuffer(b)
			page.BufferOffsets = append(page.BufferOffsets, pos)
			page.BufferSizes = append(page.BufferSizes, size)
		}
		var err error
		if page.Encoding, err = directEncoding(arrayEncodingURL, enc); err != nil {
			return err
		}
		cm.Pages = append(cm.Pages, page)
		first += uint64(rows)
		return nil
	}
	switch t := f.Type.(type) {
	case *arrow.StructType:
		// Lance reads a 2.0 struct column of one page only.
		rows := 0
		for _, c := range chunks {
			if c.NullN() > 0 {
				return nil, unsupportedf("column %q: null structs in a 2.0 file (no struct validity there; use 2.1 or later)", f.Name)
			}
			rows += c.Len()
		}
		if err := addPage(rows, &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_Struct{Struct: &ep.SimpleStruct{}}}); err != nil {
			return nil, err
		}
		m, err := marshal(cm)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		for k := range t.NumFields() {
			kids := make([]arrow.Array, 0, len(chunks))
			for _, c := range chunks {
				kids = append(kids, c.(*array.Struct).Field(k))
			}
			ms, err := w.writeField20(t.Field(k), kids, colEnc)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
		}
		return out, nil
	case *arrow.ListType, *arrow.LargeListType:
		items := make([]arrow.Array, 0, len(chunks))
		defer func() {
			for _, it := range items {
				it.Release()
			}
		}()
		// One List page of every row: end offsets from the first item.
		rows, num := 0, uint64(0)
		for _, c := range chunks {
			l := c.(array.ListLike)
			start, _ := l.ValueOffsets(0)
			_, end := l.ValueOffsets(c.Len() - 1)
			num += uint64(end - start)
			rows += c.Len()
		}
		adj := num + 1
		ends := make([]byte, 0, 8*rows)
		base := uint64(0)
		for _, c := range chunks {
			l := c.(array.ListLike)
			start, _ := l.ValueOffsets(0)
			_, end := l.ValueOffsets(c.Len() - 1)
			for i := range c.Len() {
				_, e := l.ValueOffsets(i)
				v := base + uint64(e-start)
				if c.IsNull(i) {
					v += adj
				}
				ends = binary.LittleEndian.AppendUint64(ends, v)
			}
			if end > start {
				items = append(items, array.NewSlice(l.ListValues(), start, end))
			}
			base += uint64(end - start)
		}
		enc := &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_List{List: &ep.List{
			Offsets:              nullableEnc(&ep.Nullable{Nullability: &ep.Nullable_NoNulls{NoNulls: &ep.Nullable_NoNull{Values: flatEnc(64, 0)}}}),
			NullOffsetAdjustment: adj,
			NumItems:             num,
		}}}
		if err := addPage(rows, enc, ends); err != nil {
			return nil, err
		}
		m, err := marshal(cm)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		ms, err := w.writeField20(t.(arrow.ListLikeType).ElemField(), items, colEnc)
		if err != nil {
			return nil, err
		}
		return append(out, ms...), nil
	}
	return nil, unsupportedf("write %s as nested", f.Type)
}

// writeField20 writes one field (nested or not) of a 2.0 file.
func (w *fileWriter) writeField20(f arrow.Field, chunks []arrow.Array, colEnc *file2pb.Encoding) ([][]byte, error) {
	if isNested(f.Type) {
		return w.writeNested20(f, chunks, colEnc)
	}
	cm := &file2pb.ColumnMetadata{Encoding: colEnc}
	first := uint64(0)
	pages := paginate(chunks)
	for pi := range pages {
		pg := &pages[pi]
		enc, bufs, err := encodePage(f.Type, pg.parts, pg.rows)
		if err != nil {
			pg.release()
			return nil, fmt.Errorf("lance: column %q: %w", f.Name, err)
		}
		page := &file2pb.ColumnMetadata_Page{Length: uint64(pg.rows), Priority: first}
		for _, segs := range bufs {
			pos, size := w.writeBuffer(segs...)
			page.BufferOffsets = append(page.BufferOffsets, pos)
			page.BufferSizes = append(page.BufferSizes, size)
		}
		pg.release()
		if page.Encoding, err = directEncoding(arrayEncodingURL, enc); err != nil {
			return nil, err
		}
		cm.Pages = append(cm.Pages, page)
		first += uint64(pg.rows)
	}
	m, err := proto.MarshalOptions{Deterministic: true}.Marshal(cm)
	if err != nil {
		return nil, err
	}
	return [][]byte{m}, nil
}

// encodeDictionary20 writes an Arrow dictionary field as Lance 2.0 does:
// dictionary{indices: flat{32}, items, num_dictionary_items} with 0-based
// indices into the items (the distinct values of every batch's
// dictionary), and a null item last for the null rows.
func encodeDictionary20(p *pageBuffers, t *arrow.DictionaryType, parts []arrow.Array, n int) (*ep.ArrayEncoding, error) {
	u, err := newDictUnifier(t)
	if err != nil {
		return nil, err
	}
	idx := make([]uint32, 0, n)
	nulls := 0
	for _, a := range parts {
		d := a.(*array.Dictionary)
		for i := range d.Len() {
			if d.IsNull(i) {
				idx = append(idx, ^uint32(0))
				nulls++
				continue
			}
			idx = append(idx, u.index(d, i))
		}
	}
	nItems := u.vals.n
	if nulls > 0 {
		for i, x := range idx {
			if x == ^uint32(0) {
				idx[i] = uint32(nItems)
			}
		}
		u.vals.add(nil, 0, true)
	}
	items, err := u.vals.toArray(t.ValueType, nulls > 0)
	if err != nil {
		return nil, err
	}
	defer items.Release()
	ib := make([]byte, 0, 4*n)
	for _, x := range idx {
		ib = binary.LittleEndian.AppendUint32(ib, x)
	}
	indices := nullableEnc(&ep.Nullable{Nullability: &ep.Nullable_NoNulls{NoNulls: &ep.Nullable_NoNull{Values: flatEnc(32, p.add(ib))}}})
	itemsEnc, err := encodeArray(p, t.ValueType, []arrow.Array{items}, items.Len())
	if err != nil {
		return nil, err
	}
	return &ep.ArrayEncoding{ArrayEncoding: &ep.ArrayEncoding_Dictionary{Dictionary: &ep.Dictionary{
		Indices: indices, Items: itemsEnc, NumDictionaryItems: uint32(items.Len()),
	}}}, nil
}
