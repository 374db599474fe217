package lance

import (
	"encoding/binary"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
)

// The page decoder of data files 2.1 and 2.2 (shared/LANCE_2_1.md): a
// page of one leaf column is a mini-block, full-zip or constant/all-null
// layout; decoding it yields the leaf's visible values plus its repetition
// and definition levels (leafData), which nested.go turns into Arrow
// arrays. Every size is checked against its buffer before anything is
// read or allocated, so a corrupt page is an ErrCorrupt error, never a
// panic or an allocation out of proportion to the page.

// block is decoded values: fixed width (bits > 0: n values of bits*dim
// bits, dim items each; bits 1 is a bitmap) or variable width (bits 0:
// value i is data[offs[i]:offs[i+1]]).
type block struct {
	n    int
	bits int // per item; 0 = variable width
	dim  int // items per value (fixed_size_list), 1 otherwise
	data []byte
	offs []uint64
	// itemValid is the item validity bitmap of a fixed_size_list with
	// nullable items (n*dim bits), nil if all valid.
	itemValid []byte
}

// valueBytes is the byte width of one fixed-width value (bits >= 8).
func (b *block) valueBytes() int { return b.bits * b.dim / 8 }

// appendBlock appends src to dst (same shape) and returns dst.
func appendBlock(key string, dst, src *block, hint int) (*block, error) {
	if dst == nil {
		c := *src
		// hint is the values expected in all: room for them up front
		hint = max(hint, src.n)
		if src.bits == 0 {
			// own the offsets so later appends do not alias src
			c.offs = append(make([]uint64, 0, hint+1), src.offs...)
			bytes := src.offs[src.n] - src.offs[0]
			room := bytes
			if src.n > 0 {
				room = min(bytes*uint64(hint)/uint64(src.n)+bytes/8, 1<<30)
			}
			c.data = append(make([]byte, 0, max(room, bytes)), src.data[src.offs[0]:src.offs[src.n]]...)
			base := src.offs[0]
			for i := range c.offs {
				c.offs[i] -= base
			}
		} else {
			room := (hint*src.dim*src.bits + 7) / 8
			c.data = append(make([]byte, 0, max(room, fixedLen(src))), src.data[:fixedLen(src)]...)
			c.itemValid = nil
			if src.itemValid != nil {
				c.itemValid = appendBits(nil, 0, src.itemValid, src.n*src.dim)
			}
		}
		return &c, nil
	}
	if dst.bits != src.bits || dst.dim != src.dim {
		return nil, corruptf(key, "chunks of %d-bit and %d-bit values", dst.bits, src.bits)
	}
	if src.bits == 0 {
		base := uint64(len(dst.data))
		dst.data = append(dst.data, src.data[src.offs[0]:src.offs[src.n]]...)
		for i := 1; i <= src.n; i++ {
			dst.offs = append(dst.offs, base+src.offs[i]-src.offs[0])
		}
	} else if src.bits == 1 {
		dst.data = appendBits(dst.data, dst.n*dst.dim, src.data, src.n*src.dim)
	} else {
		dst.data = append(dst.data, src.data[:fixedLen(src)]...)
	}
	if src.itemValid != nil || dst.itemValid != nil {
		dv := dst.itemValid
		if dv == nil {
			dv = allValidBits(dst.n * dst.dim)
		}
		sv := src.itemValid
		if sv == nil {
			sv = allValidBits(src.n * src.dim)
		}
		dst.itemValid = appendBits(dv, dst.n*dst.dim, sv, src.n*src.dim)
	}
	dst.n += src.n
	return dst, nil
}

func fixedLen(b *block) int { return (b.n*b.dim*b.bits + 7) / 8 }

