package lsm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"hash/crc32"
	"math/bits"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/ipcguard"
	"github.com/flightwal/flightwal/objstore"
)

// A WAL entry is one Arrow IPC stream. Its schema is the table schema with
// every field nullable (delete batches store null in non-key columns), and
// its schema metadata says who wrote it and what its record batches are.
// After the stream's end-of-stream marker come 8 bytes that IPC readers
// ignore: the CRC-32C of the stream and the magic "FWAL". Replay checks
// them before parsing, so a corrupt entry is an error, never a bad parse
// (arrow-go's IPC reader trusts the lengths it reads).
const (
	walMetaEpoch   = "writer_epoch"
	walMetaPos     = "flightwal.position"
	walMetaLastSeq = "flightwal.last_seq"
	walMetaBatches = "flightwal.batches"
)

// walBatch describes one record batch of an entry.
type walBatch struct {
	Seq  uint64 `json:"seq"`
	Op   string `json:"op"`
	Rows int64  `json:"rows"`
}

// walItem is a batch waiting in the WAL buffer.
type walItem struct {
	rec arrow.RecordBatch // retained by the buffer
	seq uint64
	op  Op
	mt  *MemTable // the memtable the batch went to: entries never span two
	// bytes is the batch's Arrow buffer size, measured once at append:
	// buffer accounting, entry grouping and encoder sizing all use it.
	bytes int64
}

// bitrevName is the 64-character binary string of the bit-reversed n: it
// spreads sequential names over object-store partitions (LANCE_FORMAT.md §6).
func bitrevName(n uint64) string {
	s := strconv.FormatUint(bits.Reverse64(n), 2)
	return strings.Repeat("0", 64-len(s)) + s
}

// parseBitrevName inverts bitrevName on the base name of key with the given
// extension; ok is false for any other object.
func parseBitrevName(key, ext string) (uint64, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	if !strings.HasSuffix(base, ext) {
		return 0, false
	}
	base = strings.TrimSuffix(base, ext)
	if len(base) != 64 {
		return 0, false
	}
	v, err := strconv.ParseUint(base, 2, 64)
	if err != nil {
		return 0, false
	}
	return bits.Reverse64(v), true
}

func walSchema(table *arrow.Schema, md map[string]string) *arrow.Schema {
	fields := make([]arrow.Field, table.NumFields())
	for i, f := range table.Fields() {
		f.Nullable = true
		fields[i] = f
	}
	meta := arrow.MetadataFrom(md)
	return arrow.NewSchema(fields, &meta)
}

