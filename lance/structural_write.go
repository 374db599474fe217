package lance

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
	"github.com/flightwal/flightwal/lance/lancepb/file2pb"
)

// The writer of data files 2.1 and 2.2 (shared/LANCE_2_1.md section 6):
// one column per leaf field; each page is
//
//   - mini-block, uncompressed: flat, variable{flat 32|64} or
//     fixed_size_list{D, flat}, with item validity when the items have
//     nulls; repetition and definition levels as raw u16 (flat{16}).
//     Chunks hold 2^k values (the last one the rest) and at most
//     miniChunkBytes; a page of a list column is one chunk (repetition
//     index [rows, 0]); or
//   - full-zip for values of 256 bytes or more (vectors, long strings):
//     fixed width with a control byte for nulls, or variable width with a
//     u32 length and a repetition index of row starts.
//
// 2.2 differs only in the u32 chunk metadata words and value buffer sizes
// (has_large_chunk). Field metadata asking for compression is ignored:
// the files are plain, which any Lance reader accepts.

const (
	pageLayoutURL = "/lance.encodings21.PageLayout"
	// miniChunkBytes bounds a mini-block chunk's values; a 2.1 chunk is
	// at most 32 KiB with its header and levels.
	miniChunkBytes = 8 << 10
	// miniChunkMax is the most values in one chunk.
	miniChunkMax = 1024
	// fullZipMin is the value size from which pages are full-zip.
	fullZipMin = 256
	// listPageBytes bounds the values of a list column's page (one chunk).
	listPageBytes = 24 << 10
)

// arrowLeaves lists the leaf paths of an Arrow type in pre-order.
func arrowLeaves(dt arrow.DataType, path leafPath, out *[]leafPath) {
	path.types = append(append([]arrow.DataType(nil), path.types...), dt)
	switch t := dt.(type) {
	case *arrow.StructType:
		for i := range t.NumFields() {
			p := path
			p.child = append(append([]int(nil), path.child...), i)
			arrowLeaves(t.Field(i).Type, p, out)
		}
		return
	case *arrow.ListType:
		p := path
		p.child = append(append([]int(nil), path.child...), 0)
		arrowLeaves(t.Elem(), p, out)
		return
	case *arrow.LargeListType:
		p := path
		p.child = append(append([]int(nil), path.child...), 0)
		arrowLeaves(t.Elem(), p, out)
		return
	}
	*out = append(*out, path)
}

// valueBuf collects a leaf's visible values.
type valueBuf struct {
	kind      int // valFixed, valBool, valVar
	width     int // fixed: bytes per value (dim items)
	dim       int // items per value (fixed_size_list), 1 otherwise
	itemBits  int
	large     bool // 64-bit offsets
	n         int
	data      []byte
	offs      []uint64 // variable: n+1
	itemValid []byte   // fixed_size_list item validity (n*dim bits), nil if none null
	hasItemNl bool
	maxLen    int
	// dict: the values are u32 indices into dict (a dictionary field)
	dict *dictUnifier
}

// dictUnifier collects the distinct values of dictionary arrays (their
// dictionaries may differ between batches) and numbers them from 0.
type dictUnifier struct {
	keys map[string]uint32
	vals *valueBuf
}

func newDictUnifier(dt *arrow.DictionaryType) (*dictUnifier, error) {
	vb, err := newValueBuf(dt.ValueType)
	if err != nil {
		return nil, err
	}
	if vb.kind == valBool || vb.dim != 1 {
		return nil, unsupportedf("write a dictionary of %s", dt.ValueType)
	}
	return &dictUnifier{keys: map[string]uint32{}, vals: vb}, nil
}

// index returns the unified index of row i of d (valid).
func (u *dictUnifier) index(d *array.Dictionary, i int) uint32 {
	dict, k := d.Dictionary(), d.GetValueIndex(i)
	var key []byte
	if u.vals.kind == valVar {
		large := dict.DataType().ID() == arrow.LARGE_STRING || dict.DataType().ID() == arrow.LARGE_BINARY
		key = binaryValue(dict, large, k)
	} else {
		dd := dict.Data()
		w := u.vals.width
		key = dd.Buffers()[1].Bytes()[(dd.Offset()+k)*w : (dd.Offset()+k+1)*w]
	}
	if x, ok := u.keys[string(key)]; ok {
		return x
	}
	x := uint32(len(u.keys))
	u.keys[string(key)] = x
	u.vals.add(dict, k, false)
	return x
}