func allValidBits(n int) []byte {
	b := make([]byte, (n+7)/8)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// appendBits appends the first n bits of src to the bitmap dst of have bits.
func appendBits(dst []byte, have int, src []byte, n int) []byte {
	dst = dst[:(have+7)/8]
	if have%8 == 0 {
		return append(dst, src[:(n+7)/8]...)
	}
	for i := range n {
		pos := have + i
		if pos/8 == len(dst) {
			dst = append(dst, 0)
		}
		if src[i/8]&(1<<(i%8)) != 0 {
			dst[pos/8] |= 1 << (pos % 8)
		} else {
			dst[pos/8] &^= 1 << (pos % 8)
		}
	}
	return dst
}

// leafData is one leaf column's decoded page (or pages, appended): the
// visible values and, when the column has them, one repetition and one
// definition level per entry.
type leafData struct {
	layers   []e21.RepDefLayer // innermost first
	rep, def []uint16          // nil when absent
	vals     *block
	entries  int // rep/def entries (= visible values when there are no levels)
	hint     int // values expected when appending chunks (capacity)
}

func (l *leafData) append(key string, o *leafData) error {
	if len(l.layers) != len(o.layers) {
		return corruptf(key, "pages with %d and %d layers", len(l.layers), len(o.layers))
	}
	for i := range l.layers {
		if l.layers[i] != o.layers[i] {
			// Lance picks the layer kinds per page (NULLABLE only when
			// the page has nulls): widen to the kind that covers both.
			if err := l.widen(key, i, o); err != nil {
				return err
			}
		}
	}
	levels := func(a, b []uint16, an, bn int) []uint16 {
		if a == nil && b == nil {
			return nil
		}
		if a == nil {
			a = make([]uint16, an, max(an+bn, l.hint))
		}
		if b == nil {
			b = make([]uint16, bn)
		}
		return append(a, b...)
	}
	l.rep = levels(l.rep, o.rep, l.entries, o.entries)
	l.def = levels(l.def, o.def, l.entries, o.entries)
	l.entries += o.entries
	var err error
	if o.vals != nil {
		l.vals, err = appendBlock(key, l.vals, o.vals, l.hint)
	}
	return err
}

// widen makes layer i of l and o the same kind, renumbering both pages'
// definition levels to the wider layer set.
func (l *leafData) widen(key string, i int, o *leafData) error {
	a, b := l.layers[i], o.layers[i]
	if isListLayer(a) != isListLayer(b) {
		return corruptf(key, "pages disagree on layer %d (%v, %v)", i, a, b)
	}
	var w e21.RepDefLayer
	if !isListLayer(a) {
		w = e21.RepDefLayer_REPDEF_NULLABLE_ITEM
	} else {
		nullable := a == e21.RepDefLayer_REPDEF_NULLABLE_LIST || b == e21.RepDefLayer_REPDEF_NULLABLE_LIST || a == e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST || b == e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST
		emptyable := a == e21.RepDefLayer_REPDEF_EMPTYABLE_LIST || b == e21.RepDefLayer_REPDEF_EMPTYABLE_LIST || a == e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST || b == e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST
		switch {
		case nullable && emptyable:
			w = e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST
		case nullable:
			w = e21.RepDefLayer_REPDEF_NULLABLE_LIST
		default:
			w = e21.RepDefLayer_REPDEF_EMPTYABLE_LIST
		}
	}
	target := append([]e21.RepDefLayer(nil), l.layers...)
	target[i] = w
	var err error
	if l.def, err = remapDef(key, l.layers, target, l.def, l.entries); err != nil {
		return err
	}
	if o.def, err = remapDef(key, o.layers, target, o.def, o.entries); err != nil {
		return err
	}
	l.layers = target
	o.layers = append([]e21.RepDefLayer(nil), target...)
	return nil
}

// remapDef renumbers definition levels from layer set from to layer set to
// (same layers, each at least as wide).
func remapDef(key string, from, to []e21.RepDefLayer, def []uint16, n int) ([]uint16, error) {
	fm, err := defMeanings(key, from)
	if err != nil {
		return nil, err
	}
	tm, err := defMeanings(key, to)
	if err != nil {
		return nil, err
	}
	if len(fm) == len(tm) {
		return def, nil
	}
	if def == nil {
		return make([]uint16, n), nil
	}
	out := make([]uint16, len(def))
	for i, d := range def {
		if int(d) >= len(fm) {
			return nil, corruptf(key, "definition level %d of %d", d, len(fm)-1)
		}
		if d == 0 {
			continue
		}
		m := fm[d]
		for j := 1; j < len(tm); j++ {
			if tm[j] == m {
				out[i] = uint16(j)
				break
			}
		}
	}
	return out, nil
}

func isListLayer(l e21.RepDefLayer) bool {
	switch l {
	case e21.RepDefLayer_REPDEF_ALL_VALID_LIST, e21.RepDefLayer_REPDEF_NULLABLE_LIST,
		e21.RepDefLayer_REPDEF_EMPTYABLE_LIST, e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST:
		return true
	}
	return false
}

// defMeaning is what a definition level says: the layer (innermost
// first) that is null or empty there.
type defMeaning struct {
	layer int
	empty bool
}

// defMeanings lists the meaning of each definition level; level 0 (all
// valid) is entry 0 with layer -1.
func defMeanings(key string, layers []e21.RepDefLayer) ([]defMeaning, error) {
	out := []defMeaning{{layer: -1}}
	for i, l := range layers {
		switch l {
		case e21.RepDefLayer_REPDEF_ALL_VALID_ITEM, e21.RepDefLayer_REPDEF_ALL_VALID_LIST:
		case e21.RepDefLayer_REPDEF_NULLABLE_ITEM, e21.RepDefLayer_REPDEF_NULLABLE_LIST:
			out = append(out, defMeaning{layer: i})
		case e21.RepDefLayer_REPDEF_EMPTYABLE_LIST:
			out = append(out, defMeaning{layer: i, empty: true})
		case e21.RepDefLayer_REPDEF_NULL_AND_EMPTY_LIST:
			out = append(out, defMeaning{layer: i}, defMeaning{layer: i, empty: true})
		default:
			return nil, corruptf(key, "repetition/definition layer %v", l)
		}
	}
	return out, nil
}

// maxVisibleDef is the highest definition level that still has a value
// slot: levels of layers inside the innermost list.
func maxVisibleDef(layers []e21.RepDefLayer) int {
	n := 0
	for _, l := range layers {
		if isListLayer(l) {
			break
		}
		if l != e21.RepDefLayer_REPDEF_ALL_VALID_ITEM {
			n++
		}
	}
	return n
}

func hasLevels(layers []e21.RepDefLayer) (rep, def bool) {
	for _, l := range layers {
		if isListLayer(l) {
			rep = true
		}
		if l != e21.RepDefLayer_REPDEF_ALL_VALID_ITEM && l != e21.RepDefLayer_REPDEF_ALL_VALID_LIST {
			def = true
		}
	}
	return rep, def
}

// decodeStructuralPage decodes one page of a 2.1/2.2 leaf column holding
// rows rows.
func decodeStructuralPage(src *pageSource, pl *e21.PageLayout, rows int) (ld *leafData, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			ld, err = nil, corruptf(src.key, "decoding page: %v", rec)
		}
	}()
	return decodeLayout(src, pl, rows)
}