// encodeWALEntry writes items as one IPC stream.
//
// The entry is built in dst's storage when it is large enough (the WAL
// goroutine reuses its buffers: a fresh multi-megabyte buffer is zeroed by
// the runtime, which cost as much as encoding).
func encodeWALEntry(dst []byte, mem memory.Allocator, table *arrow.Schema, pkCol int, epoch, pos, lastSeq uint64, items []walItem) ([]byte, error) {
	desc := make([]walBatch, len(items))
	for i, it := range items {
		desc[i] = walBatch{Seq: it.seq, Op: it.op.String(), Rows: it.rec.NumRows()}
	}
	dj, err := json.Marshal(desc)
	if err != nil {
		return nil, err
	}
	schema := walSchema(table, map[string]string{
		walMetaEpoch:   strconv.FormatUint(epoch, 10),
		walMetaPos:     strconv.FormatUint(pos, 10),
		walMetaLastSeq: strconv.FormatUint(lastSeq, 10),
		walMetaBatches: string(dj),
	})
	// Sized up front: growing the buffer (zeroing and copying ever larger
	// slices) was most of the WAL goroutine's time in ingest profiles. The
	// checksum is computed as the stream is written, not in a second pass.
	size := 64 << 10
	for _, it := range items {
		size += int(it.bytes) + 1024
	}
	if cap(dst) < size {
		// Page-aligned, so the local store can write it with direct I/O;
		// a quarter spare, so the next entries, of about the same size,
		// reuse it instead of allocating (and zeroing) their own.
		dst = objstore.AlignedBytes(size + size/4)
	}
	buf := bytes.NewBuffer(dst[:0])
	sum := crc32.New(castagnoli)
	w := ipc.NewWriter(checksummedWriter{buf, sum}, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	for _, it := range items {
		rec, err := walRecord(mem, schema, pkCol, it)
		if err != nil {
			w.Close()
			return nil, err
		}
		err = w.Write(rec)
		rec.Release()
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("encoding WAL entry %d: %w", pos, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding WAL entry %d: %w", pos, err)
	}
	buf.Write(binary.LittleEndian.AppendUint32(nil, sum.Sum32()))
	buf.WriteString(walMagic)
	return buf.Bytes(), nil
}

const walMagic = "FWAL"

// checksummedWriter appends to buf and checksums what it appended, a
// piece at a time: the checksum reads each piece while it is still in
// cache, not the whole multi-megabyte Arrow buffer again from memory.
type checksummedWriter struct {
	buf *bytes.Buffer
	sum hash.Hash32
}

func (w checksummedWriter) Write(p []byte) (int, error) {
	const piece = 64 << 10
	n := len(p)
	for len(p) > 0 {
		c := p[:min(len(p), piece)]
		w.buf.Write(c)
		w.sum.Write(c)
		p = p[len(c):]
	}
	return n, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkWALFooter verifies the checksum footer and returns the IPC stream.
func checkWALFooter(data []byte) ([]byte, error) {
	n := len(data)
	if n < 8 || string(data[n-4:]) != walMagic {
		return nil, fmt.Errorf("no WAL footer (truncated or not a WAL entry)")
	}
	body := data[:n-8]
	if want, got := binary.LittleEndian.Uint32(data[n-8:]), crc32.Checksum(body, castagnoli); want != got {
		return nil, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	return body, nil
}

// walRecord widens a batch to the WAL schema: delete batches get null
// columns around their key.
func walRecord(mem memory.Allocator, schema *arrow.Schema, pkCol int, it walItem) (arrow.RecordBatch, error) {
	n := it.rec.NumRows()
	cols := make([]arrow.Array, schema.NumFields())
	for i := range cols {
		switch {
		case it.op != OpDelete:
			cols[i] = it.rec.Column(i)
			cols[i].Retain()
		case i == pkCol:
			cols[i] = it.rec.Column(0)
			cols[i].Retain()
		default:
			cols[i] = array.MakeArrayOfNull(mem, schema.Field(i).Type, int(n))
		}
	}
	rec := array.NewRecordBatch(schema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// walEntry is a decoded WAL entry.
type walEntry struct {
	epoch, pos, lastSeq uint64
	batches             []walBatch
	recs                []arrow.RecordBatch // table schema (upsert) or key only (delete); caller releases
}

func (e *walEntry) release() {
	for _, r := range e.recs {
		r.Release()
	}
}

// decodeWALEntry parses an entry written by encodeWALEntry. tableSchema and
// pkCol shape the returned records. Every error wraps ErrDataLoss (the
// entry fails its checksum or does not parse); the caller names the object.
func decodeWALEntry(mem memory.Allocator, data []byte, tableSchema *arrow.Schema, pkCol int) (*walEntry, error) {
	e, err := parseWALEntry(mem, data, tableSchema, pkCol)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataLoss, err)
	}
	return e, nil
}

func parseWALEntry(mem memory.Allocator, data []byte, tableSchema *arrow.Schema, pkCol int) (*walEntry, error) {
	body, err := checkWALFooter(data)
	if err != nil {
		return nil, err
	}
	// The checksum holds, but the entry may come from another writer:
	// bound what its metadata can make the IPC reader allocate.
	if err := ipcguard.CheckStream(body, ipcguard.DefaultLimits); err != nil {
		return nil, err
	}
	r, err := ipc.NewReader(bytes.NewReader(body), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	md := r.Schema().Metadata()
	e := &walEntry{}
	num := func(k string) (uint64, error) {
		v, ok := md.GetValue(k)
		if !ok {
			return 0, fmt.Errorf("missing metadata %q", k)
		}
		return strconv.ParseUint(v, 10, 64)
	}
	if e.epoch, err = num(walMetaEpoch); err != nil {
		return nil, err
	}
	if e.pos, err = num(walMetaPos); err != nil {
		return nil, err
	}
	if e.lastSeq, err = num(walMetaLastSeq); err != nil {
		return nil, err
	}
	bj, _ := md.GetValue(walMetaBatches)
	if err := json.Unmarshal([]byte(bj), &e.batches); err != nil {
		return nil, fmt.Errorf("metadata %q: %w", walMetaBatches, err)
	}
	if r.Schema().NumFields() != tableSchema.NumFields() {
		return nil, fmt.Errorf("entry has %d columns, table has %d", r.Schema().NumFields(), tableSchema.NumFields())
	}
	for i := 0; r.Next(); i++ {
		if i >= len(e.batches) {
			e.release()
			return nil, fmt.Errorf("more record batches than the %d described", len(e.batches))
		}
		rec := r.RecordBatch()
		if rec.NumRows() != e.batches[i].Rows {
			e.release()
			return nil, fmt.Errorf("batch %d has %d rows, metadata says %d", i, rec.NumRows(), e.batches[i].Rows)
		}
		var out arrow.RecordBatch
		if e.batches[i].Op == OpDelete.String() {
			if pkCol < 0 {
				e.release()
				return nil, fmt.Errorf("delete batch in a table without primary key")
			}
			out = array.NewRecordBatch(keySchema(tableSchema, pkCol), []arrow.Array{rec.Column(pkCol)}, rec.NumRows())
		} else {
			out = array.NewRecordBatch(tableSchema, rec.Columns(), rec.NumRows())
		}
		e.recs = append(e.recs, out)
	}
	if err := r.Err(); err != nil {
		e.release()
		return nil, err
	}
	if len(e.recs) != len(e.batches) {
		e.release()
		return nil, fmt.Errorf("%d record batches, metadata describes %d", len(e.recs), len(e.batches))
	}
	return e, nil
}

// keySchema is the schema of delete batches: the primary-key column alone.
func keySchema(table *arrow.Schema, pkCol int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{table.Field(pkCol)}, nil)
}

func parseOp(s string) Op {
	if s == OpDelete.String() {
		return OpDelete
	}
	return OpUpsert
}
