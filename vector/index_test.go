package vector

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// smallFixture is a model and data small enough for exhaustive checks.
func smallFixture(t testing.TB, metric Metric, rows int) (*Model, []float32) {
	t.Helper()
	data := GenerateClustered(rows, 32, 8, int64(metric)+1)
	if metric == Dot {
		// Vary the norms so that dot and cosine rank differently.
		for i := range rows {
			s := float32(0.5 + float64(i%7)/4)
			for d := range 32 {
				data[i*32+d] *= s
			}
		}
	}
	return mustTrain(t, data, 32, Params{Partitions: 16, SubVectors: 8, Metric: metric}, 3), data
}

func TestSearchEmptyIndex(t *testing.T) {
	m, data := smallFixture(t, L2, 500)
	ix := NewIndex(m)
	got, err := ix.Search(data[:32], SearchParams{K: 5, MaxPos: allPos, Exact: exactFunc(data, 32)})
	if err != nil || len(got) != 0 {
		t.Fatalf("empty index: %v %v", got, err)
	}
	if ix.Len() != 0 || ix.NextPos() != 0 {
		t.Fatal("empty index reports rows")
	}
}

// TestSearchExhaustiveEqualsExact: probing every partition with a refine
// window over every row makes IVF-PQ exact, for every metric, with and
// without a filter, identical to FlatSearch (positions and distances).
func TestSearchExhaustiveEqualsExact(t *testing.T) {
	for _, metric := range []Metric{L2, Cosine, Dot} {
		m, data := smallFixture(t, metric, 1200)
		ix := mustIndex(t, m, data)
		queries := GenerateClustered(1220, 32, 8, int64(metric)+1)[1200*32:]
		for _, allow := range []func(uint32) bool{nil, func(p uint32) bool { return p%3 != 0 }} {
			for q := range 20 {
				query := queries[q*32 : (q+1)*32]
				want, _ := FlatSearch(data, 32, query, 10, metric, allow)
				got, err := ix.Search(query, SearchParams{
					K: 10, NProbes: m.Partitions(), RefineFactor: 1000,
					MaxPos: allPos, Allow: allow, Exact: exactFunc(data, 32),
				})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%v query %d: got %v\nwant %v", metric, q, got, want)
				}
			}
		}
	}
}

// TestSearchApproximateDistances checks the ADC estimates (no refinement)
// against exact distances: they must rank well and be close.
func TestSearchApproximateDistances(t *testing.T) {
	for _, metric := range []Metric{L2, Cosine, Dot} {
		m, data := smallFixture(t, metric, 2000)
		ix := mustIndex(t, m, data)
		query := GenerateClustered(2001, 32, 8, int64(metric)+1)[2000*32:]
		got, err := ix.Search(query, SearchParams{K: 20, NProbes: 16, MaxPos: allPos})
		if err != nil || len(got) != 20 {
			t.Fatalf("%v: %v %v", metric, got, err)
		}
		exact, _ := FlatSearch(data, 32, query, 20, metric, nil)
		spread := float64(exact[19].Distance - exact[0].Distance)
		for _, r := range got {
			d := metric.Distance(query, data[int(r.Pos)*32:int(r.Pos+1)*32])
			if err := math.Abs(float64(r.Distance - d)); err > math.Max(spread, 0.05*math.Abs(float64(d))) {
				t.Errorf("%v pos %d: ADC %v vs exact %v", metric, r.Pos, r.Distance, d)
			}
		}
		if !slices.IsSortedFunc(got, func(a, b Result) int { return cmpF32(a.Distance, b.Distance) }) {
			t.Errorf("%v: results not sorted", metric)
		}
		if r := recallAt(got[:10], exact[:10]); r < 0.5 {
			t.Errorf("%v: ADC-only recall@10 %v", metric, r)
		}
	}
}

