package fts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// codecIndex builds an index with gaps, empty documents, a tiny
// vocabulary (dense terms, stored as roaring bitmaps) and a corpus tail.
func codecIndex(t testing.TB, n int) (*Index, []string) {
	t.Helper()
	docs := GenerateCorpus(n, 30, 61)
	for i := range docs {
		switch i % 10 {
		case 3:
			docs[i] = ""
		case 5:
			docs[i] = "alpha beta alpha gamma"
		case 7:
			docs[i] = "the and of"
		}
	}
	ix := NewIndex(DefaultTokenizerConfig())
	for i, d := range docs {
		if i%13 == 12 {
			continue // a gap: Add never called
		}
		if err := ix.Add(uint32(i), d); err != nil {
			t.Fatal(err)
		}
	}
	for i := range docs {
		if i%13 == 12 {
			docs[i] = ""
		}
	}
	return ix, docs
}

func TestSidecarRoundTrip(t *testing.T) {
	ix, docs := codecIndex(t, 3000)
	b, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ix2, err := UnmarshalIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	if ix2.Len() != ix.Len() || ix2.Config() != ix.Config() || ix2.NumTerms() != ix.NumTerms() {
		t.Fatalf("decoded Len %d cfg %+v terms %d, want %d %+v %d",
			ix2.Len(), ix2.Config(), ix2.NumTerms(), ix.Len(), ix.Config(), ix.NumTerms())
	}
	b2, err := ix2.MarshalBinary()
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	// Same answers; and the decoded index keeps growing correctly.
	cfg := ix.Config()
	more := GenerateCorpus(200, 30, 62)
	for i, d := range more {
		if err := ix2.Add(ix2.Len()+uint32(i%2), d); err != nil {
			t.Fatal(err)
		}
	}
	all := append(docs[:len(docs):len(docs)], interleave(more)...)
	m := newQueryMaker(all, 63)
	for _, tq := range append(m.queries(12), testQuery{"alpha", Or}, testQuery{`"alpha beta"`, Or}) {
		q, ok := tq.parse(t, cfg)
		if !ok {
			continue
		}
		for _, c := range []struct {
			ix   *Index
			docs []string
		}{{ix, docs}, {ix2, all}} {
			st := c.ix.TermStats(q.Terms(), c.ix.Len(), nil)
			checkResults(t, tq.String(), c.ix.Search(q, st, 10, c.ix.Len(), nil), BruteForce(c.docs, nil, q, cfg, 10))
		}
	}
}

// interleave returns docs as added above: each odd one after a gap.
func interleave(docs []string) []string {
	var out []string
	for i, d := range docs {
		if i%2 == 1 {
			out = append(out, "")
		}
		out = append(out, d)
	}
	return out
}

// hasRoaringTerm decodes b and reports whether a term used encRoaring.
func hasRoaringTerm(t testing.TB, b []byte) bool {
	t.Helper()
	var dec decoded
	r := &reader{b: b[:len(b)-4], off: len(sidecarMagic) + 4}
	if err := dec.decodeDocs(r); err != nil {
		t.Fatal(err)
	}
	nterms := r.count("", 1<<31)
	sums := make([]uint32, dec.n)
	for range nterms {
		text := string(r.bytes(int(r.uvarint(""))))
		save := r.off
		r.count("", uint64(dec.n))
		if r.byte() == encRoaring {
			return true
		}
		r.off = save
		if _, err := dec.decodeTerm(r, text, sums); err != nil {
			t.Fatal(err)
		}
	}
	return false
}

