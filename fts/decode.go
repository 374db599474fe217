package fts

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/RoaringBitmap/roaring/v2"
)

// UnmarshalIndex decodes an index sidecar written by MarshalBinary.
func UnmarshalIndex(data []byte) (*Index, error) {
	ix := new(Index)
	if err := ix.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return ix, nil
}

// UnmarshalBinary decodes an index sidecar written by MarshalBinary into
// ix, which must be new (a zero Index, or one from NewIndex with nothing
// added) and not yet shared with readers. The configuration is the one
// stored in data. Corrupt data yields an error wrapping ErrCorrupt and
// leaves ix unchanged.
func (ix *Index) UnmarshalBinary(data []byte) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.docs.Load() != nil && ix.bound.Load() > 0 {
		return invalidf("UnmarshalBinary into a non-empty index")
	}
	dec, err := decodeSidecar(data)
	if err != nil {
		return err
	}
	ix.init(dec.cfg)
	ix.docs.Store(&docTable{slots: dec.slots})
	bytes := docSlotSize * int64(len(dec.slots))
	for _, t := range dec.terms {
		s := ix.dict.shard(t.text)
		s.m[t.text] = t
		d := t.data.Load()
		bytes += termOverhead + int64(len(t.text)) + postingSize*int64(len(d.post)) + 4*int64(len(d.pos))
	}
	ix.w.positions = dec.positions
	ix.bytes.Store(bytes)
	ix.bound.Store(dec.n)
	return nil
}

// decoded is a validated sidecar.
type decoded struct {
	cfg       TokenizerConfig
	n         uint32
	slots     []docSlot
	terms     []*term
	positions uint64
}

