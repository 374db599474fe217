// Package ipcguard checks Arrow IPC messages from untrusted sources before
// arrow-go's IPC reader parses them.
//
// arrow-go trusts the counts in a message's flatbuffer metadata: it
// allocates a slice as long as a schema's field count, a field's child
// count, a metadata map's entry count or a union's type-id count, and a
// buffer as large as a compressed buffer's stated uncompressed size, all
// before anything checks them against the bytes that were sent. A message
// of a few bytes can so ask for gigabytes, and the Go runtime ends the
// process when it cannot get them (no recover stops that). Out-of-range
// reads, by contrast, are ordinary panics that callers recover from.
//
// Check walks the metadata and refuses a message whose vectors run past
// the metadata bytes, whose schema has more than MaxFields fields or
// nesting deeper than MaxDepth, whose buffers run past the body, or whose
// compressed buffers would decompress to more than Limits.MaxDecompressed
// bytes in total. What it accepts may still be an invalid batch (offsets
// out of bounds, say): array validation after decoding catches that.
//
// The layout checked is Arrow's Message.fbs and Schema.fbs: a Message table
// (version, header_type, header, bodyLength, custom_metadata) whose header
// is a Schema (endianness, fields, custom_metadata, features), a
// RecordBatch (length, nodes: [FieldNode 16 bytes], buffers: [Buffer 16
// bytes], compression, variadicBufferCounts) or a DictionaryBatch (id,
// data: RecordBatch, isDelta); a Field is (name, nullable, type_type, type,
// dictionary, children, custom_metadata).
package ipcguard

import (
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// Limits bounds what one message may ask for.
type Limits struct {
	MaxFields       int   // fields in a schema, nested ones included
	MaxDepth        int   // nesting of fields
	MaxMetadata     int   // entries of one custom-metadata map
	MaxDecompressed int64 // bytes all compressed buffers of a batch expand to
}

// DefaultLimits are generous for any real table and keep a hostile
// message's allocations to a few hundred megabytes at most.
var DefaultLimits = Limits{MaxFields: 100_000, MaxDepth: 64, MaxMetadata: 100_000, MaxDecompressed: 1 << 30}

// ErrRefused wraps every refusal.
var ErrRefused = errors.New("malformed Arrow IPC message")

const (
	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3
	typeUnion             = 14
)

// Check checks one message: its flatbuffer metadata and its body.
func Check(meta, body []byte, lim Limits) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: metadata out of bounds: %v", ErrRefused, p)
		}
	}()
	c := checker{b: meta, lim: lim}
	msg, err := c.root()
	if err != nil {
		return err
	}
	if err := c.metadata(msg, 12); err != nil {
		return err
	}
	kind := msg.GetByteSlot(6, 0)
	hdr, ok, err := c.table(msg, 8)
	if err != nil || !ok {
		return err
	}
	switch kind {
	case headerSchema:
		return c.schema(hdr)
	case headerRecordBatch:
		return c.recordBatch(hdr, body)
	case headerDictionaryBatch:
		data, ok, err := c.table(hdr, 6)
		if err != nil || !ok {
			return err
		}
		return c.recordBatch(data, body)
	}
	return nil // tensors: arrow-go's stream reader refuses them itself
}

// CheckStream checks every message of an encapsulated IPC stream, so a
// stream read from storage gets the same checks as a message received
// over Flight.
func CheckStream(data []byte, lim Limits) error {
	frames, err := Split(data)
	if err != nil {
		return err
	}
	for _, f := range frames {
		if err := Check(f.Meta, f.Body, lim); err != nil {
			return err
		}
	}
	return nil
}

// Frame is one message of an encapsulated IPC stream.
type Frame struct{ Meta, Body []byte }

