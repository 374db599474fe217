package lance

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
	ep "github.com/flightwal/flightwal/lance/lancepb/encodingspb"
	"github.com/flightwal/flightwal/lance/lancepb/file2pb"
	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/objstore"
)

// fileReader reads a 2.0 data file with ranged reads: opening it reads the
// tail (footer, offset tables, column metadata, schema); a page is read
// only when a caller asks for its rows.
//
// A fileReader holds only metadata (no store), so a FileCache can share it
// between Datasets.
type fileReader struct {
	key string
	// minor is the data file format's minor version: 0 (2.0: 2.0
	// encodings, a column per field) or 1, 2 (2.1, 2.2: structural
	// page layouts, a column per leaf field).
	minor   int
	size    int64
	numRows uint64
	schema  *filepb.Schema
	columns []*columnInfo
	legacy  *legacyMeta // a legacy (v1, format 0.1/0.2) file: read-only, its own layout
}

type columnInfo struct {
	rows   uint64 // the pages' total: rows, or items of a 2.0 list's item column
	pages  []pageInfo
	colBuf [][]byte // column metadata buffers (read at open; small)
}

type pageInfo struct {
	first, rows uint64 // row range [first, first+rows) within the file
	offsets     []uint64
	sizes       []uint64
	enc         *ep.ArrayEncoding // 2.0
	layout      *e21.PageLayout   // 2.1, 2.2
	legacy      bool              // a legacy page: offsets[0] is its position
}

// initialTailRead is how much of a file's end the first read fetches; most
// files' metadata fits.
const initialTailRead = 64 << 10

// openFileReader reads and validates the metadata of the data file at key.
// size is the file size if known (DataFile.file_size_bytes), else 0.
func openFileReader(ctx context.Context, store objstore.Store, key string, size int64) (*fileReader, error) {
	if size <= 0 {
		info, err := store.Stat(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("lance: stat %s: %w", key, err)
		}
		size = info.Size
	}
	if size < fileFooterLen {
		return nil, corruptf(key, "data file of %d bytes is too short", size)
	}
	tailStart := max(0, size-initialTailRead)
	tail, err := store.GetRange(ctx, key, tailStart, size-tailStart)
	if err != nil {
		return nil, fmt.Errorf("lance: read %s: %w", key, err)
	}
	if int64(len(tail)) != size-tailStart {
		return nil, corruptf(key, "short read of the tail: %d of %d bytes", len(tail), size-tailStart)
	}
	end8 := tail[len(tail)-8:]
	if string(end8[4:]) != magic {
		return nil, corruptf(key, "bad data file magic %q", end8[4:])
	}
	if binary.LittleEndian.Uint16(end8) == 0 && binary.LittleEndian.Uint16(end8[2:]) < 3 {
		return openLegacy(key, size, tail, tailStart)
	}
	foot := tail[len(tail)-fileFooterLen:]
	major, minor := binary.LittleEndian.Uint16(foot[32:]), binary.LittleEndian.Uint16(foot[34:])
	fileMinor := 0
	switch {
	case major == 0 && minor == 3, major == 2 && minor == 0:
	case major == 2 && (minor == 1 || minor == 2):
		fileMinor = int(minor)
	default:
		return nil, unsupportedf("%s: data file version %d.%d (formats 2.0, 2.1 and 2.2 are read)", key, major, minor)
	}
	a := binary.LittleEndian.Uint64(foot[0:])
	b := binary.LittleEndian.Uint64(foot[8:])
	c := binary.LittleEndian.Uint64(foot[16:])
	gn := uint64(binary.LittleEndian.Uint32(foot[24:]))
	cn := uint64(binary.LittleEndian.Uint32(foot[28:]))
	metaEnd := uint64(size - fileFooterLen)
	if a > b || b > metaEnd || c > metaEnd || cn*16 > metaEnd-b || gn*16 > metaEnd-c || gn == 0 {
		return nil, corruptf(key, "bad footer: A=%d B=%d C=%d GN=%d CN=%d size=%d", a, b, c, gn, cn, size)
	}
	// readAt returns bytes [off, off+n) of the file, from the tail when it
	// holds them, else with one more ranged read that extends the tail.
	readAt := func(off, n uint64) ([]byte, error) {
		if off+n > uint64(size) || off+n < off {
			return nil, corruptf(key, "range %d+%d past the end (%d)", off, n, size)
		}
		if int64(off) < tailStart {
			more, err := store.GetRange(ctx, key, int64(off), tailStart-int64(off))
			if err != nil {
				return nil, fmt.Errorf("lance: read %s: %w", key, err)
			}
			if int64(len(more)) != tailStart-int64(off) {
				return nil, corruptf(key, "short read at %d", off)
			}
			tail = append(more, tail...)
			tailStart = int64(off)
		}
		s := off - uint64(tailStart)
		return tail[s : s+n], nil
	}
	gbo, err := readAt(c, gn*16)
	if err != nil {
		return nil, err
	}
	gbPos, gbLen := binary.LittleEndian.Uint64(gbo), binary.LittleEndian.Uint64(gbo[8:])
	// Read from the lowest metadata position at once: the schema (global
	// buffer 0) and every column's metadata.
	low := min(a, gbPos)
	if low > metaEnd {
		return nil, corruptf(key, "global buffer 0 at %d", gbPos)
	}
	if _, err := readAt(low, metaEnd-low); err != nil {
		return nil, err
	}
	gb, err := readAt(gbPos, gbLen)
	if err != nil {
		return nil, err
	}
	desc := &filepb.FileDescriptor{}
	if err := proto.Unmarshal(gb, desc); err != nil {
		return nil, corruptf(key, "file descriptor: %v", err)
	}
	r := &fileReader{key: key, minor: fileMinor, size: size, numRows: desc.GetLength(), schema: desc.GetSchema()}
	cmo, err := readAt(b, cn*16)
	if err != nil {
		return nil, err
	}
	r.columns = make([]*columnInfo, cn)
	for i := range r.columns {
		pos, n := binary.LittleEndian.Uint64(cmo[i*16:]), binary.LittleEndian.Uint64(cmo[i*16+8:])
		raw, err := readAt(pos, n)
		if err != nil {
			return nil, err
		}
		col, err := r.parseColumn(i, raw, readAt)
		if err != nil {
			return nil, err
		}
		r.columns[i] = col
	}
	return r, nil
}