func recallAt(got, want []Result) float64 {
	set := map[uint32]bool{}
	for _, r := range want {
		set[r.Pos] = true
	}
	hit := 0
	for _, r := range got {
		if set[r.Pos] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func TestSearchDefaultsRecall(t *testing.T) {
	// Each metric at default search settings on a modest clustered set.
	for _, metric := range []Metric{L2, Cosine, Dot} {
		data := GenerateClustered(6000, 64, 20, 5)
		p := DefaultParams(64, 5000)
		p.Metric = metric
		m := mustTrain(t, data[:5000*64], 64, p, 1)
		ix := mustIndex(t, m, data[:5000*64])
		var sum float64
		for q := range 50 {
			query := data[(5000+q)*64 : (5001+q)*64]
			want, _ := FlatSearch(data[:5000*64], 64, query, 10, metric, nil)
			got, err := ix.Search(query, SearchParams{K: 10, MaxPos: allPos, Exact: exactFunc(data, 64)})
			if err != nil {
				t.Fatal(err)
			}
			sum += recallAt(got, want)
		}
		if r := sum / 50; r < 0.95 {
			t.Errorf("%v: recall@10 %.3f at defaults", metric, r)
		} else {
			t.Logf("%v: recall@10 %.3f at defaults", metric, r)
		}
	}
}

func TestSearchKLargerThanRows(t *testing.T) {
	m, data := smallFixture(t, L2, 300)
	ix := mustIndex(t, m, data[:40*32])
	got, err := ix.Search(data[:32], SearchParams{K: 100, MaxPos: allPos, Exact: exactFunc(data, 32)})
	if err != nil || len(got) != 40 {
		t.Fatalf("got %d results (%v), want all 40 rows", len(got), err)
	}
	got, _ = ix.Search(data[:32], SearchParams{K: 100, MaxPos: allPos}) // ADC only
	if len(got) != 40 {
		t.Fatalf("ADC: got %d results, want 40", len(got))
	}
}

// TestSearchSelectiveFilter: an allow filter that excludes almost every
// row, including every row of the nearest partitions, still yields k
// results when k rows are allowed.
func TestSearchSelectiveFilter(t *testing.T) {
	m, data := smallFixture(t, L2, 3000)
	ix := mustIndex(t, m, data)
	query := data[:32]
	// Allow only the 12 rows farthest from the query.
	all, _ := FlatSearch(data, 32, query, 3000, L2, nil)
	allowed := map[uint32]bool{}
	for _, r := range all[len(all)-12:] {
		allowed[r.Pos] = true
	}
	allow := func(p uint32) bool { return allowed[p] }
	for _, exact := range []func(uint32) []float32{nil, exactFunc(data, 32)} {
		got, err := ix.Search(query, SearchParams{K: 10, NProbes: 1, MaxPos: allPos, Allow: allow, Exact: exact})
		if err != nil || len(got) != 10 {
			t.Fatalf("got %d results (%v), want 10", len(got), err)
		}
		for _, r := range got {
			if !allowed[r.Pos] {
				t.Fatalf("row %d not allowed", r.Pos)
			}
		}
	}
}

func TestSearchMaxPos(t *testing.T) {
	m, data := smallFixture(t, L2, 1000)
	ix := mustIndex(t, m, data)
	for _, maxPos := range []uint32{0, 1, 7, 500, 999, 1000} {
		got, err := ix.Search(data[999*32:], SearchParams{K: 20, NProbes: 16, MaxPos: maxPos, Exact: exactFunc(data, 32)})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := FlatSearch(data[:int(maxPos)*32], 32, data[999*32:], 20, L2, nil)
		if !slices.Equal(got, want) {
			t.Errorf("MaxPos %d: got %v, want %v", maxPos, got, want)
		}
	}
}

func TestSearchRejectsBadArguments(t *testing.T) {
	m, data := smallFixture(t, L2, 300)
	ix := mustIndex(t, m, data)
	q := data[:32]
	cases := map[string]func() error{
		"k=0":         func() error { _, err := ix.Search(q, SearchParams{K: 0, MaxPos: allPos}); return err },
		"k too big":   func() error { _, err := ix.Search(q, SearchParams{K: MaxK + 1, MaxPos: allPos}); return err },
		"nprobes<0":   func() error { _, err := ix.Search(q, SearchParams{K: 1, NProbes: -1, MaxPos: allPos}); return err },
		"refine<0":    func() error { _, err := ix.Search(q, SearchParams{K: 1, RefineFactor: -1, MaxPos: allPos}); return err },
		"short query": func() error { _, err := ix.Search(q[:31], SearchParams{K: 1, MaxPos: allPos}); return err },
		"nan query": func() error {
			bad := slices.Clone(q)
			bad[3] = float32(math.NaN())
			_, err := ix.Search(bad, SearchParams{K: 1, MaxPos: allPos})
			return err
		},
		"exact wrong dim": func() error {
			_, err := ix.Search(q, SearchParams{K: 1, MaxPos: allPos, Exact: func(uint32) []float32 { return q[:5] }})
			return err
		},
	}
	for name, call := range cases {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Exact returning nil drops rows.
	got, err := ix.Search(q, SearchParams{K: 5, MaxPos: allPos, Exact: func(p uint32) []float32 {
		if p%2 == 0 {
			return nil
		}
		return data[int(p)*32 : int(p+1)*32]
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Pos%2 == 0 {
			t.Fatalf("dropped row %d returned", r.Pos)
		}
	}
}

func TestAddValidatesAndPositionsIncrease(t *testing.T) {
	m, data := smallFixture(t, L2, 300)
	ix := NewIndex(m)
	if err := ix.Add(10, data[:5*32]); err != nil {
		t.Fatal(err)
	}
	nan := slices.Clone(data[:2*32])
	nan[40] = float32(math.Inf(-1))
	bad := map[string]error{
		"overlap":   ix.Add(14, data[:32]),
		"backwards": ix.Add(3, data[:32]),
		"ragged":    ix.Add(20, data[:33]),
		"inf":       ix.Add(20, nan),
		"overflow":  ix.Add(math.MaxUint32-1, data[:2*32]),
	}
	for name, err := range bad {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if ix.Len() != 5 || ix.NextPos() != 15 {
		t.Fatalf("failed Adds changed the index: len %d next %d", ix.Len(), ix.NextPos())
	}
	// A gap, an empty Add, the last allowed position.
	if err := ix.Add(100, data[5*32:7*32]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(200, nil); err != nil || ix.NextPos() != 102 {
		t.Fatalf("empty Add: %v, next %d", err, ix.NextPos())
	}
	if err := ix.Add(math.MaxUint32-1, data[:32]); err != nil {
		t.Fatal(err)
	}
	got, err := ix.Search(data[6*32:7*32], SearchParams{K: 3, MaxPos: math.MaxUint32, NProbes: 16, Exact: func(p uint32) []float32 {
		switch {
		case p >= 10 && p < 15:
			return data[int(p-10)*32 : int(p-9)*32]
		case p >= 100 && p < 102:
			return data[int(p-95)*32 : int(p-94)*32]
		case p == math.MaxUint32-1:
			return data[:32]
		}
		t.Fatalf("unexpected position %d", p)
		return nil
	}})
	if err != nil || len(got) != 3 || got[0].Pos != 101 || got[0].Distance != 0 {
		t.Fatalf("positions after gaps: %v %v", got, err)
	}
	if ix.Len() != 8 || ix.SizeBytes() <= 0 {
		t.Fatalf("len %d size %d", ix.Len(), ix.SizeBytes())
	}
}

func TestPostingChunks(t *testing.T) {
	for _, c := range []struct {
		i       uint32
		ch, off int
	}{{0, 0, 0}, {63, 0, 63}, {64, 1, 0}, {191, 1, 127}, {192, 2, 0}, {math.MaxUint32, 26, 63}} {
		ch, off := chunkOf(c.i)
		if ch != c.ch || off != c.off {
			t.Errorf("chunkOf(%d) = %d, %d; want %d, %d", c.i, ch, off, c.ch, c.off)
		}
	}
	if ch, off := chunkOf(math.MaxUint32); ch >= maxChunks || off >= 64<<ch {
		t.Fatalf("chunkOf(MaxUint32) = %d, %d out of range", ch, off)
	}
	var l postingList
	for i := range uint32(1000) {
		l.put(i, i*2, []byte{byte(i), byte(i >> 8)})
		if i%100 == 99 {
			l.publish(i + 1)
		}
	}
	var n uint32
	l.segments(2, func(pos []uint32, codes []byte) bool {
		for i, p := range pos {
			if p != n*2 || codes[2*i] != byte(n) || codes[2*i+1] != byte(n>>8) {
				t.Fatalf("entry %d: pos %d codes %v", n, p, codes[2*i:2*i+2])
			}
			n++
		}
		return true
	})
	if n != 1000 {
		t.Fatalf("read %d entries, want 1000", n)
	}
}

// TestSearchWithoutCentroidTables: models whose precomputed tables exceed
// the memory budget build each probed partition's lookup table from the
// residual query instead; both paths compute the same expansion, so they
// agree up to float rounding.
func TestSearchWithoutCentroidTables(t *testing.T) {
	for _, metric := range []Metric{L2, Cosine} {
		m, data := smallFixture(t, metric, 1500)
		enc, _ := m.MarshalBinary()
		direct, err := UnmarshalModel(enc)
		if err != nil {
			t.Fatal(err)
		}
		direct.cache.tableBytes = 0
		a, b := mustIndex(t, m, data), mustIndex(t, direct, data)
		if b.Model() != direct || m.centroidTables() == nil || direct.centroidTables() != nil {
			t.Fatal("fixture: expected tables on one model only")
		}
		for q := range 10 {
			query := data[q*32 : (q+1)*32]
			sp := SearchParams{K: 10, NProbes: 5, MaxPos: allPos}
			ra, _ := a.Search(query, sp)
			rb, _ := b.Search(query, sp)
			if len(ra) != len(rb) {
				t.Fatalf("%v: %d vs %d results", metric, len(ra), len(rb))
			}
			for i := range ra {
				if !near(rb[i].Distance, float64(ra[i].Distance), 1e-3) {
					t.Fatalf("%v query %d result %d: %v vs %v", metric, q, i, ra[i], rb[i])
				}
			}
		}
	}
}