// Split cuts an encapsulated IPC stream (per message: the 0xFFFFFFFF
// continuation, a little-endian int32 metadata length, the metadata, the
// body of the length the metadata states) into its messages, up to the
// end-of-stream marker. The frames share data's storage.
func Split(data []byte) ([]Frame, error) {
	var out []Frame
	for off := 0; off < len(data); {
		if len(data)-off < 8 {
			return nil, fmt.Errorf("%w: truncated message prefix at byte %d", ErrRefused, off)
		}
		if binary.LittleEndian.Uint32(data[off:]) != 0xFFFFFFFF {
			return nil, fmt.Errorf("%w: no continuation marker at byte %d", ErrRefused, off)
		}
		n := int(int32(binary.LittleEndian.Uint32(data[off+4:])))
		off += 8
		if n == 0 {
			break // end of stream
		}
		if n < 0 || n > len(data)-off {
			return nil, fmt.Errorf("%w: metadata length %d at byte %d runs past the stream", ErrRefused, n, off)
		}
		meta := data[off : off+n]
		off += n
		bodyLen, err := bodyLength(meta)
		if err != nil {
			return nil, err
		}
		if bodyLen < 0 || bodyLen > int64(len(data)-off) {
			return nil, fmt.Errorf("%w: body length %d at byte %d runs past the stream", ErrRefused, bodyLen, off)
		}
		out = append(out, Frame{Meta: meta, Body: data[off : off+int(bodyLen)]})
		off += int(bodyLen)
	}
	return out, nil
}

func bodyLength(meta []byte) (n int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: metadata out of bounds: %v", ErrRefused, p)
		}
	}()
	c := checker{b: meta}
	msg, err := c.root()
	if err != nil {
		return 0, err
	}
	return msg.GetInt64Slot(10, 0), nil
}

type checker struct {
	b    []byte
	lim  Limits
	seen int // fields so far
}

func (c *checker) root() (flatbuffers.Table, error) {
	if len(c.b) < 8 {
		return flatbuffers.Table{}, fmt.Errorf("%w: %d bytes of metadata", ErrRefused, len(c.b))
	}
	return c.at(flatbuffers.GetUOffsetT(c.b))
}

// at is the table at pos, after checking that it and its vtable lie
// within the metadata.
func (c *checker) at(pos flatbuffers.UOffsetT) (flatbuffers.Table, error) {
	n := uint64(len(c.b))
	if uint64(pos)+4 > n {
		return flatbuffers.Table{}, fmt.Errorf("%w: table at %d past %d bytes", ErrRefused, pos, n)
	}
	vt := int64(pos) - int64(flatbuffers.GetSOffsetT(c.b[pos:]))
	if vt < 0 || uint64(vt)+4 > n {
		return flatbuffers.Table{}, fmt.Errorf("%w: vtable at %d out of bounds", ErrRefused, vt)
	}
	vsize := uint64(flatbuffers.GetVOffsetT(c.b[vt:]))
	osize := uint64(flatbuffers.GetVOffsetT(c.b[vt+2:]))
	if uint64(vt)+vsize > n || uint64(pos)+osize > n {
		return flatbuffers.Table{}, fmt.Errorf("%w: table at %d runs past the metadata", ErrRefused, pos)
	}
	return flatbuffers.Table{Bytes: c.b, Pos: pos}, nil
}

// table follows the table-valued field at slot of t.
func (c *checker) table(t flatbuffers.Table, slot flatbuffers.VOffsetT) (flatbuffers.Table, bool, error) {
	o := t.Offset(slot)
	if o == 0 {
		return flatbuffers.Table{}, false, nil
	}
	tab, err := c.at(t.Indirect(flatbuffers.UOffsetT(o) + t.Pos))
	return tab, err == nil, err
}

// vector is the start and length of the vector at slot of t, whose
// elements are elem bytes each, checked to lie within the metadata.
func (c *checker) vector(t flatbuffers.Table, slot flatbuffers.VOffsetT, elem int) (start flatbuffers.UOffsetT, n int, err error) {
	o := t.Offset(slot)
	if o == 0 {
		return 0, 0, nil
	}
	start = t.Vector(flatbuffers.UOffsetT(o))
	n = t.VectorLen(flatbuffers.UOffsetT(o))
	if n < 0 || uint64(start)+uint64(n)*uint64(elem) > uint64(len(c.b)) {
		return 0, 0, fmt.Errorf("%w: a vector of %d elements runs past %d bytes of metadata", ErrRefused, n, len(c.b))
	}
	return start, n, nil
}

