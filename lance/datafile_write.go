package lance

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	ep "github.com/flightwal/flightwal/lance/lancepb/encodingspb"
	"github.com/flightwal/flightwal/lance/lancepb/file2pb"
	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/objstore"
)

// Data file format 2.0 (shared/LANCE_FORMAT.md section 5), as we write it:
//
//	| page buffers, column by column, page by page, each padded to 64 bytes |
//	| global buffer 0: FileDescriptor (padded to 64)                        |
//	| ColumnMetadata of each column, back to back                           | <- A
//	| column metadata offsets: CN x (u64 pos, u64 size)                     | <- B
//	| global buffer offsets:   GN x (u64 pos, u64 size)                     | <- C = B + 16*CN
//	| footer: u64 A, u64 B, u64 C, u32 GN, u32 CN, u16 0, u16 3, "LANC"      |
const (
	dataDir           = "data"
	dataFileSuffix    = ".lance"
	fileFooterLen     = 40
	fileMajor         = 0 // footer version of a 2.0 file is 0.3
	fileMinor         = 3
	dataFileMajor     = 2 // DataFile.file_major_version for format 2.0
	dataFileMinor     = 0
	arrayEncodingURL  = "/lance.encodings.ArrayEncoding"
	columnEncodingURL = "/lance.encodings.ColumnEncoding"
)

// Page size limits. Invariant: every page holds at least one row; a page
// exceeds pageMaxBytes only when a single row does. Variables so tests can
// force multi-page columns.
var (
	pageMaxBytes = 8 << 20
	pageMaxRows  = 1 << 20
)

// WriteFragment writes recs (all with schema's fields, in order) as one data
// file root/data/<uuid>.lance and returns it for a Transaction. It needs at
// least one row.
func WriteFragment(ctx context.Context, store objstore.Store, root string, schema *arrow.Schema, recs []arrow.RecordBatch) (NewFragment, error) {
	return WriteFragmentVersion(ctx, store, root, schema, recs, Version20)
}

// WriteFragmentVersion is WriteFragment in data file format v: a
// dataset's new fragments must use its DataStorageVersion.
func WriteFragmentVersion(ctx context.Context, store objstore.Store, root string, schema *arrow.Schema, recs []arrow.RecordBatch, v DataStorageVersion) (NewFragment, error) {
	data, rows, err := encodeDataFileVersion(schema, recs, v)
	if err != nil {
		return NewFragment{}, err
	}
	name := uuid.NewString() + dataFileSuffix
	key := join(root, dataDir+"/"+name)
	if err := store.PutIfAbsent(ctx, key, data); err != nil {
		return NewFragment{}, fmt.Errorf("lance: write %s: %w", key, err)
	}
	return NewFragment{Path: name, Rows: rows, SizeBytes: uint64(len(data)), Schema: schema, Version: v}, nil
}

// checkRecords verifies recs match schema and counts their rows.
func checkRecords(schema *arrow.Schema, recs []arrow.RecordBatch) (uint64, error) {
	var rows uint64
	for ri, r := range recs {
		if int(r.NumCols()) != schema.NumFields() {
			return 0, fmt.Errorf("lance: batch %d has %d columns, schema %d", ri, r.NumCols(), schema.NumFields())
		}
		for ci, f := range schema.Fields() {
			col := r.Column(ci)
			if !arrow.TypeEqual(col.DataType(), f.Type) && !sameLogical(col.DataType(), f.Type) {
				return 0, fmt.Errorf("lance: batch %d column %q is %s, schema says %s", ri, f.Name, col.DataType(), f.Type)
			}
			if !f.Nullable && col.NullN() > 0 {
				return 0, fmt.Errorf("lance: batch %d column %q is not nullable but has %d nulls", ri, f.Name, col.NullN())
			}
		}
		rows += uint64(r.NumRows())
	}
	return rows, nil
}

// sameLogical reports types that store identically (e.g. vectors whose item
// fields differ only in name or nullability).
func sameLogical(a, b arrow.DataType) bool {
	la, err1 := logicalType(a)
	lb, err2 := logicalType(b)
	return err1 == nil && err2 == nil && la == lb
}

