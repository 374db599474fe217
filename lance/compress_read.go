package lance

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
)

// The byte-level codecs of the 2.1/2.2 encodings: FastLanes bit unpacking,
// FSST string decompression and general (LZ4, zstd) buffer decompression.
// Each checks its input against its output size first: a corrupt buffer is
// an error, never a panic or an allocation larger than a bound derived
// from the input.

// maxDecompressed bounds what a general-compressed buffer may claim to
// expand to: LZ4's ratio is below 256; zstd's is bounded here the same way
// and by an absolute cap.
func maxDecompressed(in int) int { return min(255*in+64, 1<<30) }

// decompressGeneral undoes a BufferCompression of Lance's block module:
// LZ4 is [u32 uncompressed size][raw LZ4 block]; zstd is [u64 uncompressed
// size][zstd frame], or a bare zstd frame.
func decompressGeneral(key string, c *e21.BufferCompression, in []byte) ([]byte, error) {
	switch c.GetScheme() {
	case e21.CompressionScheme_COMPRESSION_ALGORITHM_LZ4:
		if len(in) < 4 {
			return nil, corruptf(key, "LZ4 buffer of %d bytes", len(in))
		}
		n := int(binary.LittleEndian.Uint32(in))
		if n > maxDecompressed(len(in)) {
			return nil, corruptf(key, "LZ4 buffer of %d bytes claims %d", len(in), n)
		}
		out := make([]byte, n)
		got, err := lz4.UncompressBlock(in[4:], out)
		if err != nil || got != n {
			return nil, corruptf(key, "LZ4 block: %d of %d bytes: %v", got, n, err)
		}
		return out, nil
	case e21.CompressionScheme_COMPRESSION_ALGORITHM_ZSTD:
		frame := in
		limit := maxDecompressed(len(in))
		if len(in) >= 8 && binary.LittleEndian.Uint32(in) != 0xFD2FB528 {
			n := binary.LittleEndian.Uint64(in)
			if n > uint64(limit) {
				return nil, corruptf(key, "zstd buffer of %d bytes claims %d", len(in), n)
			}
			frame, limit = in[8:], int(n)
		}
		dec, err := zstd.NewReader(bytes.NewReader(frame), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)+1))
		if err != nil {
			return nil, corruptf(key, "zstd: %v", err)
		}
		defer dec.Close()
		var out bytes.Buffer
		if _, err := out.ReadFrom(dec); err != nil {
			return nil, corruptf(key, "zstd: %v", err)
		}
		if out.Len() > limit {
			return nil, corruptf(key, "zstd buffer expands past %d bytes", limit)
		}
		return out.Bytes(), nil
	}
	return nil, unsupportedf("%s: general compression %v", key, c.GetScheme())
}

// flOrder is FastLanes' row order within a 1024-value block.
var flOrder = [8]int{0, 4, 2, 6, 1, 5, 3, 7}

// word is a FastLanes word type.
type word interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

// asWords views b (whole words, little-endian machine) as a []T.
func asWords[T word](b []byte) []T {
	var z T
	sz := int(unsafe.Sizeof(z))
	if len(b) < sz {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/sz)
}

// unpackFL unpacks one 1024-value FastLanes block of b-bit values stored
// in words of T (packed holds exactly 1024*b/bits(T) words) into out
// (1024 values).
func unpackFL[T word](b int, packed []T, out []T) {
	var z T
	t := int(unsafe.Sizeof(z)) * 8
	lanes := 1024 / t
	out = out[:1024]
	if b == 0 {
		clear(out)
		return
	}
	_ = packed[lanes*b-1]
	if b == t {
		for lane := range lanes {
			for row := range t {
				out[flOrder[row/8]*16+(row%8)*128+lane] = packed[lanes*row+lane]
			}
		}
		return
	}
	mask := T(1)<<uint(b) - 1
	for lane := range lanes {
		for row := range t {
			bit := row * b
			w, shift := bit/t, bit%t
			v := packed[lanes*w+lane] >> uint(shift)
			if shift+b > t {
				v |= packed[lanes*(w+1)+lane] << uint(t-shift)
			}
			out[flOrder[row/8]*16+(row%8)*128+lane] = v & mask
		}
	}
}

// unpackFastLanes unpacks one block of b-bit values in words of t bits
// (8, 16, 32 or 64) from packed into out (1024*t/8 bytes).
func unpackFastLanes(t, b int, packed, out []byte) {
	switch t {
	case 8:
		unpackFL(b, asWords[uint8](packed), asWords[uint8](out))
	case 16:
		unpackFL(b, asWords[uint16](packed), asWords[uint16](out))
	case 32:
		unpackFL(b, asWords[uint32](packed), asWords[uint32](out))
	default:
		unpackFL(b, asWords[uint64](packed), asWords[uint64](out))
	}
}