// decodeLayout is decodeStructuralPage without the recover (fuzzed so).
func decodeLayout(src *pageSource, pl *e21.PageLayout, rows int) (*leafData, error) {
	switch l := pl.GetLayout().(type) {
	case *e21.PageLayout_MiniBlockLayout:
		return decodeMiniBlock(src, l.MiniBlockLayout, rows)
	case *e21.PageLayout_FullZipLayout:
		return decodeFullZip(src, l.FullZipLayout, rows)
	case *e21.PageLayout_ConstantLayout:
		return decodeConstant(src, l.ConstantLayout, rows)
	case *e21.PageLayout_BlobLayout:
		return nil, unsupportedf("%s: blob page layout", src.key)
	case nil:
		return nil, unsupportedf("%s: page layout not known to this reader (newer than 2.2?)", src.key)
	}
	return nil, unsupportedf("%s: page layout %T", src.key, pl.GetLayout())
}

const maxChunkValues = 1 << 16

// decodeMiniBlock decodes a MiniBlockLayout page.
func decodeMiniBlock(src *pageSource, mb *e21.MiniBlockLayout, rows int) (*leafData, error) {
	key := src.key
	ld := &leafData{layers: mb.GetLayers()}
	if len(ld.layers) == 0 {
		return nil, corruptf(key, "mini-block page without layers")
	}
	if _, err := defMeanings(key, ld.layers); err != nil {
		return nil, err
	}
	hasDict := mb.GetDictionary() != nil
	nb := 2
	if hasDict {
		nb++
	}
	if mb.GetRepetitionIndexDepth() > 0 {
		nb++
	}
	if len(src.page) < nb {
		return nil, corruptf(key, "mini-block page of %d buffers, want %d", len(src.page), nb)
	}
	if mb.GetNumBuffers() == 0 || mb.GetNumBuffers() > 16 {
		return nil, corruptf(key, "mini-block page of %d value buffers", mb.GetNumBuffers())
	}
	var dict *block
	if hasDict {
		n := mb.GetNumDictionaryItems()
		if n > uint64(len(src.page[2]))*8+1 {
			return nil, corruptf(key, "dictionary of %d items in %d bytes", n, len(src.page[2]))
		}
		var err error
		if dict, err = decodeBlock(key, mb.GetDictionary(), src.page[2], int(n)); err != nil {
			return nil, err
		}
	}
	if rep, _ := hasLevels(ld.layers); !rep && mb.GetNumItems() != uint64(rows) {
		return nil, corruptf(key, "mini-block page of %d items for %d rows", mb.GetNumItems(), rows)
	}
	ld.hint = int(mb.GetNumItems())
	meta, data := src.page[0], src.page[1]
	// No encoding packs more than 1024 values in 8 bytes (bit packing of
	// width 0): more items than that is corrupt, not a reason to allocate.
	if mb.GetNumItems() > 128*uint64(len(data))+maxChunkValues {
		return nil, corruptf(key, "mini-block page of %d items in %d bytes", mb.GetNumItems(), len(data))
	}
	ww := 2
	if mb.GetHasLargeChunk() {
		ww = 4
	}
	if len(meta)%ww != 0 {
		return nil, corruptf(key, "chunk metadata of %d bytes", len(meta))
	}
	nchunks := len(meta) / ww
	items := mb.GetNumItems()
	fc := &fsstCache{}
	var done uint64
	off := 0
	for c := range nchunks {
		w := getUint(meta[c*ww:], ww)
		size := int((w>>4)+1) * 8
		var nv uint64
		if c == nchunks-1 {
			if done > items {
				return nil, corruptf(key, "mini-block chunks hold more than %d items", items)
			}
			nv = items - done
			if nv > maxChunkValues {
				return nil, corruptf(key, "last chunk of %d items", nv)
			}
		} else {
			nv = 1 << (w & 15)
		}
		done += nv
		if done > items {
			return nil, corruptf(key, "mini-block chunks hold more than %d items", items)
		}
		if off+size > len(data) || size < 0 {
			return nil, corruptf(key, "chunk %d of %d bytes at %d past the page's %d", c, size, off, len(data))
		}
		chunk, err := decodeChunk(key, mb, data[off:off+size], int(nv), ww, dict, fc)
		if err != nil {
			return nil, err
		}
		if err := ld.append(key, chunk); err != nil {
			return nil, err
		}
		off += size
	}
	if nchunks == 0 && items > 0 {
		return nil, corruptf(key, "mini-block page of %d items without chunks", items)
	}
	if done != items {
		return nil, corruptf(key, "mini-block chunks hold %d items, page %d", done, items)
	}
	if ld.vals == nil {
		ld.vals = &block{dim: 1}
	}
	return ld, nil
}

// decodeChunk decodes one mini-block chunk of nv values:
// u16 num_levels, [u16 rep bytes], [u16 def bytes], u16|u32 buffer sizes,
// padding to 8, then rep, def and the value buffers, each padded to 8.
func decodeChunk(key string, mb *e21.MiniBlockLayout, c []byte, nv, ww int, dict *block, fc *fsstCache) (*leafData, error) {
	rd := &byteReader{key: key, b: c}
	numLevels := int(rd.u(2))
	repSize, defSize := -1, -1
	if mb.GetRepCompression() != nil {
		repSize = int(rd.u(2))
	}
	if mb.GetDefCompression() != nil {
		defSize = int(rd.u(2))
	}
	sizes := make([]int, mb.GetNumBuffers())
	for i := range sizes {
		sizes[i] = int(rd.u(ww))
	}
	rd.align8()
	var rep, def []byte
	if repSize >= 0 {
		rep = rd.take(repSize)
		rd.align8()
	}
	if defSize >= 0 {
		def = rd.take(defSize)
		rd.align8()
	}
	bufs := make([][]byte, len(sizes))
	for i, s := range sizes {
		bufs[i] = rd.take(s)
		rd.align8()
	}
	if rd.err != nil {
		return nil, rd.err
	}
	out := &leafData{layers: mb.GetLayers(), entries: nv}
	var err error
	if rep != nil {
		if out.rep, err = decodeLevels(key, mb.GetRepCompression(), rep, numLevels); err != nil {
			return nil, err
		}
		out.entries = numLevels
	}
	if def != nil {
		if out.def, err = decodeLevels(key, mb.GetDefCompression(), def, numLevels); err != nil {
			return nil, err
		}
		out.entries = numLevels
	}
	vals, err := decodeMiniValuesC(key, mb.GetValueCompression(), bufs, nv, fc)
	if err != nil {
		return nil, err
	}
	if dict != nil {
		if vals, err = gather(key, dict, vals); err != nil {
			return nil, err
		}
	}
	out.vals = vals
	return out, nil
}

