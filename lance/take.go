package lance

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	ep "github.com/flightwal/flightwal/lance/lancepb/encodingspb"
	"github.com/flightwal/flightwal/objstore"
)

// Point reads (Dataset.Take) read only the bytes of the requested rows
// wherever a page's encoding tells where a row's bytes are ("ranged
// reads"):
//
//	flat{W} (uncompressed; W a multiple of 8, or 1 for bool):
//	    row r is bytes [r*W/8, (r+1)*W/8), or the byte holding bit r
//	nullable: no_nulls reads its values; all_nulls reads nothing;
//	    some_nulls reads the byte holding the row's validity bit and the values
//	fixed_size_list{D} (no inline validity): item rows [r*D, (r+1)*D)
//	binary (utf8, binary and their large forms; indices flat{8|16|32|64},
//	    bytes flat{8}): end offsets r-1 and r, then bytes
//	    [end(r-1), end(r)): a second round trip
//	buffers in the column metadata (Buffer_column) are in memory already
//
// Every other page is read whole and decoded as Scan does: dictionary
// pages (the indices could be ranged, but the dictionary items need the
// whole page anyway), compressed flat buffers, bit widths other than 1 or
// multiples of 8, fixed_size_list with inline validity, file-level
// buffers, and any encoding this package does not decode at all (which
// then fails as in Scan). So does a page whose encoding does not match the
// schema or whose buffers are too short for its rows: the whole-page
// decoder reports it as corrupt.
//
// A Take gathers the byte ranges of all its columns first. Ranges of one
// page buffer that cover at least half of it become the whole buffer;
// pages of at most takeSmallPage bytes are read whole in the first round
// trip (saving the second one of binary columns); ranges less than
// takeCoalesceGap apart (at most) are read as one; and the merged ranges are read
// concurrently, at most takeParallel at a time.
//
// Variables so tests can force every path.
var (
	takeCoalesceGap uint64 = 64 << 10
	takeSmallPage   uint64 = 64 << 10
	takeParallel           = 16
	takeRanged             = true // false: every page is decoded whole
)

// rowRun is rows [first, first+n) of a page (or of an encoding level
// within it: a fixed_size_list's items).
type rowRun struct{ first, n uint64 }

// Take reads the given row offsets (ascending; repeats allowed) of
// fragment fragID, projected to columns (nil = all). It reads only the
// bytes of those rows where the page encoding allows, else the pages
// holding them (see the list above).
func (d *Dataset) Take(ctx context.Context, mem memory.Allocator, fragID uint64, rows []uint64, columns []string) (arrow.RecordBatch, error) {
	frag, ok := d.fragment(fragID)
	if !ok {
		return nil, fmt.Errorf("lance: %s version %d has no fragment %d", d.root, d.Version(), fragID)
	}
	for i, r := range rows {
		if r >= frag.PhysicalRows {
			return nil, fmt.Errorf("lance: take row %d of fragment %d with %d rows", r, fragID, frag.PhysicalRows)
		}
		if i > 0 && r < rows[i-1] {
			return nil, fmt.Errorf("lance: take rows not ascending at %d", i)
		}
	}
	proj, schema, err := d.projection(columns)
	if err != nil {
		return nil, err
	}
	srcs, err := d.sources(ctx, frag, proj)
	if err != nil {
		return nil, err
	}
	t := &taker{fetch: &rangeFetcher{store: d.store}}
	cols := make([]arrow.Array, len(srcs))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, s := range srcs {
		if s.file == nil || len(rows) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, s.dt, len(rows))
			continue
		}
		if s.legacy != nil {
			if cols[i], err = takeByPages(ctx, mem, s, rows); err != nil {
				return nil, err
			}
			continue
		}
		if s.nested() {
			if cols[i], err = takeNested(ctx, mem, s, rows); err != nil {
				return nil, err
			}
			continue
		}
		t.addColumn(i, s, rows)
	}
	if err := t.run(ctx, mem, cols); err != nil {
		return nil, err
	}
	rec := array.NewRecordBatch(schema, cols, int64(len(rows)))
	return rec, nil
}