func decodeSidecar(data []byte) (dec decoded, err error) {
	defer func() {
		// Belt and braces: the checks below should make a panic
		// impossible, but a sidecar is input, and a bad one must never
		// crash the server.
		if r := recover(); r != nil {
			err = corruptf("decoder panic: %v", r)
		}
	}()
	const header = len(sidecarMagic) + 2 + 2
	if len(data) < header+4 {
		return dec, corruptf("%d bytes, too short", len(data))
	}
	if string(data[:len(sidecarMagic)]) != sidecarMagic {
		return dec, corruptf("bad magic")
	}
	if v := binary.LittleEndian.Uint16(data[len(sidecarMagic):]); v != sidecarVersion {
		return dec, corruptf("unsupported version %d (want %d)", v, sidecarVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return dec, corruptf("checksum mismatch")
	}
	flags, maxTok := body[header-2], int(body[header-1])
	if flags&^(flagStem|flagStopWords) != 0 {
		return dec, corruptf("unknown flags %#x", flags)
	}
	if maxTok == 0 {
		return dec, corruptf("MaxTokenLen 0")
	}
	dec.cfg = TokenizerConfig{Stem: flags&flagStem != 0, StopWords: flags&flagStopWords != 0, MaxTokenLen: maxTok}
	r := &reader{b: body, off: header}
	if err := dec.decodeDocs(r); err != nil {
		return dec, err
	}
	if err := dec.decodeTerms(r); err != nil {
		return dec, err
	}
	if r.off != len(r.b) {
		return dec, corruptf("%d trailing bytes", len(r.b)-r.off)
	}
	return dec, nil
}

// decodeDocs reads n and the document lengths into slots with prefix sums.
func (dec *decoded) decodeDocs(r *reader) error {
	n := r.count("document count", math.MaxUint32)
	if r.err != nil {
		return r.err
	}
	dec.n = uint32(n)
	dec.slots = make([]docSlot, n)
	var prev docSlot
	for i := range dec.slots {
		l := r.value("document length", maxPositions)
		nz, total := prev.after()
		prev = docSlot{len: uint32(l), nzBefore: nz, lenBefore: total}
		dec.slots[i] = prev
	}
	if r.err != nil {
		return r.err
	}
	if n > 0 {
		if _, total := prev.after(); total > maxPositions {
			return corruptf("%d token positions, more than %d", total, uint64(maxPositions))
		}
	}
	return nil
}

// decodeTerms reads the terms and checks that each document's term
// frequencies add up to its length.
func (dec *decoded) decodeTerms(r *reader) error {
	nterms := r.count("term count", math.MaxInt32)
	if r.err != nil {
		return r.err
	}
	dec.terms = make([]*term, 0, nterms)
	sums := make([]uint32, dec.n) // Σ tf per document so far
	prevText := ""
	for i := uint64(0); i < nterms; i++ {
		tlen := r.value("term length", maxTermBytes)
		text := string(r.bytes(int(tlen)))
		if r.err != nil {
			return r.err
		}
		if tlen == 0 || (i > 0 && text <= prevText) {
			return corruptf("term %d: empty or out of order", i)
		}
		prevText = text
		t, err := dec.decodeTerm(r, text, sums)
		if err != nil {
			return err
		}
		dec.terms = append(dec.terms, t)
	}
	for doc, s := range sums {
		if s != dec.slots[doc].len {
			return corruptf("document %d: length %d, term frequencies sum to %d", doc, dec.slots[doc].len, s)
		}
	}
	return nil
}

// decodeTerm reads one term's postings (after its text).
func (dec *decoded) decodeTerm(r *reader, text string, sums []uint32) (*term, error) {
	df := r.count("document frequency", uint64(dec.n))
	enc := r.byte()
	if r.err != nil {
		return nil, r.err
	}
	if df == 0 {
		return nil, corruptf("term %q: no documents", text)
	}
	post := make([]posting, df)
	if err := dec.decodeDocSet(r, text, enc, post); err != nil {
		return nil, err
	}
	total := uint64(0)
	for i := range post {
		tf := r.value("term frequency", maxPositions-1) + 1
		if r.err != nil {
			return nil, r.err
		}
		d := post[i].doc
		if uint64(sums[d])+tf > uint64(dec.slots[d].len) {
			return nil, corruptf("term %q: document %d: frequencies exceed its length %d", text, d, dec.slots[d].len)
		}
		sums[d] += uint32(tf)
		total += tf
		post[i].end = uint32(total)
	}
	// Each position takes at least one byte.
	if total > uint64(r.left()) || dec.positions+total > maxPositions {
		return nil, corruptf("term %q: %d positions, more than the data holds", text, total)
	}
	dec.positions += total
	pos := make([]uint32, total)
	for i := range post {
		start, end := span(post, i)
		prev := uint64(0)
		for j := start; j < end; j++ {
			x := r.value("position", math.MaxUint32)
			if j > start {
				x += prev + 1
			}
			if x > math.MaxUint32 {
				return nil, corruptf("term %q: position overflow", text)
			}
			pos[j], prev = uint32(x), x
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	t := newTerm(text)
	t.data.Store(&termData{post: post, pos: pos})
	t.n.Store(uint32(df))
	t.wNPos, t.wPos, t.wPost = uint32(total), pos, post
	return t, nil
}

// decodeDocSet reads the documents of post (len df), increasing, below n.
func (dec *decoded) decodeDocSet(r *reader, text string, enc byte, post []posting) error {
	switch enc {
	case encDelta:
		next := uint64(0)
		for i := range post {
			d := r.value("document", math.MaxUint32) + next
			if r.err != nil {
				return r.err
			}
			if d >= uint64(dec.n) {
				return corruptf("term %q: document %d out of range [0, %d)", text, d, dec.n)
			}
			post[i].doc, next = uint32(d), d+1
		}
		return nil
	case encRoaring:
		size := r.count("bitmap size", math.MaxInt32)
		raw := r.bytes(int(size))
		if r.err != nil {
			return r.err
		}
		bm := roaring.New()
		if err := bm.UnmarshalBinary(raw); err != nil {
			return corruptf("term %q: bitmap: %v", text, err)
		}
		if err := bm.Validate(); err != nil {
			return corruptf("term %q: bitmap: %v", text, err)
		}
		if bm.GetCardinality() != uint64(len(post)) || bm.Maximum() >= dec.n {
			return corruptf("term %q: bitmap of %d documents up to %d, want %d below %d",
				text, bm.GetCardinality(), bm.Maximum(), len(post), dec.n)
		}
		it := bm.Iterator()
		for i := range post {
			post[i].doc = it.Next()
		}
		return nil
	}
	return corruptf("term %q: unknown document encoding %d", text, enc)
}

// reader reads varints from a byte slice, recording the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = corruptf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad %s varint", what)
		return 0
	}
	r.off += n
	return x
}

// value reads a varint that must not exceed limit.
func (r *reader) value(what string, limit uint64) uint64 {
	x := r.uvarint(what)
	if x > limit {
		r.fail("%s %d exceeds %d", what, x, limit)
		return 0
	}
	return x
}

// count reads a number of items, each taking at least one byte of what
// follows, so it cannot exceed the bytes left (nor limit).
func (r *reader) count(what string, limit uint64) uint64 {
	x := r.value(what, limit)
	if x > uint64(r.left()) {
		r.fail("%s %d exceeds the %d bytes left", what, x, r.left())
		return 0
	}
	return x
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.fail("%d bytes wanted, %d left", n, r.left())
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off]
}