// pageSpec is one page of a column: consecutive slices of the input chunks.
type pageSpec struct {
	parts []arrow.Array
	rows  int
}

func (p *pageSpec) release() {
	for _, a := range p.parts {
		a.Release()
	}
}

// rowBytes estimates the stored size of row i of a (for page cutting).
func rowBytes(a arrow.Array, i int) int {
	switch t := a.DataType().(type) {
	case *arrow.StringType, *arrow.BinaryType:
		return 8 + int(offsetAt(a, false, i+1)-offsetAt(a, false, i))
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		return 8 + int(offsetAt(a, true, i+1)-offsetAt(a, true, i))
	case *arrow.FixedSizeListType:
		return int(t.Len()) * (t.Elem().(arrow.FixedWidthDataType).BitWidth() + 7) / 8
	case arrow.FixedWidthDataType:
		return max(1, t.BitWidth()/8)
	}
	return 8
}

// paginate cuts a column given as chunks into pages.
func paginate(chunks []arrow.Array) []pageSpec {
	var pages []pageSpec
	cur := pageSpec{}
	curBytes := 0
	fixed := 0
	if len(chunks) > 0 {
		switch chunks[0].DataType().(type) {
		case *arrow.StringType, *arrow.BinaryType, *arrow.LargeStringType, *arrow.LargeBinaryType:
		default:
			fixed = rowBytes(chunks[0], 0)
		}
	}
	for _, c := range chunks {
		start := 0
		for start < c.Len() {
			// Take rows [start, end) of c into the current page.
			end := start
			if fixed > 0 {
				room := min(pageMaxRows-cur.rows, max(0, (pageMaxBytes-curBytes)/fixed))
				if room == 0 && cur.rows == 0 {
					room = 1
				}
				end = min(c.Len(), start+room)
				curBytes += (end - start) * fixed
			} else {
				for end < c.Len() && cur.rows+(end-start) < pageMaxRows {
					rb := rowBytes(c, end)
					if curBytes+rb > pageMaxBytes && cur.rows+(end-start) > 0 {
						break
					}
					curBytes += rb
					end++
				}
			}
			if end > start {
				cur.parts = append(cur.parts, array.NewSlice(c, int64(start), int64(end)))
				cur.rows += end - start
			}
			if end < c.Len() || cur.rows >= pageMaxRows {
				pages = append(pages, cur)
				cur, curBytes = pageSpec{}, 0
			}
			start = end
		}
	}
	if cur.rows > 0 {
		pages = append(pages, cur)
	}
	return pages
}

// fileWriter accumulates the bytes of one data file.
type fileWriter struct {
	buf []byte
}

var zeros [64]byte

// writeBuffer appends the segments of one buffer, padded to 64 bytes, and
// returns its position and size.
func (w *fileWriter) writeBuffer(segs ...[]byte) (pos, size uint64) {
	pos = uint64(len(w.buf))
	for _, s := range segs {
		w.buf = append(w.buf, s...)
	}
	size = uint64(len(w.buf)) - pos
	w.buf = append(w.buf, zeros[:pad64(int(size))]...)
	return pos, size
}

func marshalAny(url string, m proto.Message) ([]byte, error) {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(&anypb.Any{TypeUrl: url, Value: v})
}

func directEncoding(url string, m proto.Message) (*file2pb.Encoding, error) {
	b, err := marshalAny(url, m)
	if err != nil {
		return nil, err
	}
	return &file2pb.Encoding{Location: &file2pb.Encoding_Direct{Direct: &file2pb.DirectEncoding{Encoding: b}}}, nil
}

