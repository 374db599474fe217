package vector

import (
	"errors"
	"slices"
	"sort"
	"testing"
)

// bruteForce is an independent reference: float64 distances, full sort.
func bruteForce(data []float32, dim int, q []float32, k int, m Metric, allow func(uint32) bool) []uint32 {
	type pd struct {
		pos uint32
		d   float64
	}
	var all []pd
	for i := range len(data) / dim {
		if allow == nil || allow(uint32(i)) {
			all = append(all, pd{uint32(i), refDistance(m, q, data[i*dim:(i+1)*dim])})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].d < all[b].d })
	var out []uint32
	for _, p := range all[:min(k, len(all))] {
		out = append(out, p.pos)
	}
	return out
}

func TestFlatSearch(t *testing.T) {
	const dim = 24
	data := randVectors(500, dim, 20)
	q := randVectors(1, dim, 21)
	even := func(p uint32) bool { return p%2 == 0 }
	for _, m := range []Metric{L2, Cosine, Dot} {
		for _, allow := range []func(uint32) bool{nil, even} {
			got, err := FlatSearch(data, dim, q, 10, m, allow)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(data, dim, q, 10, m, allow)
			var gotPos []uint32
			for i, r := range got {
				gotPos = append(gotPos, r.Pos)
				if d := m.Distance(q, data[int(r.Pos)*dim:int(r.Pos+1)*dim]); d != r.Distance {
					t.Fatalf("%v: result %d distance %v, Distance() says %v", m, i, r.Distance, d)
				}
				if i > 0 && got[i-1].Distance > r.Distance {
					t.Fatalf("%v: not sorted: %v", m, got)
				}
				if allow != nil && !allow(r.Pos) {
					t.Fatalf("%v: filtered row %d returned", m, r.Pos)
				}
			}
			if !slices.Equal(gotPos, want) {
				t.Errorf("%v: got %v, want %v", m, gotPos, want)
			}
		}
	}
}

func TestFlatSearchEdges(t *testing.T) {
	const dim = 4
	data := randVectors(5, dim, 1)
	q := randVectors(1, dim, 2)
	if got, err := FlatSearch(data, dim, q, 50, L2, nil); err != nil || len(got) != 5 {
		t.Errorf("k > rows: %v, %v", got, err)
	}
	if got, err := FlatSearch(nil, dim, q, 3, L2, nil); err != nil || len(got) != 0 {
		t.Errorf("no rows: %v, %v", got, err)
	}
	if got, _ := FlatSearch(data, dim, q, 3, L2, func(uint32) bool { return false }); len(got) != 0 {
		t.Errorf("nothing allowed: %v", got)
	}
	for name, call := range map[string]func() error{
		"k=0":        func() error { _, err := FlatSearch(data, dim, q, 0, L2, nil); return err },
		"bad dim":    func() error { _, err := FlatSearch(data, dim, q[:3], 1, L2, nil); return err },
		"bad shape":  func() error { _, err := FlatSearch(data[:7], dim, q, 1, L2, nil); return err },
		"bad metric": func() error { _, err := FlatSearch(data, dim, q, 1, Metric(7), nil); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