func (r *fileReader) parseColumn(i int, raw []byte, readAt func(off, n uint64) ([]byte, error)) (*columnInfo, error) {
	cm := &file2pb.ColumnMetadata{}
	if err := proto.Unmarshal(raw, cm); err != nil {
		return nil, corruptf(r.key, "column %d metadata: %v", i, err)
	}
	if len(cm.GetBufferOffsets()) != len(cm.GetBufferSizes()) {
		return nil, corruptf(r.key, "column %d: %d buffer offsets, %d sizes", i, len(cm.GetBufferOffsets()), len(cm.GetBufferSizes()))
	}
	col := &columnInfo{}
	for j, off := range cm.GetBufferOffsets() {
		b, err := readAt(off, cm.GetBufferSizes()[j])
		if err != nil {
			return nil, err
		}
		col.colBuf = append(col.colBuf, b)
	}
	next := uint64(0)
	for j, p := range cm.GetPages() {
		if len(p.GetBufferOffsets()) != len(p.GetBufferSizes()) {
			return nil, corruptf(r.key, "column %d page %d: %d buffer offsets, %d sizes", i, j, len(p.GetBufferOffsets()), len(p.GetBufferSizes()))
		}
		for k, off := range p.GetBufferOffsets() {
			if end := off + p.GetBufferSizes()[k]; end < off || end > uint64(r.size) {
				return nil, corruptf(r.key, "column %d page %d buffer %d past the end", i, j, k)
			}
		}
		pi := pageInfo{first: next, rows: p.GetLength(), offsets: p.GetBufferOffsets(), sizes: p.GetBufferSizes()}
		var err error
		if r.minor == 0 {
			pi.enc, err = r.pageEncoding(p.GetEncoding())
		} else {
			pi.layout, err = r.pageLayout(p.GetEncoding())
		}
		if err != nil {
			return nil, fmt.Errorf("column %d page %d: %w", i, j, err)
		}
		col.pages = append(col.pages, pi)
		next += p.GetLength()
	}
	// A 2.0 column of list items holds items, not rows: sources checks
	// the columns it reads as rows.
	if next != r.numRows && r.minor > 0 {
		return nil, corruptf(r.key, "column %d pages hold %d rows, file %d", i, next, r.numRows)
	}
	col.rows = next
	return col, nil
}

func (r *fileReader) pageEncoding(e *file2pb.Encoding) (*ep.ArrayEncoding, error) {
	enc := &ep.ArrayEncoding{}
	if err := r.directEncoding(e, "lance.encodings.ArrayEncoding", "(file format 2.1+?)", enc); err != nil {
		return nil, err
	}
	return enc, nil
}