const (
	valFixed = iota
	valBool
	valVar
)

func newValueBuf(dt arrow.DataType) (*valueBuf, error) {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		u, err := newDictUnifier(d)
		if err != nil {
			return nil, err
		}
		return &valueBuf{kind: valFixed, dim: 1, itemBits: 32, width: 4, dict: u}, nil
	}
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return &valueBuf{kind: valBool, dim: 1, itemBits: 1}, nil
	case *arrow.StringType, *arrow.BinaryType:
		return &valueBuf{kind: valVar, dim: 1, offs: []uint64{0}}, nil
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		return &valueBuf{kind: valVar, dim: 1, offs: []uint64{0}, large: true}, nil
	case *arrow.FixedSizeListType:
		ew, ok := bitWidth(t.Elem())
		if !ok || ew%8 != 0 {
			return nil, unsupportedf("write fixed_size_list of %s", t.Elem())
		}
		return &valueBuf{kind: valFixed, dim: int(t.Len()), itemBits: ew, width: int(t.Len()) * ew / 8}, nil
	}
	w, ok := bitWidth(dt)
	if !ok || w%8 != 0 {
		return nil, unsupportedf("write %s", dt)
	}
	return &valueBuf{kind: valFixed, dim: 1, itemBits: w, width: w / 8}, nil
}

// add appends value i of a (a leaf array), or a zero value if null.
func (v *valueBuf) add(a arrow.Array, i int, null bool) {
	if v.dict != nil {
		x := uint32(0)
		if !null {
			x = v.dict.index(a.(*array.Dictionary), i)
		}
		v.data = binary.LittleEndian.AppendUint32(v.data, x)
		v.n++
		return
	}
	switch v.kind {
	case valBool:
		if v.n%8 == 0 {
			v.data = append(v.data, 0)
		}
		if !null && a.(*array.Boolean).Value(i) {
			v.data[v.n/8] |= 1 << (v.n % 8)
		}
	case valVar:
		if !null {
			large := a.DataType().ID() == arrow.LARGE_STRING || a.DataType().ID() == arrow.LARGE_BINARY
			b := binaryValue(a, large, i)
			v.data = append(v.data, b...)
			v.maxLen = max(v.maxLen, len(b))
		}
		v.offs = append(v.offs, uint64(len(v.data)))
	default:
		if null {
			v.data = append(v.data, make([]byte, v.width)...)
			if v.dim > 1 || v.itemValid != nil {
				v.addItemValidity(nil, 0, false)
			}
			break
		}
		d := a.Data()
		if fsl, ok := a.(*array.FixedSizeList); ok {
			child := fsl.ListValues()
			start := (d.Offset() + i) * v.dim
			cd := child.Data()
			buf := cd.Buffers()[1].Bytes()
			eb := v.itemBits / 8
			off := (cd.Offset() + start) * eb
			v.data = append(v.data, buf[off:off+v.width]...)
			v.addItemValidity(child, start, true)
		} else {
			buf := d.Buffers()[1].Bytes()
			off := (d.Offset() + i) * v.width
			v.data = append(v.data, buf[off:off+v.width]...)
		}
	}
	v.n++
}

// addItemValidity appends the dim item validity bits of one value.
func (v *valueBuf) addItemValidity(child arrow.Array, start int, valid bool) {
	if v.dim <= 1 && v.itemValid == nil {
		return
	}
	have := v.n * v.dim
	if child != nil && child.NullN() > 0 && !v.hasItemNl {
		for k := range v.dim {
			if child.IsNull(start + k) {
				v.hasItemNl = true
				break
			}
		}
	}
	if v.itemValid == nil && !v.hasItemNl {
		return
	}
	if v.itemValid == nil {
		v.itemValid = allValidBits(have)
	}
	for k := range v.dim {
		pos := have + k
		if pos/8 >= len(v.itemValid) {
			v.itemValid = append(v.itemValid, 0)
		}
		ok := valid && (child == nil || child.IsValid(start+k))
		if ok {
			v.itemValid[pos/8] |= 1 << (pos % 8)
		} else {
			v.itemValid[pos/8] &^= 1 << (pos % 8)
		}
	}
}

