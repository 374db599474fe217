package fts

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// The index sidecar of a flushed layer: MarshalBinary writes it,
// UnmarshalBinary reads it back into an Index equal to the original (same
// documents, terms, frequencies and positions, same configuration).
//
// Format, version 1 (integers are unsigned LEB128 varints unless noted):
//
//	magic     "FWFTSIDX"
//	version   uint16 little-endian (1)
//	flags     byte: bit 0 Stem, bit 1 StopWords
//	maxTok    byte: MaxTokenLen
//	n         the bound: positions 0..n-1
//	lens      n document lengths
//	nterms    number of terms, then each term, in increasing byte order:
//	  len, text   the term (1..maxTermBytes bytes)
//	  df          number of postings (1..n)
//	  enc         byte: 0 = delta docs, 1 = roaring docs
//	  docs        enc 0: df varints, the first doc then each gap minus 1;
//	              enc 1: size, then a portable roaring bitmap of df docs
//	  tfs         df varints, term frequency minus 1
//	  positions   per posting, tf varints: the first position, then each
//	              gap minus 1
//	crc       uint32 little-endian: CRC-32C of everything before it
//
// Roaring bitmaps hold the document sets of frequent terms (df at least
// roaringMinDF and at least n/roaringMinDensity) when smaller than the
// deltas, as they are for dense sets: a bitmap container spends 1 bit per
// position where a delta needs at least 8.
//
// Decoding checks every size against the bytes left before allocating,
// every value against its range, and the cross-constraints (documents
// increasing and below n, positions increasing, each document's term
// frequencies summing to its length), so corrupt input yields an error
// wrapping ErrCorrupt, never a panic or an outsized allocation.

const (
	sidecarMagic      = "FWFTSIDX"
	sidecarVersion    = 1
	maxTermBytes      = 4 * MaxTokenLenLimit
	roaringMinDF      = 64
	roaringMinDensity = 8
	encDelta          = 0
	encRoaring        = 1
	flagStem          = 1 << 0
	flagStopWords     = 1 << 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the documents of ix below Len() (see the format
// above). It is safe concurrently with Add; documents added meanwhile are
// not included.
func (ix *Index) MarshalBinary() ([]byte, error) {
	s := ix.snapshot(ix.Len())
	b := []byte(sidecarMagic)
	b = binary.LittleEndian.AppendUint16(b, sidecarVersion)
	var flags byte
	if ix.cfg.Stem {
		flags |= flagStem
	}
	if ix.cfg.StopWords {
		flags |= flagStopWords
	}
	b = append(b, flags, byte(ix.cfg.MaxTokenLen))
	b = binary.AppendUvarint(b, uint64(s.bound))
	for _, d := range s.docs.slots[:s.bound] {
		b = binary.AppendUvarint(b, uint64(d.len))
	}
	type termView struct {
		text string
		post []posting
		pos  []uint32
	}
	var terms []termView
	for _, t := range ix.dict.terms() {
		if post, pos := t.view(s.bound); len(post) > 0 {
			terms = append(terms, termView{t.text, post, pos})
		}
	}
	slices.SortFunc(terms, func(a, b termView) int { return strings.Compare(a.text, b.text) })
	b = binary.AppendUvarint(b, uint64(len(terms)))
	for _, t := range terms {
		b = binary.AppendUvarint(b, uint64(len(t.text)))
		b = append(b, t.text...)
		b = binary.AppendUvarint(b, uint64(len(t.post)))
		var err error
		if b, err = appendDocs(b, t.post, s.bound); err != nil {
			return nil, err
		}
		for i := range t.post {
			start, end := span(t.post, i)
			b = binary.AppendUvarint(b, uint64(end-start-1))
		}
		for i := range t.post {
			start, end := span(t.post, i)
			for j, x := range t.pos[start:end] {
				if j == 0 {
					b = binary.AppendUvarint(b, uint64(x))
				} else {
					b = binary.AppendUvarint(b, uint64(x-t.pos[start+uint32(j)-1]-1))
				}
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// appendDocs appends the encoding byte and the document set of post.
func appendDocs(b []byte, post []posting, n uint32) ([]byte, error) {
	deltaSize := 0
	prev := uint32(0)
	for i, p := range post {
		gap := p.doc
		if i > 0 {
			gap = p.doc - prev - 1
		}
		deltaSize += uvarintLen(uint64(gap))
		prev = p.doc
	}
	if len(post) >= roaringMinDF && uint64(len(post))*roaringMinDensity >= uint64(n) {
		bm := roaring.New()
		for _, p := range post {
			bm.Add(p.doc)
		}
		bm.RunOptimize()
		if size := bm.GetSerializedSizeInBytes(); size < uint64(deltaSize) {
			raw, err := bm.ToBytes()
			if err != nil {
				return nil, err
			}
			b = append(b, encRoaring)
			b = binary.AppendUvarint(b, uint64(len(raw)))
			return append(b, raw...), nil
		}
	}
	b = append(b, encDelta)
	for i, p := range post {
		if i == 0 {
			b = binary.AppendUvarint(b, uint64(p.doc))
		} else {
			b = binary.AppendUvarint(b, uint64(p.doc-post[i-1].doc-1))
		}
	}
	return b, nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