// takeNested takes rows of a nested field of a 2.1/2.2 file, which is
// decoded whole.
func takeNested(ctx context.Context, mem memory.Allocator, s columnSource, rows []uint64) (arrow.Array, error) {
	arr, err := s.readNested(ctx, mem)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	var runs []rowRun
	for i, r := range rows {
		if n := len(runs); n > 0 && i > 0 && r == rows[i-1]+1 {
			runs[n-1].n++
		} else {
			runs = append(runs, rowRun{r, 1})
		}
	}
	return sliceRuns(mem, arr, runs)
}

// takeByPages takes rows by decoding the pages holding them, as Scan.
func takeByPages(ctx context.Context, mem memory.Allocator, s columnSource, rows []uint64) (arrow.Array, error) {
	c := &columnCursor{src: s}
	defer c.release()
	parts := make([]arrow.Array, 0, len(rows))
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j] == rows[j-1]+1 {
			j++
		}
		a, err := c.read(ctx, mem, rows[i], rows[j-1]+1)
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
		i = j
	}
	if len(parts) == 1 {
		a := parts[0]
		parts = nil
		return a, nil
	}
	return array.Concatenate(parts, mem)
}

// taker is one Take: the pages it reads and the ranges it fetches.
type taker struct {
	fetch *rangeFetcher
	pages []*takePage
}

// takePage is the rows wanted of one page of one column.
type takePage struct {
	out   int // output column
	src   columnSource
	pi    int
	pc    *pageCtx
	runs  []rowRun // page-relative
	total int      // rows (sum of runs' n)
	node  takeNode // nil: whole-page decode
}

// addColumn plans the pages of column s holding rows.
func (t *taker) addColumn(out int, s columnSource, rows []uint64) {
	pages := s.file.columns[s.col].pages
	pi := 0
	var cur *takePage
	for i, r := range rows {
		for r >= pages[pi].first+pages[pi].rows {
			pi++ // rows < numRows = the pages' total, checked at open
		}
		if cur == nil || cur.pi != pi {
			cur = &takePage{out: out, src: s, pi: pi}
			t.pages = append(t.pages, cur)
		}
		rel := r - pages[pi].first
		if n := len(cur.runs); n > 0 && i > 0 && r == rows[i-1]+1 && cur.runs[n-1].first+cur.runs[n-1].n == rel {
			cur.runs[n-1].n++
		} else {
			cur.runs = append(cur.runs, rowRun{rel, 1})
		}
		cur.total++
	}
}

// run fetches and decodes every planned page and sets cols[out] for each
// column planned.
func (t *taker) run(ctx context.Context, mem memory.Allocator, cols []arrow.Array) (err error) {
	if len(t.pages) == 0 {
		return nil
	}
	var key string // the file in the works, for errors about panics
	defer func() {
		if rec := recover(); rec != nil {
			err = corruptf(key, "take: %v", rec)
		}
	}()
	for _, tp := range t.pages {
		key = tp.src.file.key
		p := &tp.src.file.columns[tp.src.col].pages[tp.pi]
		tp.pc = &pageCtx{file: t.fetch.file(tp.src.file), page: p, colBuf: tp.src.file.columns[tp.src.col].colBuf}
		switch {
		case !takeRanged:
		case p.enc != nil:
			tp.node = compileTake(tp.pc, p.enc, tp.src.dt, p.rows)
		case p.layout != nil:
			tp.node = compileStructuralTake(tp.pc, p.layout, tp.src.dt, p.rows)
		}
		whole := tp.node == nil
		if !whole {
			var sum uint64
			for _, s := range p.sizes {
				sum += s
			}
			whole = sum <= takeSmallPage
			if err := tp.node.want(tp.runs, 0); err != nil {
				return err
			}
		}
		if whole {
			for k := range p.offsets {
				tp.pc.pageBuf(k).want(0, p.sizes[k])
			}
		}
	}
	if err := t.fetch.run(ctx); err != nil {
		return err
	}
	for _, tp := range t.pages {
		if tp.node != nil {
			key = tp.src.file.key
			if err := tp.node.want(tp.runs, 1); err != nil {
				return err
			}
		}
	}
	if err := t.fetch.run(ctx); err != nil {
		return err
	}
	// Build each column from its pages, in order.
	for lo := 0; lo < len(t.pages); {
		hi := lo + 1
		for hi < len(t.pages) && t.pages[hi].out == t.pages[lo].out {
			hi++
		}
		key = t.pages[lo].src.file.key
		c, err := buildColumn(mem, t.pages[lo:hi])
		if err != nil {
			return t.pages[lo].src.fieldErr(err)
		}
		cols[t.pages[lo].out] = c
		lo = hi
	}
	return nil
}

