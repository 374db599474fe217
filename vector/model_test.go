package vector

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestDefaultParams(t *testing.T) {
	cases := []struct {
		dim, rows       int
		parts, subs, ss int
	}{
		{128, 100000, 316, 16, 32 * 316},
		{1024, 62000, 249, 64, 32 * 256},
		{768, 1000000, 1000, 48, 32 * 1000},
		{100, 10, 3, 10, 10}, // dim/8 = 12 does not divide 100: 10 does
		{7, 50, 7, 1, 50},    // prime dim: one sub-vector
		{16, 0, 1, 2, 1},     // no rows
		{8, 100000000, 4096, 1, 32 * 4096},
	}
	for _, c := range cases {
		p := DefaultParams(c.dim, c.rows)
		if p.Partitions != c.parts || p.SubVectors != c.subs || p.SampleSize != c.ss || p.Metric != L2 || p.MaxIters != defaultMaxIters {
			t.Errorf("DefaultParams(%d, %d) = %+v, want partitions %d, sub_vectors %d, sample %d", c.dim, c.rows, p, c.parts, c.subs, c.ss)
		}
		if c.dim%p.SubVectors != 0 {
			t.Errorf("DefaultParams(%d, %d): sub_vectors %d does not divide dim", c.dim, c.rows, p.SubVectors)
		}
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	data := randVectors(100, 8, 1)
	cases := map[string]struct {
		v   []float32
		dim int
		p   Params
	}{
		"no rows":         {nil, 8, Params{}},
		"ragged":          {data[:13], 8, Params{}},
		"nan":             {append([]float32{float32(math.NaN())}, data[1:]...), 8, Params{}},
		"too many parts":  {data, 8, Params{Partitions: 101}},
		"negative parts":  {data, 8, Params{Partitions: -1}},
		"subs not divide": {data, 8, Params{SubVectors: 3}},
		"subs > dim":      {data, 8, Params{SubVectors: 16}},
		"bad metric":      {data, 8, Params{Metric: 5}},
		"bad iters":       {data, 8, Params{MaxIters: -2}},
		"bad sample":      {data, 8, Params{SampleSize: -2}},
	}
	for name, c := range cases {
		if _, err := Train(c.v, c.dim, c.p, 1); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestTrainDeterministicAndRoundTrips(t *testing.T) {
	data := GenerateClustered(2000, 32, 10, 1)
	for _, metric := range []Metric{L2, Cosine, Dot} {
		p := Params{Partitions: 20, SubVectors: 8, Metric: metric, SampleSize: 1500}
		a := mustTrain(t, data, 32, p, 42)
		b := mustTrain(t, data, 32, p, 42)
		if a.Fingerprint() != b.Fingerprint() {
			t.Errorf("%v: same seed, different models", metric)
		}
		if c := mustTrain(t, data, 32, p, 43); c.Fingerprint() == a.Fingerprint() {
			t.Errorf("%v: different seeds, same model", metric)
		}
		if a.Metric() != metric || a.Dim() != 32 || a.Partitions() != 20 || a.SubVectors() != 8 {
			t.Errorf("accessors: %v %d %d %d", a.Metric(), a.Dim(), a.Partitions(), a.SubVectors())
		}
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Model
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		again, _ := back.MarshalBinary()
		if !bytes.Equal(enc, again) || back.Fingerprint() != a.Fingerprint() {
			t.Errorf("%v: round trip changed the model", metric)
		}
	}
}

func TestTrainTinyInputs(t *testing.T) {
	// Fewer rows than PQ centroids, a single row, one partition.
	for _, rows := range []int{1, 2, 17, 300} {
		data := randVectors(rows, 16, uint64(rows))
		m := mustTrain(t, data, 16, Params{}, 1)
		ix := mustIndex(t, m, data)
		got, err := ix.Search(data[:16], SearchParams{K: 3, MaxPos: allPos, Exact: exactFunc(data, 16)})
		if err != nil || len(got) != min(3, rows) || got[0].Distance != 0 {
			t.Errorf("rows=%d: %v %v", rows, got, err)
		}
	}
}

func TestUnmarshalModelRejectsCorruption(t *testing.T) {
	m := mustTrain(t, GenerateClustered(500, 16, 4, 2), 16, Params{Partitions: 4, SubVectors: 4}, 1)
	good, _ := m.MarshalBinary()
	check := func(name string, data []byte) {
		t.Helper()
		before := *m
		if err := m.UnmarshalBinary(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		if m.Fingerprint() != before.Fingerprint() {
			t.Errorf("%s: failed unmarshal changed the model", name)
		}
	}
	check("empty", nil)
	check("truncated", good[:len(good)-5])
	check("one byte short", good[:len(good)-1])
	check("trailing byte", append(bytes.Clone(good), 0))
	for _, off := range []int{0, 9, 12, 20, 40, len(good) / 2, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[off] ^= 0x40
		check("bit flip", bad)
	}
	// Consistent checksum, inconsistent content: the decoder's own checks.
	reframe := func(mut func(b []byte)) []byte {
		b := bytes.Clone(good[:len(good)-4])
		mut(b)
		return appendFrameTrailer(b)
	}
	check("version", reframe(func(b []byte) { b[8] = 9 }))
	check("metric", reframe(func(b []byte) { b[12] = 7 }))
	check("dim 0", reframe(func(b []byte) { copy(b[16:], []byte{0, 0, 0, 0}) }))
	check("huge dim", reframe(func(b []byte) { copy(b[16:], []byte{0, 0, 0, 1}) }))
	check("subs", reframe(func(b []byte) { b[24] = 3 }))
	check("codebook", reframe(func(b []byte) { b[28] = 16 }))
	check("nan centroid", reframe(func(b []byte) { copy(b[32:], []byte{0, 0, 0xc0, 0x7f}) }))
}

func FuzzUnmarshalModel(f *testing.F) {
	m, err := Train(GenerateClustered(300, 8, 3, 1), 8, Params{Partitions: 3, SubVectors: 2}, 1)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := m.MarshalBinary()
	f.Add(good, false)
	f.Add(good, true)
	f.Add(good[:40], true)
	f.Add([]byte(modelMagic), false)
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC {
			data = withValidCRC(data)
		}
		got, err := UnmarshalModel(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes must be usable and re-encode identically.
		enc, _ := got.MarshalBinary()
		if !bytes.Equal(enc, data) {
			t.Fatal("decoded model re-encodes differently")
		}
		ix := NewIndex(got)
		v := make([]float32, got.Dim())
		if err := ix.Add(0, v); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.Search(v, SearchParams{K: 1, MaxPos: allPos}); err != nil {
			t.Fatal(err)
		}
	})
}

// withValidCRC rewrites the frame trailer of data so that its checksum
// holds: fuzzed bodies then reach the decoders' own checks.
func withValidCRC(data []byte) []byte {
	if len(data) < frameOverhead {
		return data
	}
	return appendFrameTrailer(bytes.Clone(data[:len(data)-4]))
}
