package lance

import (
	"bytes"
	"encoding/binary"

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

// unpackFastLanes unpacks one 1024-value FastLanes block of b-bit values
// stored in words of t bits (8, 16, 32 or 64), little-endian, into out
// (1024 values, as uint64). packed holds exactly 1024*b/t words.
func unpackFastLanes(t, b int, packed []byte, out []uint64) {
	lanes := 1024 / t
	wb := t / 8
	word := func(i int) uint64 {
		p := packed[i*wb:]
		switch wb {
		case 1:
			return uint64(p[0])
		case 2:
			return uint64(binary.LittleEndian.Uint16(p))
		case 4:
			return uint64(binary.LittleEndian.Uint32(p))
		}
		return binary.LittleEndian.Uint64(p)
	}
	if b == 0 {
		clear(out[:1024])
		return
	}
	mask := uint64(1)<<uint(b) - 1
	if b == 64 {
		mask = ^uint64(0)
	}
	for lane := 0; lane < lanes; lane++ {
		for row := 0; row < t; row++ {
			bit := row * b
			w, shift := bit/t, bit%t
			v := word(lanes*w+lane) >> uint(shift)
			if shift+b > t {
				v |= word(lanes*(w+1)+lane) << uint(t-shift)
			}
			if t < 64 {
				v &= uint64(1)<<uint(t) - 1
			}
			out[flOrder[row/8]*16+(row%8)*128+lane] = v & mask
		}
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
	out := make([]byte, n*wb)
	var vals [1024]uint64
	for done := 0; done < n; done += 1024 {
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
		unpackFastLanes(w, b, in[:words*wb], vals[:])
		in = in[words*wb:]
		for i := 0; i < 1024 && done+i < n; i++ {
			putUint(out[(done+i)*wb:], wb, vals[i])
		}
	}
	return out, nil
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
	out := make([]byte, n*wb)
	var vals [1024]uint64
	for i := 0; i < whole; i++ {
		unpackFastLanes(w, b, in[i*wordsPerBlock*wb:(i+1)*wordsPerBlock*wb], vals[:])
		for j := range 1024 {
			putUint(out[(i*1024+j)*wb:], wb, vals[j])
		}
	}
	if tail > 0 {
		start := whole * wordsPerBlock * wb
		if rawTail {
			copy(out[whole*1024*wb:], in[start:start+tail*wb])
		} else {
			unpackFastLanes(w, b, in[start:start+wordsPerBlock*wb], vals[:])
			for j := range tail {
				putUint(out[(whole*1024+j)*wb:], wb, vals[j])
			}
		}
	}
	return out, nil
}

// fsstTable is a decoded FSST symbol table (Lance's fsst crate): a u64
// header ("FSST" magic in the high 32 bits, bit 24 = compression on, low
// byte = symbol count), the symbols as u64 each, then their lengths.
type fsstTable struct {
	on      bool
	symbols [256][8]byte
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
		t.lens[i] = st[8+8*n+i]
		if t.lens[i] > 8 {
			return nil, corruptf(key, "FSST symbol %d of length %d", i, t.lens[i])
		}
	}
	return t, nil
}

// decode appends the decompression of in to out. Code 255 escapes the
// next byte; any other code is a symbol.
func (t *fsstTable) decode(key string, out, in []byte) ([]byte, error) {
	if !t.on {
		return append(out, in...), nil
	}
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == 255 {
			i++
			if i == len(in) {
				return nil, corruptf(key, "FSST escape at the end of a string")
			}
			out = append(out, in[i])
			continue
		}
		out = append(out, t.symbols[c][:t.lens[c]]...)
	}
	return out, nil
}
