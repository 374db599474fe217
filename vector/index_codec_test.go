package vector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestIndexRoundTrip(t *testing.T) {
	m, data := smallFixture(t, Cosine, 2000)
	ix := NewIndex(m)
	// Gaps and several batches.
	for b := range 10 {
		if err := ix.Add(uint32(b*300), data[b*200*32:(b+1)*200*32]); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back := NewIndex(m)
	if err := back.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if back.Len() != ix.Len() || back.NextPos() != ix.NextPos() {
		t.Fatalf("len %d/%d next %d/%d", back.Len(), ix.Len(), back.NextPos(), ix.NextPos())
	}
	again, _ := back.MarshalBinary()
	if !bytes.Equal(enc, again) {
		t.Fatal("re-encoding differs")
	}
	for q := range 10 {
		query := data[q*32 : (q+1)*32]
		sp := SearchParams{K: 10, NProbes: 4, MaxPos: allPos}
		a, _ := ix.Search(query, sp)
		b, _ := back.Search(query, sp)
		if !slices.Equal(a, b) {
			t.Fatalf("query %d: %v vs %v", q, a, b)
		}
	}
	// The loaded index keeps growing.
	if err := back.Add(back.NextPos(), data[:32]); err != nil || back.Len() != ix.Len()+1 {
		t.Fatalf("Add after load: %v", err)
	}
	// Loading into a non-empty index is refused.
	if err := back.UnmarshalBinary(enc); !errors.Is(err, ErrInvalid) {
		t.Fatalf("load into non-empty: %v", err)
	}
	// An empty index round-trips.
	empty, _ := NewIndex(m).MarshalBinary()
	if err := NewIndex(m).UnmarshalBinary(empty); err != nil {
		t.Fatal(err)
	}
}

func TestIndexModelMismatch(t *testing.T) {
	m1, data := smallFixture(t, L2, 500)
	m2 := mustTrain(t, data, 32, Params{Partitions: 16, SubVectors: 8}, 99)
	enc, _ := mustIndex(t, m1, data).MarshalBinary()
	if err := NewIndex(m2).UnmarshalBinary(enc); !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("got %v, want ErrModelMismatch", err)
	}
}

func TestIndexUnmarshalRejectsCorruption(t *testing.T) {
	m, data := smallFixture(t, L2, 400)
	ix := NewIndex(m)
	if err := ix.Add(0, data[:100*32]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(150, data[100*32:]); err != nil {
		t.Fatal(err)
	}
	good, _ := ix.MarshalBinary()
	const hdr = 12 + 8 + 6*4 // frame header, fingerprint, six uint32s
	k := m.Partitions()
	posOff := hdr + 4*k
	check := func(name string, data []byte, want error) {
		t.Helper()
		fresh := NewIndex(m)
		if err := fresh.UnmarshalBinary(data); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		if fresh.Len() != 0 || fresh.NextPos() != 0 {
			t.Errorf("%s: failed load left rows behind", name)
		}
	}
	check("empty", nil, ErrCorrupt)
	check("truncated", good[:len(good)-3], ErrCorrupt)
	check("half", bytes.Clone(good[:len(good)/2]), ErrCorrupt)
	for _, off := range []int{3, 10, hdr - 2, posOff + 5, len(good) - 10} {
		bad := bytes.Clone(good)
		bad[off] ^= 1
		check("bit flip", bad, ErrCorrupt)
	}
	reframe := func(mut func(b []byte)) []byte {
		b := bytes.Clone(good[:len(good)-4])
		mut(b)
		return appendFrameTrailer(b)
	}
	put := func(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	// Find a partition with at least two rows.
	p2, first := -1, 0
	for p := range k {
		if c := int(binary.LittleEndian.Uint32(good[hdr+4*p:])); c >= 2 {
			p2 = p
			break
		} else {
			first += c
		}
	}
	check("rows > next", reframe(func(b []byte) { put(b, hdr-4, 600) }), ErrCorrupt)
	check("huge rows", reframe(func(b []byte) { put(b, hdr-4, 1<<31); put(b, hdr-8, 1<<31+5) }), ErrCorrupt)
	check("counts sum", reframe(func(b []byte) { put(b, hdr+4*p2, 1) }), ErrCorrupt)
	check("position >= next", reframe(func(b []byte) { put(b, posOff+4*first, 1000) }), ErrCorrupt)
	check("not increasing", reframe(func(b []byte) {
		put(b, posOff+4*first, 5)
		put(b, posOff+4*first+4, 5)
	}), ErrCorrupt)
	// Position 0 sits first in its partition A; making the first row of
	// another partition B position 0 too keeps B increasing, so only the
	// cross-partition duplicate check can catch it.
	check("duplicate across partitions", reframe(func(b []byte) {
		off := 0
		for p := range k {
			c := int(binary.LittleEndian.Uint32(b[hdr+4*p:]))
			if c > 0 && binary.LittleEndian.Uint32(b[posOff+4*off:]) != 0 {
				put(b, posOff+4*off, 0)
				return
			}
			off += c
		}
	}), ErrCorrupt)
	check("dim", reframe(func(b []byte) { put(b, 24, 31) }), ErrModelMismatch)
}

func FuzzUnmarshalIndex(f *testing.F) {
	m, err := Train(GenerateClustered(200, 8, 3, 1), 8, Params{Partitions: 3, SubVectors: 2}, 1)
	if err != nil {
		f.Fatal(err)
	}
	ix := NewIndex(m)
	if err := ix.Add(0, GenerateClustered(50, 8, 3, 2)); err != nil {
		f.Fatal(err)
	}
	good, _ := ix.MarshalBinary()
	f.Add(good, false)
	f.Add(good, true)
	f.Add(good[:30], true)
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC {
			data = withValidCRC(data)
		}
		fresh := NewIndex(m)
		if err := fresh.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrModelMismatch) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrModelMismatch", err)
			}
			return
		}
		if _, err := fresh.Search(make([]float32, 8), SearchParams{K: 3, MaxPos: allPos}); err != nil {
			t.Fatal(err)
		}
	})
}