// gather maps dictionary indices (0-based) to the dictionary's values.
func gather(key string, dict, idx *block) (*block, error) {
	if idx.bits != 8 && idx.bits != 16 && idx.bits != 32 && idx.bits != 64 || idx.dim != 1 {
		return nil, corruptf(key, "dictionary indices of %d bits", idx.bits)
	}
	ib := idx.bits / 8
	out := &block{n: idx.n, bits: dict.bits, dim: dict.dim}
	if dict.bits == 0 {
		out.offs = make([]uint64, 1, idx.n+1)
	} else if dict.bits%8 != 0 {
		return nil, unsupportedf("%s: dictionary of %d-bit values", key, dict.bits)
	}
	for i := range idx.n {
		k := getUint(idx.data[i*ib:], ib)
		if k >= uint64(dict.n) {
			if dict.n == 0 {
				k = 0
			} else {
				return nil, corruptf(key, "dictionary index %d of %d items", k, dict.n)
			}
		}
		if dict.n == 0 { // every value null
			if dict.bits == 0 {
				out.offs = append(out.offs, uint64(len(out.data)))
			} else {
				out.data = append(out.data, make([]byte, dict.valueBytes())...)
			}
			continue
		}
		if dict.bits == 0 {
			out.data = append(out.data, dict.data[dict.offs[k]:dict.offs[k+1]]...)
			out.offs = append(out.offs, uint64(len(out.data)))
		} else {
			w := dict.valueBytes()
			out.data = append(out.data, dict.data[int(k)*w:int(k+1)*w]...)
		}
	}
	return out, nil
}

// byteReader reads little-endian fields, recording the first overrun.
type byteReader struct {
	key string
	b   []byte
	off int
	err error
}

func (r *byteReader) u(w int) uint64 {
	if r.err != nil || r.off+w > len(r.b) {
		r.fail()
		return 0
	}
	v := getUint(r.b[r.off:], w)
	r.off += w
	return v
}