// pageLayout parses a 2.1/2.2 page's encoding.
func (r *fileReader) pageLayout(e *file2pb.Encoding) (*e21.PageLayout, error) {
	pl := &e21.PageLayout{}
	if err := r.directEncoding(e, "lance.encodings21.PageLayout", fmt.Sprintf("in a 2.%d file", r.minor), pl); err != nil {
		return nil, err
	}
	return pl, nil
}

// directEncoding unpacks a page's direct encoding, an Any whose type must
// be typeName, into msg; otherwise unsupported, saying where (hint).
func (r *fileReader) directEncoding(e *file2pb.Encoding, typeName, hint string, msg proto.Message) error {
	d, ok := e.GetLocation().(*file2pb.Encoding_Direct)
	if !ok {
		return unsupportedf("%s: page encoding location %T", r.key, e.GetLocation())
	}
	a := &anypb.Any{}
	if err := proto.Unmarshal(d.Direct.GetEncoding(), a); err != nil {
		return corruptf(r.key, "page encoding: %v", err)
	}
	if !strings.HasSuffix(a.GetTypeUrl(), typeName) {
		return unsupportedf("%s: page encoding %q %s", r.key, a.GetTypeUrl(), hint)
	}
	if err := proto.Unmarshal(a.GetValue(), msg); err != nil {
		return corruptf(r.key, "page encoding: %v", err)
	}
	return nil
}

// readPage reads page pi of column ci from store and decodes it as type dt.
func (r *fileReader) readPage(ctx context.Context, store objstore.Store, mem memory.Allocator, ci, pi int, dt arrow.DataType) (arrow.Array, error) {
	src, err := r.readPageBuffers(ctx, store, ci, pi)
	if err != nil {
		return nil, err
	}
	p := &r.columns[ci].pages[pi]
	if p.rows > 1<<31 {
		return nil, corruptf(r.key, "column %d page %d of %d rows", ci, pi, p.rows)
	}
	a, err := decodeAnyPage(mem, src, p, dt)
	if err != nil {
		return nil, fmt.Errorf("column %d page %d: %w", ci, pi, err)
	}
	return a, nil
}

// decodeAnyPage decodes a 2.0 page or a 2.1/2.2 page of a top-level leaf.
func decodeAnyPage(mem memory.Allocator, src *pageSource, p *pageInfo, dt arrow.DataType) (arrow.Array, error) {
	if p.layout == nil {
		return decodePage(mem, src, p.enc, dt, int(p.rows))
	}
	ld, err := decodeStructuralPage(src, p.layout, int(p.rows))
	if err != nil {
		return nil, err
	}
	return flatLeafArray(mem, src.key, dt, ld, int(p.rows))
}

// flatLeafArray is the array of a top-level leaf's decoded page.
func flatLeafArray(mem memory.Allocator, key string, dt arrow.DataType, ld *leafData, rows int) (arrow.Array, error) {
	if ld.rep == nil && len(ld.layers) == 1 && ld.vals.n == rows && ld.entries == rows {
		// no levels to walk: the definition levels are the validity
		var valid []bool
		if ld.def != nil {
			valid = make([]bool, rows)
			for i, d := range ld.def {
				valid[i] = d == 0
			}
		}
		return blockToArray(mem, key, dt, ld.vals, valid)
	}
	t, err := buildLeafTree(mem, key, leafPath{types: []arrow.DataType{dt}}, ld, rows)
	if err != nil {
		return nil, err
	}
	return t.toArrow(mem)
}

// readLeafPages reads and decodes every page of the 2.1/2.2 column ci,
// appended into one leafData.
func (r *fileReader) readLeafPages(ctx context.Context, store objstore.Store, ci int) (*leafData, error) {
	var all *leafData
	for pi, p := range r.columns[ci].pages {
		src, err := r.readPageBuffers(ctx, store, ci, pi)
		if err != nil {
			return nil, err
		}
		if p.layout == nil || p.rows > 1<<31 {
			return nil, corruptf(r.key, "column %d page %d is not a 2.1 page of a sane size", ci, pi)
		}
		ld, err := decodeStructuralPage(src, p.layout, int(p.rows))
		if err != nil {
			return nil, fmt.Errorf("column %d page %d: %w", ci, pi, err)
		}
		if all == nil {
			all = ld
		} else if err := all.append(r.key, ld); err != nil {
			return nil, err
		}
	}
	if all == nil {
		return nil, corruptf(r.key, "column %d without pages", ci)
	}
	return all, nil
}

