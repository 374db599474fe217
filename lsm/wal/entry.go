package wal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/ipcguard"
	"github.com/flightwal/flightwal/objstore"
)

// Op is what a batch does to its rows.
type Op uint8

const (
	OpUpsert Op = iota // insert or replace by primary key (append without one)
	OpDelete           // tombstones: the batch holds only the primary-key column
)

func (o Op) String() string {
	if o == OpDelete {
		return "delete"
	}
	return "upsert"
}

func parseOp(s string) (Op, error) {
	switch s {
	case "upsert":
		return OpUpsert, nil
	case "delete":
		return OpDelete, nil
	}
	return 0, fmt.Errorf("unknown op %q", s)
}

// Schema metadata keys of an entry (see the package comment).
const (
	metaEpoch   = "writer_epoch"   // Lance's
	metaFence   = "fence_sentinel" // Lance's: "true" on a fence
	metaPos     = "flightwal.position"
	metaLastSeq = "flightwal.last_seq"
	metaBatches = "flightwal.batches"
)

// TombstoneColumn is the last column of a Lance MemWAL entry: true on a
// row that deletes its key.
const TombstoneColumn = "_tombstone"

const magic = "FWAL"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchInfo is one element of an entry's flightwal.batches metadata.
type batchInfo struct {
	Seq  uint64 `json:"seq"`
	Op   string `json:"op"`
	Rows int64  `json:"rows"`
}

// Item is a batch on its way into the log.
type Item struct {
	Rec arrow.RecordBatch // the table's schema (OpUpsert) or the key column alone (OpDelete)
	Seq uint64
	Op  Op
	// Group is the owner's tag for the batch (its memtable): an entry
	// holds batches of one group only, and Owner.Durable reports it.
	Group any
	// Bytes is the batch's Arrow buffer size: buffer accounting, entry
	// grouping and encoder sizing use it.
	Bytes int64
}

// Batch is one batch of a decoded entry.
type Batch struct {
	Rec arrow.RecordBatch // the table's schema (OpUpsert) or the key column alone (OpDelete)
	Seq uint64
	Op  Op
}

// Entry is a decoded entry. The caller releases it.
type Entry struct {
	Epoch, Pos, LastSeq uint64
	Batches             []Batch // none: a fence
	// Foreign: another MemWAL writer (LanceDB) wrote the entry. It carries
	// no sequence numbers: its batches have Seq 0 and LastSeq is 0, and
	// the owner numbers them as it applies them.
	Foreign bool
}

// Release releases the entry's batches.
func (e *Entry) Release() {
	for _, b := range e.Batches {
		b.Rec.Release()
	}
}

// IsFence reports whether the entry is a writer's fence.
func (e *Entry) IsFence() bool { return len(e.Batches) == 0 }

// KeySchema is the schema of delete batches: the primary-key column alone.
func KeySchema(table *arrow.Schema, pkCol int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{table.Field(pkCol)}, nil)
}

// codec encodes and decodes the entries of one table.
type codec struct {
	mem    memory.Allocator
	schema *arrow.Schema // the table's
	pkCol  int           // -1: no primary key
}

// logSchema is the schema of an entry of batches (LanceSchema) with
// metadata md.
func (c codec) logSchema(md map[string]string) *arrow.Schema {
	meta := arrow.MetadataFrom(md)
	return LanceSchema(c.schema, c.pkCol, &meta)
}

// LanceSchema is the schema of the rows Lance's MemWAL logs and flushes:
// the table's columns, the key (column pkCol) as the table declares it and
// every other column nullable (a delete row holds nulls around its key),
// then Lance's tombstone column; md is its metadata (may be nil).
func LanceSchema(schema *arrow.Schema, pkCol int, md *arrow.Metadata) *arrow.Schema {
	fields := make([]arrow.Field, schema.NumFields(), schema.NumFields()+1)
	for i, f := range schema.Fields() {
		if i != pkCol {
			f.Nullable = true
		}
		fields[i] = f
	}
	fields = append(fields, arrow.Field{Name: TombstoneColumn, Type: arrow.FixedWidthTypes.Boolean})
	return arrow.NewSchema(fields, md)
}