// shredded is one leaf's levels and values for a page.
type shredded struct {
	k        int // leaf depth
	listAt   []bool
	maxRep   int
	rep      []uint16
	nullAt   []int8 // per entry: depth that is null or empty, -1 none
	empty    []bool
	vals     *valueBuf
	layers   []e21.RepDefLayer
	def      []uint16
	hasRep   bool
	hasDef   bool
	contReps []uint16 // per depth of a list: the rep of a continuing element
}

func newShredded(path leafPath) (*shredded, error) {
	k := len(path.types) - 1
	s := &shredded{k: k, listAt: make([]bool, k+1), contReps: make([]uint16, k+1)}
	var lists []int
	for t, dt := range path.types[:k] {
		if isListType(dt) {
			s.listAt[t] = true
			lists = append(lists, t)
		} else if dt.ID() != arrow.STRUCT {
			return nil, unsupportedf("write a field nested in %s", dt)
		}
	}
	if isListType(path.types[k]) || path.types[k].ID() == arrow.STRUCT {
		return nil, unsupportedf("write a leaf of type %s", path.types[k])
	}
	s.maxRep = len(lists)
	for q, t := range lists {
		s.contReps[t] = uint16(s.maxRep - 1 - q)
	}
	var err error
	s.vals, err = newValueBuf(path.types[k])
	return s, err
}

// emit shreds value i of a (the node at depth t along path).
func (s *shredded) emit(path leafPath, t int, a arrow.Array, i int, rep uint16) {
	if t == s.k {
		null := a.IsNull(i)
		s.entry(rep, t, false, null)
		s.vals.add(a, i, null)
		return
	}
	if a.IsNull(i) {
		s.entry(rep, t, false, true)
		// a null struct still holds a value slot unless a list lies below
		for d := t; d < s.k; d++ {
			if s.listAt[d] {
				return
			}
		}
		s.vals.add(a, i, true)
		return
	}
	switch x := a.(type) {
	case *array.Struct:
		s.emit(path, t+1, x.Field(path.child[t]), i, rep)
	case array.ListLike:
		lo, hi := x.ValueOffsets(i)
		if lo == hi {
			s.entry(rep, t, true, true)
			return
		}
		for j := lo; j < hi; j++ {
			r := rep
			if j > lo {
				r = s.contReps[t]
			}
			s.emit(path, t+1, x.ListValues(), int(j), r)
		}
	}
}

func (s *shredded) entry(rep uint16, depth int, empty, null bool) {
	s.rep = append(s.rep, rep)
	if null {
		s.nullAt = append(s.nullAt, int8(depth))
	} else {
		s.nullAt = append(s.nullAt, -1)
	}
	s.empty = append(s.empty, empty)
}

// finish picks the layers (the nullable/emptyable kinds only where the
// page needs them, as Lance does) and computes the definition levels.
func (s *shredded) finish(key string) error {
	hasNull := make([]bool, s.k+1)
	hasEmpty := make([]bool, s.k+1)
	for e, d := range s.nullAt {
		if d < 0 {
			continue
		}
		if s.empty[e] {
			hasEmpty[d] = true
		} else {
			hasNull[d] = true
		}
	}
	s.layers = make([]e21.RepDefLayer, s.k+1)
	for t := 0; t <= s.k; t++ {
		var l e21.RepDefLayer
		switch {
		case !s.listAt[t] && hasNull[t]:
			l = e21.RepDefLayer_REPDEF_NULLABLE_ITEM
		case !s.listAt[t]:
			l = e21.RepDefLayer_REPDEF_ALL_VALID_ITEM
		case hasNull[t] && hasEmpty[t]:
			l = e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST
		case hasNull[t]:
			l = e21.RepDefLayer_REPDEF_NULLABLE_LIST
		case hasEmpty[t]:
			l = e21.RepDefLayer_REPDEF_EMPTYABLE_LIST
		default:
			l = e21.RepDefLayer_REPDEF_ALL_VALID_LIST
		}
		s.layers[s.k-t] = l
	}
	meanings, err := defMeanings(key, s.layers)
	if err != nil {
		return err
	}
	_, s.hasDef = hasLevels(s.layers)
	s.hasRep = s.maxRep > 0
	if s.hasDef {
		s.def = make([]uint16, len(s.nullAt))
		for e, d := range s.nullAt {
			if d < 0 {
				continue
			}
			want := defMeaning{layer: s.k - int(d), empty: s.empty[e]}
			for c := 1; c < len(meanings); c++ {
				if meanings[c] == want {
					s.def[e] = uint16(c)
					break
				}
			}
		}
	}
	if !s.hasRep {
		s.rep = nil
	}
	return nil
}

