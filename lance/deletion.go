package lance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// Deletion files live at root/_deletions/<fragment>-<read_version>-<id>.<ext>:
//   - .arrow: an Arrow IPC file with one batch of one non-null UInt32 column
//     "row_id" holding deleted row offsets (Lance's form for small sets);
//   - .bin: a serialized 32-bit Roaring bitmap, portable format.
//
// Invariant: a deletion file is immutable and written before the manifest
// that references it; merging deletions always writes a new file.
const deletionsDir = "_deletions"

// arrowDeletionMax is the largest set written as .arrow; bigger sets are
// written as Roaring bitmaps (a variable for tests).
var arrowDeletionMax uint64 = 4096

var deletionSchema = arrow.NewSchema([]arrow.Field{{Name: "row_id", Type: arrow.PrimitiveTypes.Uint32}}, nil)

func deletionKey(root string, fragID uint64, df *tablepb.DeletionFile) string {
	ext := "arrow"
	if df.GetFileType() == tablepb.DeletionFile_BITMAP {
		ext = "bin"
	}
	return join(root, fmt.Sprintf("%s/%d-%d-%d.%s", deletionsDir, fragID, df.GetReadVersion(), df.GetId(), ext))
}

func randomU64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// writeDeletionFile stores bm for fragment fragID of a dataset whose
// current version is readVersion and returns its manifest entry.
func writeDeletionFile(ctx context.Context, store objstore.Store, root string, fragID, readVersion uint64, bm *roaring.Bitmap) (*tablepb.DeletionFile, error) {
	df := &tablepb.DeletionFile{
		ReadVersion:    readVersion,
		Id:             randomU64(),
		NumDeletedRows: bm.GetCardinality(),
	}
	var data []byte
	if bm.GetCardinality() <= arrowDeletionMax {
		df.FileType = tablepb.DeletionFile_ARROW_ARRAY
		var err error
		if data, err = encodeArrowDeletions(bm); err != nil {
			return nil, err
		}
	} else {
		df.FileType = tablepb.DeletionFile_BITMAP
		bm.RunOptimize()
		var buf bytes.Buffer
		if _, err := bm.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("lance: serialize deletion bitmap: %w", err)
		}
		data = buf.Bytes()
	}
	key := deletionKey(root, fragID, df)
	if err := store.PutIfAbsent(ctx, key, data); err != nil {
		return nil, fmt.Errorf("lance: write %s: %w", key, err)
	}
	return df, nil
}

func encodeArrowDeletions(bm *roaring.Bitmap) ([]byte, error) {
	b := array.NewUint32Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(bm.ToArray(), nil)
	arr := b.NewArray()
	defer arr.Release()
	rec := array.NewRecordBatch(deletionSchema, []arrow.Array{arr}, int64(arr.Len()))
	defer rec.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(deletionSchema))
	if err != nil {
		return nil, fmt.Errorf("lance: deletion file: %w", err)
	}
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("lance: deletion file: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("lance: deletion file: %w", err)
	}
	return buf.Bytes(), nil
}

// boundedAllocator refuses single allocations above max bytes by
// panicking (recovered by decodeDeletionFile): a corrupt compressed IPC
// buffer can claim any decompressed size.
type boundedAllocator struct {
	memory.Allocator
	max int
}

func (a boundedAllocator) Allocate(size int) []byte {
	if size > a.max {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the %d-byte bound", size, a.max))
	}
	return a.Allocator.Allocate(size)
}

func (a boundedAllocator) Reallocate(size int, b []byte) []byte {
	if size > a.max {
		panic(fmt.Sprintf("buffer of %d bytes exceeds the %d-byte bound", size, a.max))
	}
	return a.Allocator.Reallocate(size, b)
}

// decodeDeletionFile parses either deletion file form of a fragment with
// physicalRows rows; key names it in errors.
func decodeDeletionFile(key string, typ tablepb.DeletionFile_DeletionFileType, data []byte, physicalRows uint64) (bm *roaring.Bitmap, err error) {
	defer func() {
		// The Arrow IPC and Roaring decoders can panic on hostile input.
		if r := recover(); r != nil {
			bm, err = nil, corruptf(key, "deletion file: %v", r)
		}
	}()
	switch typ {
	case tablepb.DeletionFile_BITMAP:
		bm = roaring.New()
		if _, err := bm.ReadFrom(bytes.NewReader(data)); err != nil {
			return nil, corruptf(key, "roaring bitmap: %v", err)
		}
		return bm, nil
	case tablepb.DeletionFile_ARROW_ARRAY:
		// At most one u32 per row, plus slack for padding.
		bound := boundedAllocator{memory.NewGoAllocator(), int(min(physicalRows, 1<<32)*4 + 1<<16)}
		r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(bound))
		if err != nil {
			return nil, corruptf(key, "arrow file: %v", err)
		}
		defer r.Close()
		if r.NumRecords() != 1 {
			return nil, corruptf(key, "%d batches in deletion file, want 1", r.NumRecords())
		}
		if s := r.Schema(); s.NumFields() != 1 || s.Field(0).Type.ID() != arrow.UINT32 {
			return nil, corruptf(key, "deletion file schema %s", s)
		}
		rec, err := r.RecordBatch(0)
		if err != nil {
			return nil, corruptf(key, "arrow file: %v", err)
		}
		col := rec.Column(0).(*array.Uint32)
		if col.NullN() > 0 {
			return nil, corruptf(key, "null row ids in deletion file")
		}
		bm = roaring.New()
		bm.AddMany(col.Uint32Values())
		return bm, nil
	}
	return nil, corruptf(key, "unknown deletion file type %d", typ)
}

// DeletionBitmap returns the deleted row offsets of fragment fragID (nil if
// it has no deletion file). The bitmap is cached and shared: do not modify.
func (d *Dataset) DeletionBitmap(ctx context.Context, fragID uint64) (*roaring.Bitmap, error) {
	f, ok := d.fragment(fragID)
	if !ok {
		return nil, fmt.Errorf("lance: %s version %d has no fragment %d", d.root, d.Version(), fragID)
	}
	df := f.pb.GetDeletionFile()
	if df == nil {
		return nil, nil
	}
	d.mu.Lock()
	bm, ok := d.deletions[fragID]
	d.mu.Unlock()
	if ok {
		return bm, nil
	}
	key := deletionKey(d.root, fragID, df)
	data, err := d.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("lance: read %s: %w", key, err)
	}
	bm, err = decodeDeletionFile(key, df.GetFileType(), data, f.PhysicalRows)
	if err != nil {
		return nil, err
	}
	if m := bm.Maximum(); !bm.IsEmpty() && uint64(m) >= f.PhysicalRows {
		return nil, corruptf(key, "deleted row %d in fragment of %d rows", m, f.PhysicalRows)
	}
	d.mu.Lock()
	d.deletions[fragID] = bm
	d.mu.Unlock()
	return bm, nil
}