// encode writes items as one entry, in dst's storage when it is large
// enough (the pipeline reuses its buffers: a fresh multi-megabyte buffer is
// zeroed by the runtime, which cost as much as encoding).
func (c codec) encode(dst []byte, epoch, pos, lastSeq uint64, items []Item) ([]byte, error) {
	desc := make([]batchInfo, len(items))
	for i, it := range items {
		desc[i] = batchInfo{Seq: it.Seq, Op: it.Op.String(), Rows: it.Rec.NumRows()}
	}
	dj, err := json.Marshal(desc)
	if err != nil {
		return nil, err
	}
	md := map[string]string{
		metaEpoch:   strconv.FormatUint(epoch, 10),
		metaPos:     strconv.FormatUint(pos, 10),
		metaLastSeq: strconv.FormatUint(lastSeq, 10),
		metaBatches: string(dj),
	}
	var schema *arrow.Schema
	if len(items) == 0 {
		// A fence is Lance's fence sentinel: no columns, no batches.
		md[metaFence] = "true"
		meta := arrow.MetadataFrom(md)
		schema = arrow.NewSchema(nil, &meta)
	} else {
		schema = c.logSchema(md)
	}
	// Sized up front: growing the buffer (zeroing and copying ever larger
	// slices) was most of the WAL goroutine's time in ingest profiles. The
	// checksum is computed as the stream is written, not in a second pass.
	size := 64 << 10
	for _, it := range items {
		size += int(it.Bytes) + 1024
	}
	if cap(dst) < size {
		// Page-aligned, so the local store can write it with direct I/O;
		// a quarter spare, so the next entries, of about the same size,
		// reuse it instead of allocating (and zeroing) their own.
		dst = objstore.AlignedBytes(size + size/4)
	}
	buf := bytes.NewBuffer(dst[:0])
	sum := crc32.New(castagnoli)
	w := ipc.NewWriter(checksummedWriter{buf, sum}, ipc.WithSchema(schema), ipc.WithAllocator(c.mem))
	for _, it := range items {
		rec := c.widen(schema, it)
		err := w.Write(rec)
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
	buf.WriteString(magic)
	return buf.Bytes(), nil
}

// widen gives a batch the log schema: delete batches get null columns
// around their key, and every row its tombstone flag.
func (c codec) widen(schema *arrow.Schema, it Item) arrow.RecordBatch {
	n := it.Rec.NumRows()
	cols := make([]arrow.Array, schema.NumFields())
	last := len(cols) - 1
	for i := range cols {
		switch {
		case i == last:
			cols[i] = constBool(c.mem, it.Op == OpDelete, int(n))
		case it.Op != OpDelete:
			cols[i] = it.Rec.Column(i)
			cols[i].Retain()
		case i == c.pkCol:
			cols[i] = it.Rec.Column(0)
			cols[i].Retain()
		default:
			cols[i] = array.MakeArrayOfNull(c.mem, schema.Field(i).Type, int(n))
		}
	}
	rec := array.NewRecordBatch(schema, cols, n)
	for _, col := range cols {
		col.Release()
	}
	return rec
}

// constBool is n copies of v.
func constBool(mem memory.Allocator, v bool, n int) arrow.Array {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.Reserve(n)
	for range n {
		b.UnsafeAppend(v)
	}
	return b.NewArray()
}

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

// checkFooter verifies the checksum footer and returns the IPC stream.
func checkFooter(data []byte) ([]byte, error) {
	n := len(data)
	if n < 8 || string(data[n-4:]) != magic {
		return nil, errors.New("no WAL footer (truncated or not a WAL entry)")
	}
	body := data[:n-8]
	if want, got := binary.LittleEndian.Uint32(data[n-8:]), crc32.Checksum(body, castagnoli); want != got {
		return nil, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	return body, nil
}

// decode parses the entry at pos: footer, metadata bounds, IPC stream,
// batch validation. arrow-go's panics on malformed IPC are errors here.
// Any error means the entry is corrupt; the caller names it.
//
// An entry without flightwal's footer and metadata is another MemWAL
// writer's (LanceDB's): its rows are upserts, or deletes where its
// tombstone column says so, in order; it is decoded as a Foreign entry.
func (c codec) decode(data []byte, pos uint64) (e *Entry, err error) {
	defer func() {
		if p := recover(); p != nil {
			if e != nil {
				e.Release()
			}
			e, err = nil, fmt.Errorf("malformed IPC stream: %v", p)
		}
	}()
	r, desc, foreign, err := c.open(data)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	e = &Entry{Pos: pos, Foreign: foreign}
	md := r.Schema().Metadata()
	num := func(k string) (uint64, error) {
		v, ok := md.GetValue(k)
		if !ok {
			return 0, fmt.Errorf("missing metadata %q", k)
		}
		return strconv.ParseUint(v, 10, 64)
	}
	if e.Epoch, err = num(metaEpoch); err != nil {
		return nil, err
	}
	if !foreign {
		if e.Pos, err = num(metaPos); err != nil {
			return nil, err
		}
		if e.LastSeq, err = num(metaLastSeq); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*Entry, error) {
		e.Release()
		return nil, err
	}
	if r.Schema().NumFields() == 0 {
		// Lance's fence sentinel (flightwal writes its fences so too).
		if r.Next() {
			return fail(errors.New("a fence sentinel with record batches"))
		}
		return e, r.Err()
	}
	tomb, err := c.checkSchema(r.Schema())
	if err != nil {
		return nil, err
	}
	for i := 0; r.Next(); i++ {
		rec := r.RecordBatch()
		if foreign {
			if err := c.appendForeign(e, rec, tomb); err != nil {
				return fail(fmt.Errorf("batch %d: %w", i, err))
			}
			continue
		}
		if i >= len(desc) {
			return fail(fmt.Errorf("more record batches than the %d described", len(desc)))
		}
		if rec.NumRows() != desc[i].Rows {
			return fail(fmt.Errorf("batch %d has %d rows, metadata says %d", i, rec.NumRows(), desc[i].Rows))
		}
		op, err := parseOp(desc[i].Op)
		if err != nil {
			return fail(fmt.Errorf("batch %d: %w", i, err))
		}
		if tomb {
			if err := checkTombstones(rec, op == OpDelete); err != nil {
				return fail(fmt.Errorf("batch %d: %w", i, err))
			}
		}
		out, err := c.narrow(rec, op)
		if err != nil {
			return fail(fmt.Errorf("batch %d: %w", i, err))
		}
		e.Batches = append(e.Batches, Batch{Rec: out, Seq: desc[i].Seq, Op: op})
		// An entry whose checksum holds but whose batches are not valid
		// Arrow (written by a server that did not validate, or by
		// another engine) is refused before anything reads its values.
		if err := ValidateBatch(out); err != nil {
			return fail(fmt.Errorf("batch %d (seq %d): %w", i, desc[i].Seq, err))
		}
	}
	if err := r.Err(); err != nil {
		return fail(err)
	}
	if !foreign && len(e.Batches) != len(desc) {
		return fail(fmt.Errorf("%d record batches, metadata describes %d", len(e.Batches), len(desc)))
	}
	return e, nil
}

// narrow turns a logged batch into what the owner applies: the table's
// columns, or the key column alone for deletes.
func (c codec) narrow(rec arrow.RecordBatch, op Op) (arrow.RecordBatch, error) {
	if op == OpDelete {
		if c.pkCol < 0 {
			return nil, errors.New("delete rows in a table without primary key")
		}
		return array.NewRecordBatch(KeySchema(c.schema, c.pkCol), []arrow.Array{rec.Column(c.pkCol)}, rec.NumRows()), nil
	}
	return array.NewRecordBatch(c.schema, rec.Columns()[:c.schema.NumFields()], rec.NumRows()), nil
}

// appendForeign splits a batch another writer logged into runs of
// upserts and deletes, in row order, and appends them to e.
func (c codec) appendForeign(e *Entry, rec arrow.RecordBatch, tomb bool) error {
	n := rec.NumRows()
	var ts *array.Boolean
	if tomb {
		col := rec.Column(int(rec.NumCols()) - 1)
		if err := validateColumn(col); err != nil {
			return fmt.Errorf("column %s: %w", TombstoneColumn, err)
		}
		ts = col.(*array.Boolean)
		if ts.NullN() > 0 {
			return fmt.Errorf("column %s has nulls", TombstoneColumn)
		}
	}
	isDel := func(i int64) bool { return ts != nil && ts.Value(int(i)) }
	for start := int64(0); start < n; {
		end := start + 1
		for end < n && isDel(end) == isDel(start) {
			end++
		}
		op := OpUpsert
		if isDel(start) {
			op = OpDelete
		}
		part := rec.NewSlice(start, end)
		out, err := c.narrow(part, op)
		part.Release()
		if err != nil {
			return err
		}
		e.Batches = append(e.Batches, Batch{Rec: out, Op: op})
		if err := ValidateBatch(out); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// checkTombstones checks that a flightwal batch's tombstone column says
// what its metadata says.
func checkTombstones(rec arrow.RecordBatch, del bool) error {
	col := rec.Column(int(rec.NumCols()) - 1)
	if err := validateColumn(col); err != nil {
		return fmt.Errorf("column %s: %w", TombstoneColumn, err)
	}
	ts := col.(*array.Boolean)
	for i := 0; i < ts.Len(); i++ {
		if ts.IsNull(i) || ts.Value(i) != del {
			return fmt.Errorf("column %s row %d disagrees with the batch's op", TombstoneColumn, i)
		}
	}
	return nil
}

// open checks an entry's footer and the bounds of its metadata, and reads
// its schema message: the reader stands before the first batch, and desc
// is the entry's batch list. An entry without flightwal's footer is
// foreign (another MemWAL writer's) and must not carry flightwal's
// metadata either: a flightwal entry without its footer is truncated. The
// caller releases the reader and recovers from arrow-go's panics on
// malformed IPC.
func (c codec) open(data []byte) (r *ipc.Reader, desc []batchInfo, foreign bool, err error) {
	body := data
	if n := len(data); n >= 8 && string(data[n-4:]) == magic {
		if body, err = checkFooter(data); err != nil {
			return nil, nil, false, err
		}
	} else {
		foreign = true
	}
	// The checksum holds (or there is none), but the entry may come from
	// another writer: bound what its metadata can make the IPC reader
	// allocate.
	if err := ipcguard.CheckStream(body, ipcguard.DefaultLimits); err != nil {
		return nil, nil, false, err
	}
	if r, err = ipc.NewReader(bytes.NewReader(body), ipc.WithAllocator(c.mem)); err != nil {
		return nil, nil, false, err
	}
	bj, ok := r.Schema().Metadata().GetValue(metaBatches)
	switch {
	case foreign && ok:
		r.Release()
		return nil, nil, false, errors.New("no WAL footer (truncated or not a WAL entry)")
	case foreign:
		if _, ok := r.Schema().Metadata().GetValue(metaEpoch); !ok {
			r.Release()
			return nil, nil, false, errors.New("no WAL footer and no writer_epoch (not a WAL entry)")
		}
		return r, nil, true, nil
	}
	if err := json.Unmarshal([]byte(bj), &desc); err != nil {
		r.Release()
		return nil, nil, false, fmt.Errorf("metadata %q: %w", metaBatches, err)
	}
	return r, desc, false, nil
}

// isFence reads whether an entry is a fence from its schema message (no
// columns, or no batches described) without decoding its batches.
func (c codec) isFence(data []byte) (fence bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			fence, err = false, fmt.Errorf("malformed IPC stream: %v", p)
		}
	}()
	r, desc, foreign, err := c.open(data)
	if err != nil {
		return false, err
	}
	defer r.Release()
	return r.Schema().NumFields() == 0 || (!foreign && len(desc) == 0), nil
}

// checkSchema checks that an entry's columns are the table's, optionally
// followed by the tombstone column (entries flightwal wrote before it
// logged tombstones have none); tomb says whether it is there.
func (c codec) checkSchema(s *arrow.Schema) (tomb bool, err error) {
	n := c.schema.NumFields()
	switch s.NumFields() {
	case n:
	case n + 1:
		f := s.Field(n)
		if f.Name != TombstoneColumn || f.Type.ID() != arrow.BOOL {
			return false, fmt.Errorf("entry column %d is %s %s, want %s bool", n, f.Name, f.Type, TombstoneColumn)
		}
		tomb = true
	default:
		return false, fmt.Errorf("entry has %d columns, table has %d", s.NumFields(), n)
	}
	for i, f := range s.Fields()[:n] {
		if want := c.schema.Field(i); f.Name != want.Name || !arrow.TypeEqual(f.Type, want.Type) {
			return false, fmt.Errorf("entry column %d is %s %s, the table's %s %s", i, f.Name, f.Type, want.Name, want.Type)
		}
	}
	return tomb, nil
}

// ValidateBatch checks everything about a batch's Arrow structure that a
// reader of its values relies on: every column as long as the batch, and
// arrow-go's full validation of each column (buffer sizes, offsets in
// bounds and non-decreasing, UTF-8 strings, bitmaps, null counts, child
// arrays, dictionary indices). Values that fail it would crash filters and
// indexers later, on goroutines no request owns: a batch passes it before
// it is logged (the owner checks clients' batches before sequencing them)
// and again when replay reads it.
func ValidateBatch(rec arrow.RecordBatch) error {
	n := rec.NumRows()
	for i, col := range rec.Columns() {
		name := rec.Schema().Field(i).Name
		if int64(col.Len()) != n {
			return fmt.Errorf("column %d (%s) has %d rows, the batch %d", i, name, col.Len(), n)
		}
		if err := validateColumn(col); err != nil {
			return fmt.Errorf("column %d (%s): %w", i, name, err)
		}
	}
	return nil
}

// validateColumn is array.ValidateFull, which can itself index past a
// buffer it is checking (it slices a string's value before it has seen
// every offset): a column odd enough to make it panic is invalid, not a
// crash.
func validateColumn(col arrow.Array) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed array: %v", p)
		}
	}()
	return array.ValidateFull(col)
}