// putUint writes v as a w-byte little-endian integer.
func putUint(dst []byte, w int, v uint64) {
	switch w {
	case 1:
		dst[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(dst, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(dst, uint32(v))
	default:
		binary.LittleEndian.PutUint64(dst, v)
	}
}

// getUint reads a w-byte little-endian integer.
func getUint(src []byte, w int) uint64 {
	switch w {
	case 1:
		return uint64(src[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(src))
	case 4:
		return uint64(binary.LittleEndian.Uint32(src))
	}
	return binary.LittleEndian.Uint64(src)
}

// inlineUnpack decodes n values of an inline_bitpacking{W} buffer: per
// 1024-value block, one W-bit word holding the packed width b, then
// 1024*b/W words. The result is n W-bit little-endian values.
func inlineUnpack(key string, w, n int, in []byte) ([]byte, error) {
	if w != 8 && w != 16 && w != 32 && w != 64 {
		return nil, corruptf(key, "inline bitpacking of %d-bit values", w)
	}
	wb := w / 8
	blocks := (n + 1023) / 1024
	out := make([]byte, blocks*1024*wb)
	for i := range blocks {
		if len(in) < wb {
			return nil, corruptf(key, "bitpacked block past the buffer")
		}
		b := int(getUint(in, wb))
		in = in[wb:]
		if b > w {
			return nil, corruptf(key, "bitpacked width %d of %d-bit values", b, w)
		}
		words := 1024 * b / w
		if len(in) < words*wb {
			return nil, corruptf(key, "bitpacked block of width %d: %d bytes left", b, len(in))
		}
		unpackFastLanes(w, b, in[:words*wb], out[i*1024*wb:(i+1)*1024*wb])
		in = in[words*wb:]
	}
	return out[:n*wb], nil
}

// outOfLineUnpack decodes n values of an out_of_line_bitpacking{W,
// flat{b}} buffer: whole 1024-value FastLanes blocks, then the tail either
// as one more padded block or as raw W-bit values.
func outOfLineUnpack(key string, w, b, n int, in []byte) ([]byte, error) {
	if w != 8 && w != 16 && w != 32 && w != 64 {
		return nil, corruptf(key, "out-of-line bitpacking of %d-bit values", w)
	}
	if b < 0 || b > w {
		return nil, corruptf(key, "bitpacked width %d of %d-bit values", b, w)
	}
	wb := w / 8
	wordsPerBlock := (1024*b + w - 1) / w
	whole, tail := n/1024, n%1024
	if len(in)%wb != 0 {
		return nil, corruptf(key, "bitpacked buffer of %d bytes", len(in))
	}
	have := len(in) / wb
	rawTail := tail > 0 && have == whole*wordsPerBlock+tail
	need := whole * wordsPerBlock
	if tail > 0 {
		if rawTail {
			need += tail
		} else {
			need += wordsPerBlock
		}
	}
	if have < need {
		return nil, corruptf(key, "bitpacked buffer of %d words for %d values of %d bits", have, n, b)
	}
	out := make([]byte, (whole+1)*1024*wb)
	for i := range whole {
		unpackFastLanes(w, b, in[i*wordsPerBlock*wb:(i+1)*wordsPerBlock*wb], out[i*1024*wb:(i+1)*1024*wb])
	}
	if tail > 0 {
		start := whole * wordsPerBlock * wb
		if rawTail {
			copy(out[whole*1024*wb:], in[start:start+tail*wb])
		} else {
			unpackFastLanes(w, b, in[start:start+wordsPerBlock*wb], out[whole*1024*wb:])
		}
	}
	return out[:n*wb], nil
}

// fsstTable is a decoded FSST symbol table (Lance's fsst crate): a u64
// header ("FSST" magic in the high 32 bits, bit 24 = compression on, low
// byte = symbol count), the symbols as u64 each, then their lengths.
type fsstTable struct {
	on      bool
	symbols [256][8]byte
	words   [256]uint64 // symbols as little-endian words
	lens    [256]uint8
}

func parseFSST(key string, st []byte) (*fsstTable, error) {
	if len(st) < 8 {
		return nil, corruptf(key, "FSST symbol table of %d bytes", len(st))
	}
	info := binary.LittleEndian.Uint64(st)
	if info>>32 != 0x46535354 {
		return nil, corruptf(key, "FSST symbol table without magic (%#x)", info)
	}
	t := &fsstTable{on: info&(1<<24) != 0}
	n := int(info & 255)
	if len(st) < 8+9*n {
		return nil, corruptf(key, "FSST symbol table of %d bytes for %d symbols", len(st), n)
	}
	for i := range n {
		copy(t.symbols[i][:], st[8+8*i:])
		t.words[i] = binary.LittleEndian.Uint64(t.symbols[i][:])
		t.lens[i] = st[8+8*n+i]
		if t.lens[i] > 8 {
			return nil, corruptf(key, "FSST symbol %d of length %d", i, t.lens[i])
		}
	}
	return t, nil
}

// decodeInto decompresses in into buf at pos and returns the new end;
// buf has room for 8 bytes a code plus 8 past pos.
func (t *fsstTable) decodeInto(key string, buf []byte, pos int, in []byte) (int, error) {
	if pos+8*len(in)+8 > len(buf) {
		return 0, corruptf(key, "FSST output past its buffer")
	}
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == 255 {
			i++
			if i == len(in) {
				return 0, corruptf(key, "FSST escape at the end of a string")
			}
			buf[pos] = in[i]
			pos++
			continue
		}
		binary.LittleEndian.PutUint64(buf[pos:], t.words[c])
		pos += int(t.lens[c])
	}
	return pos, nil
}
