package vector

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"
	"math"
)

// Serialized forms (model, index sidecar) share one frame:
//
//	magic [8]byte | version uint32 | body ... | crc32c uint32
//
// little-endian throughout; the CRC-32C covers every byte before it. A
// reader checks the frame first (length, magic, version, checksum), then
// every size in the body against the bytes actually present before it
// allocates, so corrupt input costs at most its own size and never panics.
const frameOverhead = 8 + 4 + 4

func appendFrameHeader(b []byte, magic string, version uint32) []byte {
	b = append(b, magic...)
	return binary.LittleEndian.AppendUint32(b, version)
}

func appendFrameTrailer(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// openFrame checks the frame of data and returns a reader over its body.
func openFrame(data []byte, magic string, version uint32, what string) (*reader, error) {
	if len(data) < frameOverhead {
		return nil, corruptf(what, "%d bytes is too short", len(data))
	}
	if !bytes.Equal(data[:8], []byte(magic)) {
		return nil, corruptf(what, "bad magic %q", data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != version {
		return nil, corruptf(what, "unsupported version %d (want %d)", v, version)
	}
	end := len(data) - 4
	want := binary.LittleEndian.Uint32(data[end:])
	if got := crc32.Checksum(data[:end], crc32.MakeTable(crc32.Castagnoli)); got != want {
		return nil, corruptf(what, "checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	return &reader{b: data[12:end], what: what}, nil
}

func fingerprint(b []byte) uint64 { return crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)) }

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func appendF32s(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// reader decodes a frame body. The first failure sticks in err; later
// calls return zero values, so decoders check err once per section.
type reader struct {
	b    []byte
	off  int
	what string
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = corruptf(r.what, format, args...)
	}
}

// remaining returns the number of unread bytes.
func (r *reader) remaining() int { return len(r.b) - r.off }

// need reports whether n more bytes are present, failing otherwise.
func (r *reader) need(n uint64, what string) bool {
	if r.err != nil {
		return false
	}
	if n > uint64(r.remaining()) {
		r.fail("%s needs %d bytes, %d left", what, n, r.remaining())
		return false
	}
	return true
}

func (r *reader) u32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64(what string) uint64 {
	if !r.need(8, what) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// bytes returns the next n bytes (aliasing the input).
func (r *reader) bytes(n uint64, what string) []byte {
	if !r.need(n, what) {
		return nil
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v
}

// f32s decodes n float32s, all of which must be finite.
func (r *reader) f32s(n uint64, what string) []float32 {
	if !r.need(4*n, what) {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.off:]))
		r.off += 4
	}
	if i, bad := firstNonFinite(out); i >= 0 {
		r.fail("%s value %d is %s", what, i, bad)
		return nil
	}
	return out
}

// done fails unless the body was consumed exactly.
func (r *reader) done() error {
	if r.err == nil && r.remaining() != 0 {
		r.fail("%d trailing bytes", r.remaining())
	}
	return r.err
}

func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func getU32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