// tables checks a vector of tables and returns them.
func (c *checker) tables(t flatbuffers.Table, slot flatbuffers.VOffsetT, max int, what string) ([]flatbuffers.Table, error) {
	start, n, err := c.vector(t, slot, 4)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%w: %d %s, at most %d", ErrRefused, n, what, max)
	}
	out := make([]flatbuffers.Table, n)
	for i := range out {
		p := start + flatbuffers.UOffsetT(4*i)
		if out[i], err = c.at(p + flatbuffers.GetUOffsetT(c.b[p:])); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *checker) metadata(t flatbuffers.Table, slot flatbuffers.VOffsetT) error {
	_, err := c.tables(t, slot, c.lim.MaxMetadata, "custom metadata entries")
	return err
}

func (c *checker) schema(s flatbuffers.Table) error {
	if err := c.metadata(s, 8); err != nil {
		return err
	}
	if _, _, err := c.vector(s, 10, 8); err != nil { // features
		return err
	}
	return c.fields(s, 6, 1)
}

func (c *checker) fields(t flatbuffers.Table, slot flatbuffers.VOffsetT, depth int) error {
	if depth > c.lim.MaxDepth {
		return fmt.Errorf("%w: fields nested deeper than %d", ErrRefused, c.lim.MaxDepth)
	}
	fields, err := c.tables(t, slot, c.lim.MaxFields-c.seen, "more fields")
	if err != nil {
		return err
	}
	c.seen += len(fields)
	for _, f := range fields {
		if err := c.metadata(f, 16); err != nil {
			return err
		}
		if f.GetByteSlot(8, 0) == typeUnion {
			u, ok, err := c.table(f, 10)
			if err != nil {
				return err
			}
			if ok {
				_, n, err := c.vector(u, 6, 4)
				if err != nil {
					return err
				}
				if n > 128 {
					return fmt.Errorf("%w: union with %d type ids", ErrRefused, n)
				}
			}
		}
		if err := c.fields(f, 14, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) recordBatch(rb flatbuffers.Table, body []byte) error {
	if rows := rb.GetInt64Slot(4, 0); rows < 0 || rows > 1<<31-1 {
		return fmt.Errorf("%w: batch length %d", ErrRefused, rows)
	}
	if _, _, err := c.vector(rb, 6, 16); err != nil { // nodes
		return err
	}
	if _, _, err := c.vector(rb, 12, 8); err != nil { // variadic buffer counts
		return err
	}
	start, n, err := c.vector(rb, 8, 16) // buffers: (offset, length) int64 pairs
	if err != nil {
		return err
	}
	_, compressed, err := c.table(rb, 10)
	if err != nil {
		return err
	}
	var expanded int64
	for i := range n {
		p := start + flatbuffers.UOffsetT(16*i)
		off := int64(binary.LittleEndian.Uint64(c.b[p:]))
		length := int64(binary.LittleEndian.Uint64(c.b[p+8:]))
		if off < 0 || length < 0 || off > int64(len(body)) || length > int64(len(body))-off {
			return fmt.Errorf("%w: buffer %d (%d bytes at %d) runs past the %d-byte body", ErrRefused, i, length, off, len(body))
		}
		if !compressed || length < 8 {
			continue
		}
		size := int64(binary.LittleEndian.Uint64(body[off:]))
		if size == -1 {
			continue // stored uncompressed
		}
		if size < 0 || size > c.lim.MaxDecompressed-expanded {
			return fmt.Errorf("%w: compressed buffers expand past %d bytes", ErrRefused, c.lim.MaxDecompressed)
		}
		expanded += size
	}
	return nil
}