// shredPage shreds the rows of parts (top-level arrays) along path.
func shredPage(key string, path leafPath, parts []arrow.Array) (*shredded, error) {
	s, err := newShredded(path)
	if err != nil {
		return nil, err
	}
	for _, a := range parts {
		for i := range a.Len() {
			s.emit(path, 0, a, i, uint16(s.maxRep))
		}
	}
	return s, s.finish(key)
}

// structuralPage is an encoded 2.1/2.2 page: its layout and buffers.
type structuralPage struct {
	layout *e21.PageLayout
	bufs   [][]byte
}

// encodeStructuralPage encodes a shredded page of rows rows.
func encodeStructuralPage(s *shredded, rows int, v22 bool) (*structuralPage, error) {
	if !s.hasRep && s.vals.n > 0 && s.vals.dict == nil {
		maxBytes := s.vals.width
		if s.vals.kind == valVar {
			maxBytes = s.vals.maxLen
		}
		if maxBytes >= fullZipMin {
			return encodeFullZip(s, rows)
		}
	}
	return encodeMiniBlock(s, rows, v22)
}

func flatEnc21(bits int) *e21.CompressiveEncoding {
	return &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_Flat{Flat: &e21.Flat{BitsPerValue: uint64(bits)}}}
}

// valueEncoding is the value compression of the page's values.
func (v *valueBuf) encoding() (*e21.CompressiveEncoding, int) {
	switch v.kind {
	case valBool:
		return flatEnc21(1), 1
	case valVar:
		w := 32
		if v.large {
			w = 64
		}
		return &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_Variable{Variable: &e21.Variable{Offsets: flatEnc21(w)}}}, 1
	}
	if v.dim > 1 || v.itemValid != nil {
		nb := 1
		if v.itemValid != nil {
			nb = 2
		}
		return &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_FixedSizeList{FixedSizeList: &e21.FixedSizeList{
			ItemsPerValue: uint64(v.dim), Values: flatEnc21(v.itemBits), HasValidity: v.itemValid != nil,
		}}}, nb
	}
	return flatEnc21(v.itemBits), 1
}

// blockEncoding encodes all the values as one block (dictionary items):
// flat{W}, or variable{flat 32} as [u32 32][u32 data start][u32 offsets
// from 0][bytes].
func (v *valueBuf) blockEncoding() (*e21.CompressiveEncoding, []byte) {
	if v.kind != valVar {
		return flatEnc21(v.itemBits), append([]byte(nil), v.data...)
	}
	out := make([]byte, 0, 8+4*(v.n+1)+len(v.data))
	out = binary.LittleEndian.AppendUint32(out, 32)
	out = binary.LittleEndian.AppendUint32(out, uint32(8+4*(v.n+1)))
	for _, o := range v.offs {
		out = binary.LittleEndian.AppendUint32(out, uint32(o))
	}
	out = append(out, v.data...)
	return &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_Variable{Variable: &e21.Variable{Offsets: flatEnc21(32)}}}, out
}