// readPageBuffers reads the buffers of page pi of column ci.
func (r *fileReader) readPageBuffers(ctx context.Context, store objstore.Store, ci, pi int) (*pageSource, error) {
	col := r.columns[ci]
	p := col.pages[pi]
	src := &pageSource{key: r.key, column: col.colBuf, page: make([][]byte, len(p.offsets))}
	// One ranged read covering all the page's buffers when they are close
	// together (always, for files we write), else one read per buffer.
	lo, hi, total := uint64(1<<63), uint64(0), uint64(0)
	for k, off := range p.offsets {
		if p.sizes[k] == 0 {
			continue
		}
		lo, hi = min(lo, off), max(hi, off+p.sizes[k])
		total += p.sizes[k]
	}
	if total > 0 && hi-lo <= total+total/4+4096 {
		span, err := store.GetRange(ctx, r.key, int64(lo), int64(hi-lo))
		if err != nil {
			return nil, fmt.Errorf("lance: read %s: %w", r.key, err)
		}
		if uint64(len(span)) != hi-lo {
			return nil, corruptf(r.key, "short read of column %d page %d", ci, pi)
		}
		for k, off := range p.offsets {
			if p.sizes[k] > 0 {
				src.page[k] = span[off-lo : off-lo+p.sizes[k]]
			}
		}
	} else {
		for k, off := range p.offsets {
			if p.sizes[k] == 0 {
				continue
			}
			b, err := store.GetRange(ctx, r.key, int64(off), int64(p.sizes[k]))
			if err != nil {
				return nil, fmt.Errorf("lance: read %s: %w", r.key, err)
			}
			if uint64(len(b)) != p.sizes[k] {
				return nil, corruptf(r.key, "short read of column %d page %d", ci, pi)
			}
			src.page[k] = b
		}
	}
	return src, nil
}

// decodePage decodes a page, turning decoder panics (which checks should
// prevent) into ErrCorrupt.
func decodePage(mem memory.Allocator, src *pageSource, enc *ep.ArrayEncoding, dt arrow.DataType, n int) (arr arrow.Array, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			arr, err = nil, corruptf(src.key, "decoding page: %v", rec)
		}
	}()
	if d, ok := dt.(*arrow.DictionaryType); ok {
		if de := enc.GetDictionary(); de != nil {
			arr, err = decodeArrowDictionary(mem, src, de, d, n)
			return arr, err
		}
		// else the values are stored decoded
		var vals arrow.Array
		if vals, err = decodeArray(mem, src, enc, d.ValueType, n); err != nil {
			return nil, err
		}
		defer vals.Release()
		arr, err = dictionaryEncode(mem, d, vals)
	} else {
		arr, err = decodeArray(mem, src, enc, dt, n)
	}
	if err == nil && arr.Len() != n {
		arr.Release()
		return nil, corruptf(src.key, "page decoded to %d rows, want %d", arr.Len(), n)
	}
	return arr, err
}

// decodeArrowDictionary decodes the dictionary page of an Arrow
// dictionary field: 0-based indices into the items (which may hold a
// null, for the null rows), unlike the 1-based indices of Lance's own
// low-cardinality string pages.
func decodeArrowDictionary(mem memory.Allocator, src *pageSource, de *ep.Dictionary, dt *arrow.DictionaryType, n int) (arrow.Array, error) {
	idx, err := decodeUints(src, de.GetIndices(), n)
	if err != nil {
		return nil, err
	}
	nItems := int(de.GetNumDictionaryItems())
	if nItems > 1<<24 {
		return nil, corruptf(src.key, "dictionary of %d items", nItems)
	}
	items, err := decodeArray(mem, src, de.GetItems(), dt.ValueType, nItems)
	if err != nil {
		return nil, err
	}
	defer items.Release()
	ib := array.NewBuilder(mem, dt.IndexType)
	defer ib.Release()
	for i := range n {
		k := idx(i)
		if k >= uint64(nItems) {
			return nil, corruptf(src.key, "dictionary index %d of %d items at row %d", k, nItems, i)
		}
		if items.IsNull(int(k)) {
			ib.AppendNull()
			continue
		}
		switch b := ib.(type) {
		case *array.Int8Builder:
			b.Append(int8(k))
		case *array.Int16Builder:
			b.Append(int16(k))
		case *array.Int32Builder:
			b.Append(int32(k))
		case *array.Int64Builder:
			b.Append(int64(k))
		case *array.Uint8Builder:
			b.Append(uint8(k))
		case *array.Uint16Builder:
			b.Append(uint16(k))
		case *array.Uint32Builder:
			b.Append(uint32(k))
		case *array.Uint64Builder:
			b.Append(k)
		default:
			return nil, unsupportedf("%s: dictionary index type %s", src.key, dt.IndexType)
		}
	}
	indices := ib.NewArray()
	defer indices.Release()
	return array.NewDictionaryArray(dt, indices, items), nil
}
