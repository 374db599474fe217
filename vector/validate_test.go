package vector

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckQuery(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		q    []float32
		dim  int
		want string // "" = valid
	}{
		{[]float32{1, 2, 3}, 3, ""},
		{[]float32{1, 2}, 3, "query has dimension 2, want 3"},
		{nil, 3, "query has dimension 0, want 3"},
		{[]float32{1, nan, 3}, 3, "query component 1 is NaN"},
		{[]float32{1, 2, inf}, 3, "query component 2 is +Inf"},
		{[]float32{-inf, 2, 3}, 3, "query component 0 is -Inf"},
	}
	for _, c := range cases {
		err := CheckQuery(c.q, c.dim)
		if c.want == "" {
			if err != nil {
				t.Errorf("CheckQuery(%v, %d) = %v, want nil", c.q, c.dim, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckQuery(%v, %d) = %v, want ErrInvalid with %q", c.q, c.dim, err, c.want)
		}
	}
}

func TestCheckVectors(t *testing.T) {
	if err := CheckVectors(make([]float32, 6), 3); err != nil {
		t.Errorf("valid: %v", err)
	}
	if err := CheckVectors(nil, 3); err != nil {
		t.Errorf("empty: %v", err)
	}
	bad := []struct {
		v    []float32
		dim  int
		want string
	}{
		{make([]float32, 5), 3, "5 values do not make whole vectors of dimension 3"},
		{make([]float32, 3), 0, "dimension 0 out of range"},
		{make([]float32, 3), MaxDim + 1, "out of range"},
		{[]float32{0, 0, 0, 0, float32(math.NaN()), 0}, 3, "vector 1 component 1 is NaN"},
	}
	for _, c := range bad {
		if err := CheckVectors(c.v, c.dim); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckVectors(len %d, %d) = %v, want %q", len(c.v), c.dim, err, c.want)
		}
	}
}