// chunkBuffers returns the value buffers of values [lo, hi).
func (v *valueBuf) chunkBuffers(lo, hi int) [][]byte {
	switch v.kind {
	case valBool:
		return [][]byte{sliceBits(v.data, lo, hi-lo)}
	case valVar:
		n := hi - lo
		w := 4
		if v.large {
			w = 8
		}
		head := (n + 1) * w
		body := v.offs[hi] - v.offs[lo]
		out := make([]byte, 0, head+int(body)+4)
		for i := lo; i <= hi; i++ {
			o := uint64(head) + v.offs[i] - v.offs[lo]
			if w == 4 {
				out = binary.LittleEndian.AppendUint32(out, uint32(o))
			} else {
				out = binary.LittleEndian.AppendUint64(out, o)
			}
		}
		out = append(out, v.data[v.offs[lo]:v.offs[hi]]...)
		for len(out)%w != 0 { // Lance reads the buffer as offset-width words
			out = append(out, 0)
		}
		return [][]byte{out}
	}
	vals := v.data[lo*v.width : hi*v.width]
	if v.itemValid != nil {
		return [][]byte{sliceBits(v.itemValid, lo*v.dim, (hi-lo)*v.dim), vals}
	}
	return [][]byte{vals}
}

// sliceBits copies n bits of bm from bit off.
func sliceBits(bm []byte, off, n int) []byte {
	out := make([]byte, (n+7)/8)
	if off%8 == 0 {
		copy(out, bm[off/8:])
		if n%8 != 0 {
			out[len(out)-1] &= byte(1)<<(n%8) - 1
		}
		return out
	}
	bitutil.CopyBitmap(bm, off, n, out, 0)
	return out
}

func u16s(v []uint16) []byte {
	out := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(out[2*i:], x)
	}
	return out
}

func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// encodeMiniBlock writes a mini-block page.
func encodeMiniBlock(s *shredded, rows int, v22 bool) (*structuralPage, error) {
	v := s.vals
	enc, nb := v.encoding()
	ww := 2
	if v22 {
		ww = 4
	}
	// Chunks: [value lo, value hi, entry lo, entry hi).
	type chunk struct{ vlo, vhi, elo, ehi int }
	var chunks []chunk
	entries := len(s.nullAt)
	if s.hasRep {
		chunks = []chunk{{0, v.n, 0, entries}}
	} else {
		// without repetition every entry holds a value
		for lo := 0; lo < v.n; {
			n := miniChunkMax
			for n > 1 && chunkValueBytes(v, lo, min(v.n, lo+n)) > miniChunkBytes {
				n /= 2
			}
			hi := min(v.n, lo+n)
			chunks = append(chunks, chunk{lo, hi, lo, hi})
			lo = hi
		}
		if v.n == 0 {
			chunks = []chunk{{0, 0, 0, entries}}
		}
	}
	var meta, data []byte
	for ci, c := range chunks {
		bufs := v.chunkBuffers(c.vlo, c.vhi)
		var b []byte
		levels := 0
		if s.hasRep || s.hasDef {
			levels = c.ehi - c.elo
		}
		if levels > 0xffff {
			return nil, unsupportedf("a mini-block chunk of %d levels", levels)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(levels))
		var rep, def []byte
		if s.hasRep {
			rep = u16s(s.rep[c.elo:c.ehi])
			b = binary.LittleEndian.AppendUint16(b, uint16(len(rep)))
		}
		if s.hasDef {
			def = u16s(s.def[c.elo:c.ehi])
			b = binary.LittleEndian.AppendUint16(b, uint16(len(def)))
		}
		for _, x := range bufs {
			if ww == 2 && len(x) > 0xffff {
				return nil, unsupportedf("a 2.1 mini-block buffer of %d bytes", len(x))
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(len(x)))[:len(b)+ww]
		}
		b = pad8(b)
		if rep != nil {
			b = pad8(append(b, rep...))
		}
		if def != nil {
			b = pad8(append(b, def...))
		}
		for _, x := range bufs {
			b = pad8(append(b, x...))
		}
		words := len(b)/8 - 1
		if !v22 && words >= 1<<12 || words >= 1<<28 {
			return nil, unsupportedf("a mini-block chunk of %d bytes", len(b))
		}
		log := 0
		if ci < len(chunks)-1 {
			log = bits.TrailingZeros(uint(c.vhi - c.vlo))
		}
		meta = binary.LittleEndian.AppendUint32(meta, uint32(words<<4|log))[:len(meta)+ww]
		data = append(data, b...)
	}
	mb := &e21.MiniBlockLayout{
		ValueCompression: enc,
		Layers:           s.layers,
		NumBuffers:       uint64(nb),
		NumItems:         uint64(v.n),
		HasLargeChunk:    v22,
	}
	var dictBuf []byte
	if v.dict != nil {
		mb.Dictionary, dictBuf = v.dict.vals.blockEncoding()
		mb.NumDictionaryItems = uint64(v.dict.vals.n)
	}
	if s.hasRep {
		mb.RepCompression = flatEnc21(16)
	}
	if s.hasDef {
		mb.DefCompression = flatEnc21(16)
	}
	bufs := [][]byte{meta, data}
	if dictBuf != nil {
		bufs = append(bufs, dictBuf)
	}
	if s.hasRep {
		mb.RepetitionIndexDepth = 1
		var ri []byte
		ri = binary.LittleEndian.AppendUint64(ri, uint64(rows))
		ri = binary.LittleEndian.AppendUint64(ri, 0)
		bufs = append(bufs, ri)
	}
	return &structuralPage{layout: &e21.PageLayout{Layout: &e21.PageLayout_MiniBlockLayout{MiniBlockLayout: mb}}, bufs: bufs}, nil
}