// buildColumn returns the wanted rows of a column's pages: built in one
// piece when every page holds fixed-width rows without nulls, else page by
// page and concatenated.
func buildColumn(mem memory.Allocator, pages []*takePage) (arrow.Array, error) {
	if len(pages) == 1 {
		return pages[0].build(mem)
	}
	width, total := -1, 0
	for _, tp := range pages {
		ft, ok := tp.node.(fixedTake)
		if !ok || ft.rowBytes() <= 0 || (width >= 0 && ft.rowBytes() != width) {
			width = -1
			break
		}
		width = ft.rowBytes()
		total += tp.total
	}
	if width > 0 {
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(total * width)
		at := 0
		for _, tp := range pages {
			n := tp.total * width
			if err := tp.node.(fixedTake).copyRows(buf.Bytes()[at:at+n], tp.runs); err != nil {
				buf.Release()
				return nil, err
			}
			at += n
		}
		data := fixedData(pages[0].src.dt, total, buf)
		buf.Release()
		defer data.Release()
		return array.MakeFromData(data), nil
	}
	parts := make([]arrow.Array, 0, len(pages))
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for _, tp := range pages {
		a, err := tp.build(mem)
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	return array.Concatenate(parts, mem)
}

// fixedTake is implemented by the readers of fixed-width rows without
// nulls (flat values, fixed-size lists of them).
type fixedTake interface {
	// rowBytes is the bytes of one row, 0 if not a whole number.
	rowBytes() int
	// copyRows copies the rows of runs to dst, of rowBytes() per row.
	copyRows(dst []byte, runs []rowRun) error
}

// fixedData is the array data of n rows of fixed-width type dt (a
// fixed-size list nests) whose values are buf.
func fixedData(dt arrow.DataType, n int, buf *memory.Buffer) arrow.ArrayData {
	if t, ok := dt.(*arrow.FixedSizeListType); ok {
		child := fixedData(t.Elem(), n*int(t.Len()), buf)
		defer child.Release()
		return array.NewData(dt, n, []*memory.Buffer{nil}, []arrow.ArrayData{child}, 0, 0)
	}
	return array.NewData(dt, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
}

// build returns the page's wanted rows.
func (tp *takePage) build(mem memory.Allocator) (arrow.Array, error) {
	if tp.node != nil {
		return tp.node.build(mem, tp.runs, tp.total)
	}
	p := tp.pc.page
	src := &pageSource{key: tp.src.file.key, column: tp.pc.colBuf, page: make([][]byte, len(p.offsets))}
	for k := range p.offsets {
		b, _, err := tp.pc.pageBuf(k).get(0, p.sizes[k])
		if err != nil {
			return nil, err
		}
		src.page[k] = b
	}
	if p.rows > 1<<31 {
		return nil, corruptf(src.key, "column %d page %d of %d rows", tp.src.col, tp.pi, p.rows)
	}
	arr, err := decodeAnyPage(mem, src, p, tp.src.dt)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	return sliceRuns(mem, arr, tp.runs)
}

// sliceRuns returns the rows of runs of arr.
func sliceRuns(mem memory.Allocator, arr arrow.Array, runs []rowRun) (arrow.Array, error) {
	if len(runs) == 1 {
		r := runs[0]
		return array.NewSlice(arr, int64(r.first), int64(r.first+r.n)), nil
	}
	parts := make([]arrow.Array, len(runs))
	for i, r := range runs {
		parts[i] = array.NewSlice(arr, int64(r.first), int64(r.first+r.n))
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	return array.Concatenate(parts, mem)
}

// pageCtx resolves the buffers of one page.
type pageCtx struct {
	file   *fileFetch
	page   *pageInfo
	colBuf [][]byte
}

func (pc *pageCtx) pageBuf(k int) bufLoc {
	return bufLoc{file: pc.file, off: pc.page.offsets[k], size: pc.page.sizes[k]}
}

// resolve locates an encoding's buffer; ok is false for buffers the
// ranged reader does not handle (file-level ones, bad indices).
func (pc *pageCtx) resolve(b *ep.Buffer) (bufLoc, bool) {
	if b == nil {
		return bufLoc{}, false
	}
	i := int(b.GetBufferIndex())
	switch b.GetBufferType() {
	case ep.Buffer_page:
		if i < len(pc.page.offsets) {
			return pc.pageBuf(i), true
		}
	case ep.Buffer_column:
		if i < len(pc.colBuf) {
			return bufLoc{inMem: true, mem: pc.colBuf[i], size: uint64(len(pc.colBuf[i]))}, true
		}
	}
	return bufLoc{}, false
}

// bufLoc is one buffer an encoding refers to: a page buffer in the file,
// or a column metadata buffer already in memory.
type bufLoc struct {
	file      *fileFetch
	off, size uint64 // position in the file
	inMem     bool
	mem       []byte
}

// want asks for bytes [lo, hi) of the buffer (within it: callers check).
func (b bufLoc) want(lo, hi uint64) {
	if b.inMem || lo >= hi {
		return
	}
	b.file.want(b.off, b.size, lo, hi)
}

// get returns bytes [lo, hi) of the buffer, fetched after want asked for
// them, and the length of the read they are part of.
func (b bufLoc) get(lo, hi uint64) ([]byte, int, error) {
	if hi > b.size || lo > hi {
		return nil, 0, corruptf(b.file.key, "range %d-%d of a %d-byte buffer", lo, hi, b.size)
	}
	if b.inMem {
		return b.mem[lo:hi], len(b.mem), nil
	}
	if lo == hi {
		return nil, 0, nil
	}
	return b.file.get(b.off+lo, hi-lo)
}

// takeNode reads the rows of runs of one encoding level of a page.
type takeNode interface {
	// want asks for the bytes that round (0, then 1 after round 0's bytes
	// are fetched) needs.
	want(runs []rowRun, round int) error
	// build returns the rows of runs (total of them) as an array.
	build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error)
}

// compileTake returns the ranged reader of n values of type dt encoded as
// enc, or nil if the page needs a whole-page decode.
func compileTake(pc *pageCtx, enc *ep.ArrayEncoding, dt arrow.DataType, n uint64) takeNode {
	switch e := enc.GetArrayEncoding().(type) {
	case *ep.ArrayEncoding_Nullable:
		switch x := e.Nullable.GetNullability().(type) {
		case *ep.Nullable_NoNulls:
			return compileTake(pc, x.NoNulls.GetValues(), dt, n)
		case *ep.Nullable_AllNulls:
			return &allNullTake{dt: dt}
		case *ep.Nullable_SomeNulls:
			validity := compileFlat(pc, x.SomeNulls.GetValidity(), 1, n)
			values := compileTake(pc, x.SomeNulls.GetValues(), dt, n)
			if validity == nil || values == nil {
				return nil
			}
			return &someNullTake{validity: validity, values: values}
		}
	case *ep.ArrayEncoding_Flat:
		w, ok := bitWidth(dt)
		if !ok || (w != 1 && w%8 != 0) {
			return nil
		}
		f := compileFlat(pc, enc, uint64(w), n)
		if f == nil {
			return nil
		}
		f.dt = dt
		return f
	case *ep.ArrayEncoding_FixedSizeList:
		t, ok := dt.(*arrow.FixedSizeListType)
		fl := e.FixedSizeList
		if !ok || t.Len() <= 0 || fl.GetDimension() != uint32(t.Len()) || fl.GetHasValidity() {
			return nil
		}
		dim := uint64(t.Len())
		if n > (1<<62)/dim {
			return nil
		}
		items := compileTake(pc, fl.GetItems(), t.Elem(), n*dim)
		if items == nil {
			return nil
		}
		return &fslTake{dt: dt, dim: dim, items: items}
	case *ep.ArrayEncoding_Binary:
		return compileBinary(pc, e.Binary, dt, n)
	}
	return nil
}

// compileFlat checks an uncompressed flat encoding of n values of bits
// bits whose buffer holds them all.
func compileFlat(pc *pageCtx, enc *ep.ArrayEncoding, bits, n uint64) *flatTake {
	f := enc.GetFlat()
	if f == nil || f.GetBitsPerValue() != bits || (f.GetCompression() != nil && f.GetCompression().GetScheme() != "") {
		return nil
	}
	loc, ok := pc.resolve(f.GetBuffer())
	if !ok || n > (1<<60)/bits || loc.size < (n*bits+7)/8 {
		return nil
	}
	return &flatTake{bits: bits, buf: loc}
}

type allNullTake struct{ dt arrow.DataType }

func (a *allNullTake) want([]rowRun, int) error { return nil }

func (a *allNullTake) build(mem memory.Allocator, _ []rowRun, total int) (arrow.Array, error) {
	return array.MakeArrayOfNull(mem, a.dt, total), nil
}

// flatTake reads fixed-width values (bits a multiple of 8) or bits.
type flatTake struct {
	dt   arrow.DataType // nil for a validity bitmap
	bits uint64
	buf  bufLoc
}

// byteRange is the bytes of the buffer holding run r.
func (f *flatTake) byteRange(r rowRun) (uint64, uint64) {
	if f.bits == 1 {
		return r.first / 8, (r.first + r.n + 7) / 8
	}
	return r.first * f.bits / 8, (r.first + r.n) * f.bits / 8
}

func (f *flatTake) want(runs []rowRun, round int) error {
	if round == 0 {
		for _, r := range runs {
			f.buf.want(f.byteRange(r))
		}
	}
	return nil
}

// bitmap returns the bits of runs, packed from bit 0, in a buffer from mem.
func (f *flatTake) bitmap(mem memory.Allocator, runs []rowRun, total int) (*memory.Buffer, error) {
	out := memory.NewResizableBuffer(mem)
	out.Resize(int(bitutil.BytesForBits(int64(total))))
	pos := 0
	for _, r := range runs {
		b, _, err := f.buf.get(f.byteRange(r))
		if err != nil {
			out.Release()
			return nil, err
		}
		bitutil.CopyBitmap(b, int(r.first%8), int(r.n), out.Bytes(), pos)
		pos += int(r.n)
	}
	return out, nil
}

func (f *flatTake) build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error) {
	var buf *memory.Buffer
	if f.bits == 1 {
		b, err := f.bitmap(mem, runs, total)
		if err != nil {
			return nil, err
		}
		buf = b
	} else if len(runs) == 1 {
		// One run: reference the bytes read when they are most of the
		// read, rather than copying them.
		b, whole, err := f.buf.get(f.byteRange(runs[0]))
		if err != nil {
			return nil, err
		}
		if 2*len(b) >= whole {
			buf = memory.NewBufferBytes(b)
		}
	}
	if buf == nil {
		buf = memory.NewResizableBuffer(mem)
		buf.Resize(total * int(f.bits/8))
		if err := f.copyRows(buf.Bytes(), runs); err != nil {
			buf.Release()
			return nil, err
		}
	}
	data := array.NewData(f.dt, total, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer data.Release()
	return array.MakeFromData(data), nil
}

func (f *flatTake) rowBytes() int {
	if f.bits%8 != 0 || f.dt == nil {
		return 0
	}
	return int(f.bits / 8)
}

func (f *flatTake) copyRows(dst []byte, runs []rowRun) error {
	at := 0
	for _, r := range runs {
		b, _, err := f.buf.get(f.byteRange(r))
		if err != nil {
			return err
		}
		at += copy(dst[at:], b)
	}
	return nil
}

// someNullTake reads a validity bitmap and the values under it.
type someNullTake struct {
	validity *flatTake
	values   takeNode
}

func (s *someNullTake) want(runs []rowRun, round int) error {
	if err := s.validity.want(runs, round); err != nil {
		return err
	}
	return s.values.want(runs, round)
}

func (s *someNullTake) build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error) {
	vb, err := s.validity.bitmap(mem, runs, total)
	if err != nil {
		return nil, err
	}
	defer vb.Release()
	values, err := s.values.build(mem, runs, total)
	if err != nil {
		return nil, err
	}
	defer values.Release()
	data := values.Data()
	if own := data.Buffers()[0]; own != nil && values.NullN() > 0 {
		bitutil.BitmapAnd(vb.Bytes(), own.Bytes(), 0, int64(data.Offset()), vb.Bytes(), 0, int64(total))
	}
	bufs := append([]*memory.Buffer{vb}, data.Buffers()[1:]...)
	nd := array.NewData(data.DataType(), total, bufs, data.Children(), array.UnknownNullCount, data.Offset())
	defer nd.Release()
	return array.MakeFromData(nd), nil
}

// fslTake reads fixed-size lists: row r is item rows [r*dim, (r+1)*dim).
type fslTake struct {
	dt    arrow.DataType
	dim   uint64
	items takeNode
}

func (f *fslTake) scale(runs []rowRun) []rowRun {
	out := make([]rowRun, len(runs))
	for i, r := range runs {
		out[i] = rowRun{r.first * f.dim, r.n * f.dim}
	}
	return out
}

func (f *fslTake) want(runs []rowRun, round int) error {
	return f.items.want(f.scale(runs), round)
}

func (f *fslTake) build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error) {
	items, err := f.items.build(mem, f.scale(runs), total*int(f.dim))
	if err != nil {
		return nil, err
	}
	defer items.Release()
	data := array.NewData(f.dt, total, []*memory.Buffer{nil}, []arrow.ArrayData{items.Data()}, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

func (f *fslTake) rowBytes() int {
	if ft, ok := f.items.(fixedTake); ok {
		return ft.rowBytes() * int(f.dim)
	}
	return 0
}

func (f *fslTake) copyRows(dst []byte, runs []rowRun) error {
	return f.items.(fixedTake).copyRows(dst, f.scale(runs))
}

// binaryTake reads strings and binaries: Lance end offsets (no leading
// zero; a value >= adj marks a null, value % adj is the end) and bytes.
type binaryTake struct {
	dt    arrow.DataType
	large bool
	ends  bufLoc
	w     uint64 // bytes per end offset
	bytes bufLoc
	adj   uint64
}

func compileBinary(pc *pageCtx, b *ep.Binary, dt arrow.DataType, n uint64) takeNode {
	large, ok := isLargeBinary(dt)
	if !ok {
		return nil
	}
	idx := b.GetIndices()
	if nn := idx.GetNullable().GetNoNulls(); nn != nil {
		idx = nn.GetValues()
	}
	bits := idx.GetFlat().GetBitsPerValue()
	if bits != 8 && bits != 16 && bits != 32 && bits != 64 {
		return nil
	}
	ends := compileFlat(pc, idx, bits, n)
	by := b.GetBytes()
	if nn := by.GetNullable().GetNoNulls(); nn != nil {
		by = nn.GetValues()
	}
	bytes := compileFlat(pc, by, 8, 0)
	if ends == nil || bytes == nil {
		return nil
	}
	return &binaryTake{dt: dt, large: large, ends: ends.buf, w: bits / 8, bytes: bytes.buf, adj: b.GetNullAdjustment()}
}

// endsRange is the bytes of the end offsets a run needs: of rows
// [first-1, first+n), or [0, n) when first is 0.
func (b *binaryTake) endsRange(r rowRun) (uint64, uint64) {
	lo := r.first
	if lo > 0 {
		lo--
	}
	return lo * b.w, (r.first + r.n) * b.w
}

// runEnds returns a reader of the stored end values of run r's rows
// (stored(i) is row first+i's) and the byte position where its first
// row starts.
func (b *binaryTake) runEnds(r rowRun) (stored func(i uint64) uint64, start uint64, err error) {
	raw, _, err := b.ends.get(b.endsRange(r))
	if err != nil {
		return nil, 0, err
	}
	var at func(i uint64) uint64
	switch b.w {
	case 1:
		at = func(i uint64) uint64 { return uint64(raw[i]) }
	case 2:
		at = func(i uint64) uint64 { return uint64(binary.LittleEndian.Uint16(raw[2*i:])) }
	case 4:
		at = func(i uint64) uint64 { return uint64(binary.LittleEndian.Uint32(raw[4*i:])) }
	default:
		at = func(i uint64) uint64 { return binary.LittleEndian.Uint64(raw[8*i:]) }
	}
	if r.first == 0 {
		return at, 0, nil
	}
	return func(i uint64) uint64 { return at(i + 1) }, b.end(at(0)), nil
}

// end is the end offset a stored value encodes.
func (b *binaryTake) end(v uint64) uint64 {
	if b.adj > 0 {
		return v % b.adj
	}
	return v
}

// span is the bytes of run r: [start, end).
func (b *binaryTake) span(r rowRun) (uint64, uint64, error) {
	stored, start, err := b.runEnds(r)
	if err != nil {
		return 0, 0, err
	}
	last := b.end(stored(r.n - 1))
	if last < start || last > b.bytes.size {
		return 0, 0, corruptf(b.bytes.file.key, "string bytes %d-%d of a %d-byte buffer", start, last, b.bytes.size)
	}
	return start, last, nil
}

func (b *binaryTake) want(runs []rowRun, round int) error {
	for _, r := range runs {
		if round == 0 {
			b.ends.want(b.endsRange(r))
			continue
		}
		start, end, err := b.span(r)
		if err != nil {
			return err
		}
		b.bytes.want(start, end)
	}
	return nil
}

func (b *binaryTake) build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error) {
	size := uint64(0)
	for _, r := range runs {
		start, end, err := b.span(r)
		if err != nil {
			return nil, err
		}
		size += end - start
	}
	if !b.large && size > 1<<31-1 {
		return nil, fmt.Errorf("lance: %s: taken strings exceed 2 GiB", b.bytes.file.key)
	}
	ob := newOffsets(mem, total, b.large)
	vals := memory.NewResizableBuffer(mem)
	vals.Resize(int(size))
	var validity *memory.Buffer
	release := func() {
		ob.buf.Release()
		vals.Release()
		if validity != nil {
			validity.Release()
		}
	}
	out := vals.Bytes()[:0]
	nulls, pos := 0, 0
	ob.set(0, 0)
	for _, r := range runs {
		stored, start, err := b.runEnds(r)
		if err != nil {
			release()
			return nil, err
		}
		base := uint64(len(out))
		prev := start
		for i := uint64(0); i < r.n; i++ {
			v := stored(i)
			e := b.end(v)
			if e < prev || e > b.bytes.size {
				release()
				return nil, corruptf(b.bytes.file.key, "string end offset %d at row %d (previous %d, %d bytes)", e, r.first+i, prev, b.bytes.size)
			}
			if b.adj > 0 && v >= b.adj {
				if validity == nil {
					validity = memory.NewResizableBuffer(mem)
					validity.Resize(int(bitutil.BytesForBits(int64(total))))
					bitutil.SetBitsTo(validity.Bytes(), 0, int64(total), true)
				}
				bitutil.ClearBit(validity.Bytes(), pos)
				nulls++
			}
			pos++
			ob.set(pos, base+e-start)
			prev = e
		}
		bs, _, err := b.bytes.get(start, prev)
		if err != nil {
			release()
			return nil, err
		}
		out = append(out, bs...)
	}
	data := array.NewData(b.dt, total, []*memory.Buffer{validity, ob.buf, vals}, nil, nulls, 0)
	release()
	defer data.Release()
	return array.MakeFromData(data), nil
}

// rangeFetcher gathers the byte ranges a Take needs from its data files,
// then reads them, coalesced and concurrently.
type rangeFetcher struct {
	store objstore.Store
	files []*fileFetch
}

// fileFetch is the ranges wanted from, and read of, one data file.
type fileFetch struct {
	r       *fileReader
	key     string
	pending map[uint64]*bufferWant // by the buffer's file position
	rounds  [][]byteSpan           // per fetch: spans sorted by offset, disjoint
}

// bufferWant is the ranges wanted of one buffer, relative to its start.
type bufferWant struct {
	size   uint64
	ranges []byteRange
}

type byteRange struct{ lo, hi uint64 }

// byteSpan is bytes [off, off+len(data)) of a file.
type byteSpan struct {
	off  uint64
	data []byte
}

func (f *rangeFetcher) file(r *fileReader) *fileFetch {
	for _, ff := range f.files {
		if ff.r == r {
			return ff
		}
	}
	ff := &fileFetch{r: r, key: r.key, pending: map[uint64]*bufferWant{}}
	f.files = append(f.files, ff)
	return ff
}

// want asks for bytes [lo, hi) of the buffer at off of size bytes, unless
// an earlier fetch read them.
func (ff *fileFetch) want(off, size, lo, hi uint64) {
	if _, _, ok := ff.lookup(off+lo, hi-lo); ok {
		return
	}
	bw := ff.pending[off]
	if bw == nil {
		bw = &bufferWant{size: size}
		ff.pending[off] = bw
	}
	bw.ranges = append(bw.ranges, byteRange{lo, hi})
}

// get returns bytes [off, off+n) of the file from a fetched span, and the
// span's length.
func (ff *fileFetch) get(off, n uint64) ([]byte, int, error) {
	b, whole, ok := ff.lookup(off, n)
	if !ok {
		return nil, 0, fmt.Errorf("lance: %s: bytes %d+%d were not read (take bug)", ff.key, off, n)
	}
	return b, whole, nil
}

func (ff *fileFetch) lookup(off, n uint64) ([]byte, int, bool) {
	for _, spans := range ff.rounds {
		i := sort.Search(len(spans), func(i int) bool { return spans[i].off+uint64(len(spans[i].data)) > off })
		if i < len(spans) && spans[i].off <= off && off+n <= spans[i].off+uint64(len(spans[i].data)) {
			s := off - spans[i].off
			return spans[i].data[s : s+n : s+n], len(spans[i].data), true
		}
	}
	return nil, 0, false
}

// coalesce sorts ranges and merges those less than takeCoalesceGap apart.
func coalesce(rs []byteRange) []byteRange {
	slices.SortFunc(rs, func(a, b byteRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+takeCoalesceGap {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// plan turns the pending wants into the file ranges to read.
func (ff *fileFetch) plan() []byteRange {
	var all []byteRange
	for off, bw := range ff.pending {
		rs := coalesce(bw.ranges)
		covered := uint64(0)
		for _, r := range rs {
			covered += r.hi - r.lo
		}
		if 2*covered >= bw.size {
			rs = []byteRange{{0, bw.size}}
		}
		for _, r := range rs {
			all = append(all, byteRange{off + r.lo, off + r.hi})
		}
	}
	clear(ff.pending)
	return coalesce(all)
}

// run reads every pending range: one read per coalesced range, at most
// takeParallel at a time.
func (f *rangeFetcher) run(ctx context.Context) error {
	type job struct {
		ff   *fileFetch
		r    byteRange
		data []byte
		err  error
	}
	var jobs []*job
	for _, ff := range f.files {
		for _, r := range ff.plan() {
			jobs = append(jobs, &job{ff: ff, r: r})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	read := func(j *job) {
		if err := ctx.Err(); err != nil {
			j.err = err
			return
		}
		n := j.r.hi - j.r.lo
		b, err := f.store.GetRange(ctx, j.ff.key, int64(j.r.lo), int64(n))
		switch {
		case err != nil:
			j.err = fmt.Errorf("lance: read %s: %w", j.ff.key, err)
		case uint64(len(b)) != n:
			j.err = corruptf(j.ff.key, "short read: %d of %d bytes at %d", len(b), n, j.r.lo)
		}
		j.data = b
	}
	if len(jobs) == 1 {
		read(jobs[0])
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, takeParallel)
		for _, j := range jobs {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				read(j)
			}()
		}
		wg.Wait()
	}
	spans := map[*fileFetch][]byteSpan{}
	for _, j := range jobs {
		if j.err != nil {
			return j.err
		}
		spans[j.ff] = append(spans[j.ff], byteSpan{off: j.r.lo, data: j.data})
	}
	for ff, s := range spans {
		ff.rounds = append(ff.rounds, s) // jobs of a file are in offset order
	}
	return nil
}