func (r *byteReader) take(n int) []byte {
	if r.err != nil || n < 0 || r.off+n > len(r.b) {
		r.fail()
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *byteReader) align8() {
	if r.off%8 != 0 {
		r.off += 8 - r.off%8
	}
	if r.off > len(r.b) {
		r.off = len(r.b)
	}
}

func (r *byteReader) fail() {
	if r.err == nil {
		r.err = corruptf(r.key, "chunk of %d bytes read past its end at %d", len(r.b), r.off)
	}
}

// decodeLevels decodes n repetition or definition levels (u16).
func decodeLevels(key string, enc *e21.CompressiveEncoding, b []byte, n int) ([]uint16, error) {
	blk, err := decodeBlock(key, enc, b, n)
	if err != nil {
		return nil, err
	}
	if blk.bits != 16 || blk.dim != 1 || blk.n != n || len(blk.data) < 2*n {
		return nil, corruptf(key, "levels of %d bits", blk.bits)
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(blk.data[2*i:])
	}
	return out, nil
}

// flatBlock checks that b holds n values of w bits.
func flatBlock(key string, b []byte, w, n int) (*block, error) {
	if w <= 0 || w > 1<<20 {
		return nil, corruptf(key, "flat values of %d bits", w)
	}
	need := (n*w + 7) / 8
	if len(b) < need {
		return nil, corruptf(key, "%d bytes for %d values of %d bits", len(b), n, w)
	}
	return &block{n: n, bits: w, dim: 1, data: b[:need]}, nil
}

// decodeMiniValues decodes the nv values of one mini-block chunk.
// fsstCache keeps a page's parsed FSST symbol table across its chunks.
type fsstCache struct {
	raw []byte
	t   *fsstTable
}

func (c *fsstCache) table(key string, st []byte) (*fsstTable, error) {
	if c != nil && c.t != nil && len(c.raw) == len(st) && (len(st) == 0 || &c.raw[0] == &st[0]) {
		return c.t, nil
	}
	t, err := parseFSST(key, st)
	if err == nil && c != nil {
		c.raw, c.t = st, t
	}
	return t, err
}

func decodeMiniValuesC(key string, enc *e21.CompressiveEncoding, bufs [][]byte, nv int, fc *fsstCache) (*block, error) {
	need := func(k int) error {
		if len(bufs) < k {
			return corruptf(key, "chunk of %d value buffers, encoding needs %d", len(bufs), k)
		}
		return nil
	}
	switch e := enc.GetCompression().(type) {
	case *e21.CompressiveEncoding_Flat:
		if err := need(1); err != nil {
			return nil, err
		}
		b := bufs[0]
		if e.Flat.GetData() != nil {
			var err error
			if b, err = decompressGeneral(key, e.Flat.GetData(), b); err != nil {
				return nil, err
			}
		}
		return flatBlock(key, b, int(e.Flat.GetBitsPerValue()), nv)
	case *e21.CompressiveEncoding_Variable:
		if err := need(1); err != nil {
			return nil, err
		}
		if e.Variable.GetValues() != nil {
			return nil, unsupportedf("%s: compressed variable-width values (%v)", key, e.Variable.GetValues().GetScheme())
		}
		w := int(e.Variable.GetOffsets().GetFlat().GetBitsPerValue())
		return variableBlock(key, bufs[0], w, nv, 0)
	case *e21.CompressiveEncoding_FixedSizeList:
		f := e.FixedSizeList
		d := int(f.GetItemsPerValue())
		if d <= 0 || d > 1<<20 || nv*d > 1<<28 {
			return nil, corruptf(key, "fixed_size_list of %d items", d)
		}
		// With item validity the first buffer is its bitmap (n*d bits).
		var validity []byte
		if f.GetHasValidity() {
			if err := need(2); err != nil {
				return nil, err
			}
			if len(bufs[0]) < (nv*d+7)/8 {
				return nil, corruptf(key, "item validity of %d bytes for %d items", len(bufs[0]), nv*d)
			}
			validity, bufs = bufs[0][:(nv*d+7)/8], bufs[1:]
		}
		inner, err := decodeMiniValuesC(key, f.GetValues(), bufs, nv*d, fc)
		if err != nil {
			return nil, err
		}
		if inner.bits == 0 || inner.dim != 1 || inner.itemValid != nil {
			return nil, unsupportedf("%s: fixed_size_list of variable-width or nested items", key)
		}
		inner.n, inner.dim, inner.itemValid = nv, d, validity
		return inner, nil
	case *e21.CompressiveEncoding_InlineBitpacking:
		if err := need(1); err != nil {
			return nil, err
		}
		if e.InlineBitpacking.GetValues() != nil {
			return nil, unsupportedf("%s: compressed bitpacked values", key)
		}
		w := int(e.InlineBitpacking.GetUncompressedBitsPerValue())
		out, err := inlineUnpack(key, w, nv, bufs[0])
		if err != nil {
			return nil, err
		}
		return &block{n: nv, bits: w, dim: 1, data: out}, nil
	case *e21.CompressiveEncoding_Rle:
		if err := need(2); err != nil {
			return nil, err
		}
		return rleBlock(key, e.Rle, bufs[0], bufs[1], nv)
	case *e21.CompressiveEncoding_Fsst:
		inner, err := decodeMiniValuesC(key, e.Fsst.GetValues(), bufs, nv, fc)
		if err != nil {
			return nil, err
		}
		t, err := fc.table(key, e.Fsst.GetSymbolTable())
		if err != nil {
			return nil, err
		}
		return fsstBlock(key, t, inner)
	case *e21.CompressiveEncoding_General:
		if err := need(1); err != nil {
			return nil, err
		}
		b, err := decompressGeneral(key, e.General.GetCompression(), bufs[0])
		if err != nil {
			return nil, err
		}
		nb := append([][]byte{b}, bufs[1:]...)
		return decodeMiniValuesC(key, e.General.GetValues(), nb, nv, fc)
	case *e21.CompressiveEncoding_Constant:
		return constantBlock(key, e.Constant.GetValue(), nv)
	case *e21.CompressiveEncoding_ByteStreamSplit:
		// byte j of value i is byte j*n + i of the buffer
		if err := need(1); err != nil {
			return nil, err
		}
		w := int(e.ByteStreamSplit.GetValues().GetFlat().GetBitsPerValue())
		if w%8 != 0 || w == 0 || w > 256 {
			return nil, unsupportedf("%s: byte_stream_split of %d-bit values", key, w)
		}
		wb := w / 8
		if len(bufs[0]) != nv*wb {
			return nil, corruptf(key, "byte_stream_split of %d bytes for %d values of %d bits", len(bufs[0]), nv, w)
		}
		out := make([]byte, nv*wb)
		for j := range wb {
			stream := bufs[0][j*nv : (j+1)*nv]
			for i, b := range stream {
				out[i*wb+j] = b
			}
		}
		return &block{n: nv, bits: w, dim: 1, data: out}, nil
	case nil:
		return nil, corruptf(key, "mini-block page without value compression")
	}
	return nil, unsupportedf("%s: mini-block value compression %s", key, encodingName(enc))
}

// encodingName names a compressive encoding for errors.
func encodingName(enc *e21.CompressiveEncoding) string {
	switch enc.GetCompression().(type) {
	case *e21.CompressiveEncoding_ByteStreamSplit:
		return "byte_stream_split"
	case *e21.CompressiveEncoding_PackedStruct:
		return "packed_struct"
	case *e21.CompressiveEncoding_VariablePackedStruct:
		return "variable_packed_struct"
	case *e21.CompressiveEncoding_OutOfLineBitpacking:
		return "out_of_line_bitpacking"
	case *e21.CompressiveEncoding_Dictionary:
		return "dictionary"
	case *e21.CompressiveEncoding_Constant:
		return "constant"
	case nil:
		return "unknown (a newer encoding?)"
	}
	return "compression " + string(enc.ProtoReflect().WhichOneof(enc.ProtoReflect().Descriptor().Oneofs().Get(0)).Name())
}

// constantBlock repeats one fixed-width value n times.
func constantBlock(key string, v []byte, n int) (*block, error) {
	if len(v) == 0 || len(v) > 32 || n*len(v) > 1<<28 {
		return nil, corruptf(key, "constant of %d bytes", len(v))
	}
	data := make([]byte, 0, n*len(v))
	for range n {
		data = append(data, v...)
	}
	return &block{n: n, bits: 8 * len(v), dim: 1, data: data}, nil
}

// variableBlock reads n+1 offsets of w bits at the start of b, counted
// from base (the data of value i is b[base+off[i]:base+off[i+1]]).
func variableBlock(key string, b []byte, w, n, base int) (*block, error) {
	if w != 32 && w != 64 {
		return nil, corruptf(key, "variable-width offsets of %d bits", w)
	}
	wb := w / 8
	if n < 0 || len(b) < (n+1)*wb {
		return nil, corruptf(key, "%d bytes for %d offsets", len(b), n+1)
	}
	offs := make([]uint64, n+1)
	for i := range offs {
		offs[i] = getUint(b[i*wb:], wb) + uint64(base)
		if offs[i] > uint64(len(b)) || (i > 0 && offs[i] < offs[i-1]) {
			return nil, corruptf(key, "offset %d of value %d (buffer of %d bytes)", offs[i], i, len(b))
		}
	}
	return &block{n: n, dim: 1, data: b, offs: offs}, nil
}

// rleBlock expands runs: values (flat{W}) and u8 run lengths.
func rleBlock(key string, r *e21.Rle, vals, lens []byte, n int) (*block, error) {
	w := int(r.GetValues().GetFlat().GetBitsPerValue())
	if w%8 != 0 || w == 0 || w > 256 {
		return nil, unsupportedf("%s: RLE of %d-bit values", key, w)
	}
	if lw := r.GetRunLengths().GetFlat().GetBitsPerValue(); lw != 8 {
		return nil, unsupportedf("%s: RLE run lengths of %d bits", key, lw)
	}
	wb := w / 8
	runs := len(lens)
	if len(vals) < runs*wb {
		return nil, corruptf(key, "RLE of %d runs with %d value bytes", runs, len(vals))
	}
	total := 0
	for _, l := range lens {
		total += int(l)
	}
	if total != n {
		return nil, corruptf(key, "RLE runs hold %d values, want %d", total, n)
	}
	out := make([]byte, 0, n*wb)
	for i, l := range lens {
		v := vals[i*wb : (i+1)*wb]
		for range l {
			out = append(out, v...)
		}
	}
	return &block{n: n, bits: w, dim: 1, data: out}, nil
}

// fsstBlock decompresses the variable-width values of inner.
func fsstBlock(key string, t *fsstTable, inner *block) (*block, error) {
	if inner.bits != 0 {
		return nil, corruptf(key, "FSST over fixed-width values")
	}
	out := &block{n: inner.n, dim: 1, offs: make([]uint64, inner.n+1)}
	in := inner.data[inner.offs[0]:inner.offs[inner.n]]
	if !t.on {
		out.data = in
		for i := range out.offs {
			out.offs[i] = inner.offs[i] - inner.offs[0]
		}
		return out, nil
	}
	// Each code expands to at most 8 bytes; 8 more of slack for the
	// word-at-a-time copy.
	buf := make([]byte, 8*len(in)+8)
	pos := 0
	for i := range inner.n {
		var err error
		if pos, err = t.decodeInto(key, buf, pos, inner.data[inner.offs[i]:inner.offs[i+1]]); err != nil {
			return nil, err
		}
		out.offs[i+1] = uint64(pos)
	}
	out.data = buf[:pos]
	return out, nil
}

// decodeBlock decodes a whole buffer of n values compressed with a block
// compression (dictionary items, rep/def levels, constant pages).
func decodeBlock(key string, enc *e21.CompressiveEncoding, b []byte, n int) (*block, error) {
	switch e := enc.GetCompression().(type) {
	case *e21.CompressiveEncoding_Flat:
		if e.Flat.GetData() != nil {
			var err error
			if b, err = decompressGeneral(key, e.Flat.GetData(), b); err != nil {
				return nil, err
			}
		}
		return flatBlock(key, b, int(e.Flat.GetBitsPerValue()), n)
	case *e21.CompressiveEncoding_Variable:
		// [u32 bits per offset][u32 data start][offsets from 0][bytes]
		if len(b) < 8 {
			return nil, corruptf(key, "variable block of %d bytes", len(b))
		}
		w := int(binary.LittleEndian.Uint32(b))
		start := int(binary.LittleEndian.Uint32(b[4:]))
		if start < 8 || start > len(b) {
			return nil, corruptf(key, "variable block data at %d of %d bytes", start, len(b))
		}
		blk, err := variableBlock(key, b[8:], w, n, start-8)
		if err != nil {
			return nil, err
		}
		return blk, nil
	case *e21.CompressiveEncoding_OutOfLineBitpacking:
		o := e.OutOfLineBitpacking
		w := int(o.GetUncompressedBitsPerValue())
		bw := int(o.GetValues().GetFlat().GetBitsPerValue())
		if o.GetValues().GetFlat() == nil {
			return nil, unsupportedf("%s: out-of-line bitpacking over %s", key, encodingName(o.GetValues()))
		}
		out, err := outOfLineUnpack(key, w, bw, n, b)
		if err != nil {
			return nil, err
		}
		return &block{n: n, bits: w, dim: 1, data: out}, nil
	case *e21.CompressiveEncoding_InlineBitpacking:
		w := int(e.InlineBitpacking.GetUncompressedBitsPerValue())
		out, err := inlineUnpack(key, w, n, b)
		if err != nil {
			return nil, err
		}
		return &block{n: n, bits: w, dim: 1, data: out}, nil
	case *e21.CompressiveEncoding_Rle:
		// [u64 value bytes][values][u8 run lengths]
		if len(b) < 8 {
			return nil, corruptf(key, "RLE block of %d bytes", len(b))
		}
		vl := binary.LittleEndian.Uint64(b)
		if vl > uint64(len(b)-8) {
			return nil, corruptf(key, "RLE block of %d bytes with %d value bytes", len(b), vl)
		}
		return rleBlock(key, e.Rle, b[8:8+vl], b[8+vl:], n)
	case *e21.CompressiveEncoding_General:
		d, err := decompressGeneral(key, e.General.GetCompression(), b)
		if err != nil {
			return nil, err
		}
		return decodeBlock(key, e.General.GetValues(), d, n)
	case *e21.CompressiveEncoding_Constant:
		return constantBlock(key, e.Constant.GetValue(), n)
	case nil:
		return nil, corruptf(key, "block without compression")
	}
	return nil, unsupportedf("%s: block compression %s", key, encodingName(enc))
}

// decodeFullZip decodes a FullZipLayout page: per entry a control word
// (rep << bits_def | def; absent if both are 0 bits), then for a visible
// value either its fixed bytes or a length and its bytes.
func decodeFullZip(src *pageSource, fz *e21.FullZipLayout, rows int) (*leafData, error) {
	key := src.key
	if len(src.page) < 1 {
		return nil, corruptf(key, "full-zip page without buffers")
	}
	ld := &leafData{layers: fz.GetLayers()}
	if _, err := defMeanings(key, ld.layers); err != nil {
		return nil, err
	}
	br, bd := int(fz.GetBitsRep()), int(fz.GetBitsDef())
	if br > 16 || bd > 16 {
		return nil, corruptf(key, "full-zip control word of %d+%d bits", br, bd)
	}
	cw := 0
	switch {
	case br+bd == 0:
	case br+bd <= 8:
		cw = 1
	case br+bd <= 16:
		cw = 2
	default:
		cw = 4
	}
	maxVis := maxVisibleDef(ld.layers)
	n := int(fz.GetNumItems())
	if cw == 0 {
		n = int(fz.GetNumVisibleItems())
		if n == 0 {
			n = rows
		}
	}
	data := src.page[0]
	if cw > 0 && n > len(data)/cw {
		return nil, corruptf(key, "full-zip page of %d entries in %d bytes", n, len(data))
	}
	// The value shape.
	var fixedBytes, lenBytes, dim, itemBits, validityBytes int
	switch d := fz.GetDetails().(type) {
	case *e21.FullZipLayout_BitsPerValue:
		if d.BitsPerValue%8 != 0 || d.BitsPerValue == 0 {
			return nil, corruptf(key, "full-zip values of %d bits", d.BitsPerValue)
		}
		fixedBytes = int(d.BitsPerValue / 8)
		switch e := fz.GetValueCompression().GetCompression().(type) {
		case *e21.CompressiveEncoding_Flat:
			itemBits, dim = int(e.Flat.GetBitsPerValue()), 1
			if e.Flat.GetData() != nil {
				return nil, unsupportedf("%s: compressed full-zip values", key)
			}
		case *e21.CompressiveEncoding_FixedSizeList:
			dim = int(e.FixedSizeList.GetItemsPerValue())
			itemBits = int(e.FixedSizeList.GetValues().GetFlat().GetBitsPerValue())
			if e.FixedSizeList.GetValues().GetFlat() == nil || dim <= 0 {
				return nil, unsupportedf("%s: full-zip fixed_size_list over %s", key, encodingName(e.FixedSizeList.GetValues()))
			}
			if e.FixedSizeList.GetHasValidity() {
				validityBytes = (dim + 7) / 8
			}
		default:
			return nil, unsupportedf("%s: full-zip fixed-width compression %s", key, encodingName(fz.GetValueCompression()))
		}
		if validityBytes+(dim*itemBits+7)/8 != fixedBytes {
			return nil, corruptf(key, "full-zip values of %d bytes for %d items of %d bits", fixedBytes, dim, itemBits)
		}
	case *e21.FullZipLayout_BitsPerOffset:
		if d.BitsPerOffset != 32 && d.BitsPerOffset != 64 {
			return nil, corruptf(key, "full-zip lengths of %d bits", d.BitsPerOffset)
		}
		lenBytes = int(d.BitsPerOffset / 8)
		if _, ok := fz.GetValueCompression().GetCompression().(*e21.CompressiveEncoding_Variable); !ok {
			return nil, unsupportedf("%s: full-zip variable-width compression %s", key, encodingName(fz.GetValueCompression()))
		}
	default:
		return nil, corruptf(key, "full-zip page without value width")
	}
	if cw == 0 && fixedBytes > 0 && n > len(data)/fixedBytes {
		return nil, corruptf(key, "full-zip page of %d values in %d bytes", n, len(data))
	}
	if cw == 0 && lenBytes > 0 && n > len(data)/lenBytes {
		return nil, corruptf(key, "full-zip page of %d values in %d bytes", n, len(data))
	}
	vals := &block{dim: max(dim, 1), bits: itemBits}
	if lenBytes > 0 {
		vals.bits, vals.dim = 0, 1
		vals.offs = make([]uint64, 1, n+1)
	}
	if cw > 0 {
		ld.rep = make([]uint16, 0, n)
		ld.def = make([]uint16, 0, n)
	}
	if cw == 0 && fixedBytes > 0 && validityBytes == 0 {
		// no control words, no item validity: the buffer is the values
		vals.n, vals.data = n, data[:n*fixedBytes]
		ld.vals, ld.entries = vals, n
		return ld, nil
	}
	if fixedBytes > 0 {
		vals.data = make([]byte, 0, n*(fixedBytes-validityBytes))
	}
	var iv []byte
	if validityBytes > 0 {
		iv = make([]byte, 0, (n*dim+7)/8)
	}
	rd := &byteReader{key: key, b: data}
	defMask := uint64(1)<<uint(bd) - 1
	for range n {
		visible, valid := true, true
		if cw > 0 {
			w := rd.u(cw)
			rep, def := w>>uint(bd), w&defMask
			ld.rep = append(ld.rep, uint16(rep))
			ld.def = append(ld.def, uint16(def))
			visible, valid = int(def) <= maxVis, def == 0
		}
		if !visible {
			continue
		}
		if lenBytes > 0 {
			// a null variable-width value is the control word alone
			l := uint64(0)
			if valid {
				l = rd.u(lenBytes)
			}
			if l > uint64(len(data)) {
				return nil, corruptf(key, "full-zip value of %d bytes", l)
			}
			vals.data = append(vals.data, rd.take(int(l))...)
			vals.offs = append(vals.offs, uint64(len(vals.data)))
		} else {
			v := rd.take(fixedBytes)
			if rd.err != nil {
				break
			}
			if validityBytes > 0 {
				iv = appendBits(iv, vals.n*dim, v[:validityBytes], dim)
			}
			vals.data = append(vals.data, v[validityBytes:]...)
		}
		if rd.err != nil {
			break
		}
		vals.n++
	}
	if rd.err != nil {
		return nil, rd.err
	}
	vals.itemValid = iv
	ld.vals = vals
	ld.entries = n
	if cw == 0 {
		ld.rep, ld.def = nil, nil
	} else {
		rep, def := hasLevels(ld.layers)
		if !rep {
			ld.rep = nil
		}
		if !def {
			ld.def = nil
		}
	}
	return ld, nil
}

// decodeConstant decodes 2.1's AllNullLayout and 2.2's ConstantLayout.
func decodeConstant(src *pageSource, cl *e21.ConstantLayout, rows int) (*leafData, error) {
	key := src.key
	ld := &leafData{layers: cl.GetLayers()}
	if _, err := defMeanings(key, ld.layers); err != nil {
		return nil, err
	}
	hasRep, _ := hasLevels(ld.layers)
	var value []byte
	variable := false
	switch len(src.page) {
	case 0:
		value = cl.GetInlineValue()
	case 1:
		// a variable-width constant: [u32 2][u32 len0][u32 len1][offsets][bytes]
		b := src.page[0]
		if cl.InlineValue != nil || len(b) < 12 || binary.LittleEndian.Uint32(b) != 2 {
			return nil, corruptf(key, "constant page with one buffer of %d bytes", len(b))
		}
		l0, l1 := uint64(binary.LittleEndian.Uint32(b[4:])), uint64(binary.LittleEndian.Uint32(b[8:]))
		if l0 < 8 || 12+l0+l1 > uint64(len(b)) {
			return nil, corruptf(key, "constant page buffer sizes %d, %d of %d bytes", l0, l1, len(b))
		}
		o0, o1 := uint64(binary.LittleEndian.Uint32(b[12:])), uint64(binary.LittleEndian.Uint32(b[16:]))
		if o0 > o1 || o1 > l1 {
			return nil, corruptf(key, "constant value offsets %d, %d of %d bytes", o0, o1, l1)
		}
		value, variable = b[12+l0+o0:12+l0+o1], true
	case 2:
		value = cl.GetInlineValue()
		nrep, ndef := int(cl.GetNumRepValues()), int(cl.GetNumDefValues())
		if cl.GetRepCompression() == nil && cl.GetDefCompression() == nil {
			// 2.1 AllNullLayout: raw u16 levels
			nrep, ndef = len(src.page[0])/2, len(src.page[1])/2
		}
		var err error
		if len(src.page[0]) > 0 {
			if ld.rep, err = decodeRawOr(key, cl.GetRepCompression(), src.page[0], nrep); err != nil {
				return nil, err
			}
		}
		if len(src.page[1]) > 0 {
			if ld.def, err = decodeRawOr(key, cl.GetDefCompression(), src.page[1], ndef); err != nil {
				return nil, err
			}
		}
		if ld.rep != nil && ld.def != nil && len(ld.rep) != len(ld.def) {
			return nil, corruptf(key, "constant page of %d rep and %d def levels", len(ld.rep), len(ld.def))
		}
	default:
		return nil, corruptf(key, "constant page of %d buffers", len(src.page))
	}
	n := rows
	if ld.def != nil {
		n = len(ld.def)
	} else if ld.rep != nil {
		n = len(ld.rep)
	} else if hasRep {
		return nil, corruptf(key, "constant list page without levels")
	}
	ld.entries = n
	// Visible values: with no value the page is all null (values are
	// zero); else every visible entry holds the value.
	maxVis := maxVisibleDef(ld.layers)
	nv := 0
	for i := range n {
		if ld.def == nil || int(ld.def[i]) <= maxVis {
			nv++
		}
	}
	if value == nil {
		if ld.def == nil {
			// all null without levels: make the levels
			if len(ld.layers) == 0 {
				return nil, corruptf(key, "constant page without layers")
			}
			ld.def = make([]uint16, n)
			for i := range ld.def {
				ld.def[i] = 1
			}
			if ld.layers[0] == e21.RepDefLayer_REPDEF_ALL_VALID_ITEM {
				ld.layers = append([]e21.RepDefLayer{e21.RepDefLayer_REPDEF_NULLABLE_ITEM}, ld.layers[1:]...)
			}
		}
		ld.vals = &block{n: nv, dim: 1, bits: -1} // null values of any type
		return ld, nil
	}
	if variable {
		offs := make([]uint64, nv+1)
		data := make([]byte, 0, nv*len(value))
		for i := range nv {
			if ld.def == nil || ld.def[i] == 0 {
				data = append(data, value...)
			}
			offs[i+1] = uint64(len(data))
		}
		ld.vals = &block{n: nv, dim: 1, data: data, offs: offs}
		return ld, nil
	}
	blk, err := constantBlock(key, value, nv)
	if err != nil {
		return nil, err
	}
	ld.vals = blk
	return ld, nil
}

// decodeRawOr decodes n u16 levels compressed with enc, or raw if enc is nil.
func decodeRawOr(key string, enc *e21.CompressiveEncoding, b []byte, n int) ([]uint16, error) {
	if enc == nil {
		enc = &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_Flat{Flat: &e21.Flat{BitsPerValue: 16}}}
	}
	return decodeLevels(key, enc, b, n)
}