// chunkValueBytes is the size of values [lo, hi).
func chunkValueBytes(v *valueBuf, lo, hi int) int {
	switch v.kind {
	case valBool:
		return (hi - lo + 7) / 8
	case valVar:
		return int(v.offs[hi]-v.offs[lo]) + 8*(hi-lo+1)
	}
	return (hi - lo) * (v.width + (v.dim+7)/8)
}

// encodeFullZip writes a full-zip page of a leaf without repetition.
func encodeFullZip(s *shredded, rows int) (*structuralPage, error) {
	v := s.vals
	if v.n != rows || len(s.nullAt) != rows {
		return nil, fmt.Errorf("lance: full-zip page of %d values for %d rows", v.n, rows)
	}
	fz := &e21.FullZipLayout{Layers: s.layers, NumItems: uint32(rows), NumVisibleItems: uint32(rows)}
	cw := 0
	if s.hasDef {
		maxDef := 0
		for _, d := range s.def {
			maxDef = max(maxDef, int(d))
		}
		fz.BitsDef = uint32(max(1, bits.Len(uint(maxDef))))
		cw = 1
	}
	var out []byte
	switch v.kind {
	case valVar:
		fz.Details = &e21.FullZipLayout_BitsPerOffset{BitsPerOffset: 32}
		fz.ValueCompression = &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_Variable{Variable: &e21.Variable{Offsets: flatEnc21(32)}}}
		starts := make([]uint64, 0, rows+1)
		for i := range rows {
			starts = append(starts, uint64(len(out)))
			if cw > 0 {
				out = append(out, byte(s.def[i]))
			}
			if cw == 0 || s.def[i] == 0 {
				b := v.data[v.offs[i]:v.offs[i+1]]
				if uint64(len(b)) > 1<<32-1 {
					return nil, unsupportedf("a value of %d bytes", len(b))
				}
				out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
				out = append(out, b...)
			}
		}
		starts = append(starts, uint64(len(out)))
		w := 1
		switch last := starts[rows]; {
		case last > 1<<32-1:
			w = 8
		case last > 0xffff:
			w = 4
		case last > 0xff:
			w = 2
		}
		ri := make([]byte, w*(rows+1))
		for i, st := range starts {
			putUint(ri[i*w:], w, st)
		}
		return &structuralPage{layout: &e21.PageLayout{Layout: &e21.PageLayout_FullZipLayout{FullZipLayout: fz}}, bufs: [][]byte{out, ri}}, nil
	case valBool:
		return nil, fmt.Errorf("lance: full-zip page of booleans")
	}
	vb := 0
	if v.itemValid != nil {
		vb = (v.dim + 7) / 8
	}
	fz.Details = &e21.FullZipLayout_BitsPerValue{BitsPerValue: uint32(8 * (v.width + vb))}
	enc, _ := v.encoding()
	fz.ValueCompression = enc
	out = make([]byte, 0, rows*(cw+vb+v.width))
	for i := range rows {
		if cw > 0 {
			out = append(out, byte(s.def[i]))
		}
		if vb > 0 {
			out = append(out, sliceBits(v.itemValid, i*v.dim, v.dim)...)
		}
		out = append(out, v.data[i*v.width:(i+1)*v.width]...)
	}
	return &structuralPage{layout: &e21.PageLayout{Layout: &e21.PageLayout_FullZipLayout{FullZipLayout: fz}}, bufs: [][]byte{out}}, nil
}