// TestSidecarRoaring: frequent terms of a large layer are stored as
// roaring bitmaps, smaller than deltas, and read back exactly.
func TestSidecarRoaring(t *testing.T) {
	const n = 70000
	docs := make([]string, n)
	for i := range docs {
		var w []string
		if i%2 == 0 {
			w = append(w, "alpha")
		}
		if i%3 == 0 {
			w = append(w, "beta")
		}
		if i%1000 != 0 {
			w = append(w, "gamma") // long runs
		}
		if i%50 == 0 {
			w = append(w, "rare")
		}
		docs[i] = strings.Join(w, " ")
	}
	ix := buildIndex(t, TokenizerConfig{}, docs)
	b, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !hasRoaringTerm(t, b) {
		t.Fatal("no term stored as a roaring bitmap")
	}
	t.Logf("%d documents: sidecar %d bytes", n, len(b))
	ix2, err := UnmarshalIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"alpha", "alpha beta", "gamma rare", `"alpha beta"`} {
		q, _ := ParseQuery(s, TokenizerConfig{})
		st := ix2.TermStats(q.Terms(), ix2.Len(), nil)
		checkResults(t, s, ix2.Search(q, st, 20, ix2.Len(), nil), BruteForce(docs, nil, q, TokenizerConfig{}, 20))
	}
}

func TestSidecarEmpty(t *testing.T) {
	b, err := NewIndex(TokenizerConfig{MaxTokenLen: 7}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ix, err := UnmarshalIndex(b)
	if err != nil || ix.Len() != 0 || ix.Config().MaxTokenLen != 7 {
		t.Fatalf("%v %+v", err, ix)
	}
	if err := ix.Add(0, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := ix.UnmarshalBinary(b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UnmarshalBinary into a non-empty index: %v", err)
	}
	var zero Index
	if err := zero.UnmarshalBinary(b); err != nil {
		t.Fatalf("UnmarshalBinary into a zero Index: %v", err)
	}
}

// TestSidecarCorrupt: every truncation and every single-byte change is
// rejected with ErrCorrupt (the checksum); with the checksum recomputed,
// structural checks reject it or it decodes to a consistent index; never
// a panic.
func TestSidecarCorrupt(t *testing.T) {
	ix, _ := codecIndex(t, 25)
	b, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := UnmarshalIndex(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	for i := range b {
		for _, x := range []byte{0x01, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			if _, err := UnmarshalIndex(c); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d ^ %#x: %v", i, x, err)
			}
			checkDecodes(t, fixCRC(c))
		}
	}
	for _, bad := range [][]byte{nil, []byte("FWFTSIDX"), append([]byte("XXXXXXXX"), b[8:]...)} {
		if _, err := UnmarshalIndex(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// fixCRC returns b with its trailing checksum recomputed.
func fixCRC(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.Checksum(c[:len(c)-4], castagnoli))
	return c
}

// checkDecodes decodes b; if it is accepted, the index must be consistent
// enough to search, gather statistics and re-encode to an equal index.
func checkDecodes(t *testing.T, b []byte) {
	t.Helper()
	ix, err := UnmarshalIndex(b)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		return
	}
	var texts []string
	for _, tm := range ix.dict.terms() {
		texts = append(texts, tm.text)
	}
	st := ix.TermStats(texts, ix.Len(), nil)
	for _, text := range texts {
		q := Query{clauses: []clause{{terms: []string{text}, offs: []uint32{0}}}}
		ix.Search(q, st, 3, ix.Len(), nil)
	}
	if len(texts) >= 2 {
		q := Query{op: And, clauses: []clause{{terms: texts[:2], offs: []uint32{0, 1}}}}
		ix.Search(q, st, 3, ix.Len(), nil)
	}
	b2, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ix2, err := UnmarshalIndex(b2)
	if err != nil {
		t.Fatalf("re-encoded accepted sidecar does not decode: %v", err)
	}
	if b3, _ := ix2.MarshalBinary(); !bytes.Equal(b2, b3) {
		t.Fatal("re-encoding is not stable")
	}
	if strings.Contains(t.Name(), "Fuzz") && ix.Len() > 1<<20 {
		t.Fatalf("tiny input decoded to %d positions", ix.Len())
	}
}

func FuzzUnmarshalIndex(f *testing.F) {
	for _, n := range []int{0, 3, 20} {
		ix, _ := codecIndex(f, n)
		b, err := ix.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A dense term (roaring-encoded).
	ix := NewIndex(TokenizerConfig{})
	for i := range 100 {
		if err := ix.Add(uint32(i), "dense word"); err != nil {
			f.Fatal(err)
		}
	}
	b, _ := ix.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodes(t, data)
		checkDecodes(t, fixCRC(data))
	})
}