// encodeDataFile returns the bytes of a data file of format 2.minor
// (0, 1 or 2) holding recs.
func encodeDataFile(schema *arrow.Schema, recs []arrow.RecordBatch, minor int) ([]byte, uint64, error) {
	fields, err := schemaToFields(schema)
	if err != nil {
		return nil, 0, err
	}
	rows, err := checkRecords(schema, recs)
	if err != nil {
		return nil, 0, err
	}
	if rows == 0 {
		return nil, 0, fmt.Errorf("lance: a data file needs at least one row")
	}
	// Reserve the whole file up front (Arrow buffer sizes bound the pages'
	// sizes; binary ends grow 4 bytes per row) so appends never re-copy.
	size := 1 << 16
	for _, r := range recs {
		for _, c := range r.Columns() {
			size += dataBytes(c.Data()) + int(r.NumRows())*4
		}
	}
	w := &fileWriter{buf: make([]byte, 0, size+size/16)}
	colEnc, err := directEncoding(columnEncodingURL, &ep.ColumnEncoding{ColumnEncoding: &ep.ColumnEncoding_Values{Values: &emptypb.Empty{}}})
	if err != nil {
		return nil, 0, err
	}
	metas := make([][]byte, 0, schema.NumFields())
	for ci, f := range schema.Fields() {
		chunks := make([]arrow.Array, 0, len(recs))
		for _, r := range recs {
			if r.NumRows() > 0 {
				chunks = append(chunks, r.Column(ci))
			}
		}
		if minor > 0 {
			cms, err := w.writeStructuralColumns(f, chunks, minor == 2, colEnc)
			if err != nil {
				return nil, 0, err
			}
			metas = append(metas, cms...)
			continue
		}
		cms, err := w.writeField20(f, chunks, colEnc)
		if err != nil {
			return nil, 0, err
		}
		metas = append(metas, cms...)
	}
	desc, err := proto.MarshalOptions{Deterministic: true}.Marshal(&filepb.FileDescriptor{
		Schema: &filepb.Schema{Fields: fields, Metadata: schemaMetadata(schema)},
		Length: rows,
	})
	if err != nil {
		return nil, 0, err
	}
	gbPos, _ := w.writeBuffer(desc)
	a := uint64(len(w.buf))
	type posSize struct{ pos, size uint64 }
	cmo := make([]posSize, len(metas))
	for i, m := range metas {
		cmo[i] = posSize{uint64(len(w.buf)), uint64(len(m))}
		w.buf = append(w.buf, m...)
	}
	b := uint64(len(w.buf))
	for _, e := range cmo {
		w.buf = binary.LittleEndian.AppendUint64(w.buf, e.pos)
		w.buf = binary.LittleEndian.AppendUint64(w.buf, e.size)
	}
	c := uint64(len(w.buf))
	w.buf = binary.LittleEndian.AppendUint64(w.buf, gbPos)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(len(desc)))
	w.buf = binary.LittleEndian.AppendUint64(w.buf, a)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, b)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, c)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, 1) // GN
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(metas)))
	if minor == 0 {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, fileMajor)
		w.buf = binary.LittleEndian.AppendUint16(w.buf, fileMinor)
	} else {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, dataFileMajor)
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(minor))
	}
	w.buf = append(w.buf, magic...)
	return w.buf, rows, nil
}

// dataBytes is the total size of an array's buffers, children included.
func dataBytes(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += b.Len()
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// WriteFile writes recs (all with schema's fields, in order; the schema's
// metadata goes into the file) as the standalone Lance file key, in data
// file format v: the files of an index, say, which no manifest lists as
// a fragment.
func WriteFile(ctx context.Context, store objstore.Store, key string, schema *arrow.Schema, recs []arrow.RecordBatch, v DataStorageVersion) (int, error) {
	data, _, err := encodeDataFileVersion(schema, recs, v)
	if err != nil {
		return 0, err
	}
	if err := store.Put(ctx, key, data); err != nil {
		return 0, fmt.Errorf("lance: write %s: %w", key, err)
	}
	return len(data), nil
}

// encodeDataFileVersion is encodeDataFile in data storage version v.
func encodeDataFileVersion(schema *arrow.Schema, recs []arrow.RecordBatch, v DataStorageVersion) ([]byte, uint64, error) {
	if _, err := ParseDataStorageVersion(string(v)); err != nil {
		return nil, 0, err
	}
	return encodeDataFile(schema, recs, v.minor())
}