// writeStructuralColumns writes the columns (one per leaf) of top-level
// field f, given as chunks, and returns their metadata.
func (w *fileWriter) writeStructuralColumns(f arrow.Field, chunks []arrow.Array, v22 bool, colEnc *file2pb.Encoding) ([][]byte, error) {
	var leaves []leafPath
	arrowLeaves(f.Type, leafPath{}, &leaves)
	hasList := false
	for _, l := range leaves {
		for _, t := range l.types {
			hasList = hasList || isListType(t)
		}
	}
	var out [][]byte
	for _, leaf := range leaves {
		cm := &file2pb.ColumnMetadata{Encoding: colEnc}
		pages := paginate(chunks)
		first := uint64(0)
		for pi := range pages {
			pg := &pages[pi]
			err := w.writeStructuralRows(cm, leaf, pg.parts, pg.rows, &first, v22, hasList)
			pg.release()
			if err != nil {
				return nil, fmt.Errorf("lance: column %q: %w", f.Name, err)
			}
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(cm)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// writeStructuralRows writes rows of parts as one or more pages: a list
// column's page must fit one chunk, so it is halved until it does.
func (w *fileWriter) writeStructuralRows(cm *file2pb.ColumnMetadata, leaf leafPath, parts []arrow.Array, rows int, first *uint64, v22, hasList bool) error {
	s, err := shredPage("", leaf, parts)
	if err != nil {
		return err
	}
	if hasList && rows > 1 && (len(s.nullAt) > 0xffff || chunkValueBytes(s.vals, 0, s.vals.n)+4*len(s.nullAt) > listPageBytes) {
		// split in two
		half := rows / 2
		var a, b []arrow.Array
		seen := 0
		for _, p := range parts {
			n := p.Len()
			switch {
			case seen+n <= half:
				a = append(a, p)
			case seen >= half:
				b = append(b, p)
			default:
				cut := half - seen
				a = append(a, array.NewSlice(p, 0, int64(cut)))
				b = append(b, array.NewSlice(p, int64(cut), int64(n)))
				defer a[len(a)-1].Release()
				defer b[0].Release()
			}
			seen += n
		}
		if err := w.writeStructuralRows(cm, leaf, a, half, first, v22, hasList); err != nil {
			return err
		}
		return w.writeStructuralRows(cm, leaf, b, rows-half, first, v22, hasList)
	}
	sp, err := encodeStructuralPage(s, rows, v22)
	if err != nil {
		return err
	}
	page := &file2pb.ColumnMetadata_Page{Length: uint64(rows), Priority: *first}
	for _, b := range sp.bufs {
		pos, size := w.writeBuffer(b)
		page.BufferOffsets = append(page.BufferOffsets, pos)
		page.BufferSizes = append(page.BufferSizes, size)
	}
	if page.Encoding, err = directEncoding(pageLayoutURL, sp.layout); err != nil {
		return err
	}
	cm.Pages = append(cm.Pages, page)
	*first += uint64(rows)
	return nil
}

// toArray returns the values as an Arrow array of type dt (binary-like or
// fixed width), the last one null if lastNull.
func (v *valueBuf) toArray(dt arrow.DataType, lastNull bool) (arrow.Array, error) {
	valid := make([]bool, v.n)
	for i := range valid {
		valid[i] = !(lastNull && i == v.n-1)
	}
	blk := &block{n: v.n, bits: v.itemBits, dim: v.dim, data: v.data}
	if v.kind == valVar {
		blk.bits, blk.offs = 0, v.offs
	}
	return blockToArray(memory.DefaultAllocator, "", dt, blk, valid)
}
