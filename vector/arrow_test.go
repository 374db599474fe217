package vector

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// buildVectors makes a fixed_size_list<float32, dim> array; rows listed in
// nullRows are null, and nullComponent (row, component), if row >= 0, is a
// null value inside a valid row.
func buildVectors(t *testing.T, data []float32, dim int, nullRows map[int]bool, nullComponent [2]int) arrow.Array {
	t.Helper()
	b := array.NewFixedSizeListBuilder(memory.DefaultAllocator, int32(dim), arrow.PrimitiveTypes.Float32)
	defer b.Release()
	vb := b.ValueBuilder().(*array.Float32Builder)
	for i := range len(data) / dim {
		if nullRows[i] {
			b.AppendNull()
			continue
		}
		b.Append(true)
		for d, v := range data[i*dim : (i+1)*dim] {
			if nullComponent[0] == i && nullComponent[1] == d {
				vb.AppendNull()
			} else {
				vb.Append(v)
			}
		}
	}
	return b.NewArray()
}

func TestFloat32Vectors(t *testing.T) {
	data := randVectors(10, 4, 1)
	arr := buildVectors(t, data, 4, nil, [2]int{-1, 0})
	defer arr.Release()
	got, dim, err := Float32Vectors(arr)
	if err != nil || dim != 4 || !slices.Equal(got, data) {
		t.Fatalf("full array: dim %d err %v", dim, err)
	}
	// A slice of the array is a slice of the values, without a copy.
	sl := array.NewSlice(arr, 3, 7)
	defer sl.Release()
	got, _, err = Float32Vectors(sl)
	if err != nil || !slices.Equal(got, data[3*4:7*4]) {
		t.Fatalf("sliced array: %v", err)
	}
	if &got[0] != &arr.(*array.FixedSizeList).ListValues().(*array.Float32).Float32Values()[12] {
		t.Error("Float32Vectors copied the values")
	}
	empty := array.NewSlice(arr, 5, 5)
	defer empty.Release()
	if got, dim, err := Float32Vectors(empty); err != nil || len(got) != 0 || dim != 4 {
		t.Fatalf("empty slice: %v %d %v", got, dim, err)
	}
	// Wrong types.
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	ib.Append(1)
	ints := ib.NewArray()
	defer ints.Release()
	fb := array.NewFixedSizeListBuilder(memory.DefaultAllocator, 2, arrow.PrimitiveTypes.Float64)
	fb.Append(true)
	fb.ValueBuilder().(*array.Float64Builder).AppendValues([]float64{1, 2}, nil)
	f64 := fb.NewArray()
	defer f64.Release()
	for _, bad := range []arrow.Array{ints, f64} {
		if _, _, err := Float32Vectors(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", bad.DataType(), err)
		}
	}
}

func TestAddArrow(t *testing.T) {
	m, data := smallFixture(t, L2, 400)
	rows := data[:20*32]
	arr := buildVectors(t, rows, 32, map[int]bool{0: true, 5: true, 6: true, 19: true}, [2]int{-1, 0})
	defer arr.Release()
	sl := array.NewSlice(arr, 2, 20) // rows 2..19 at positions 100..117
	defer sl.Release()
	ix := NewIndex(m)
	if err := ix.AddArrow(100, sl); err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 15 || ix.NextPos() != 117 {
		t.Fatalf("len %d next %d, want 15 and 117", ix.Len(), ix.NextPos())
	}
	exact := func(p uint32) []float32 { return rows[int(p-98)*32 : int(p-97)*32] }
	got, err := ix.Search(rows[7*32:8*32], SearchParams{K: 20, NProbes: 16, MaxPos: allPos, Exact: exact})
	if err != nil || len(got) != 15 || got[0].Pos != 105 || got[0].Distance != 0 {
		t.Fatalf("search: %v %v", got, err)
	}
	for _, r := range got {
		if r.Pos == 103 || r.Pos == 104 || r.Pos == 117 {
			t.Fatalf("null row %d indexed", r.Pos)
		}
	}

	// Invalid inputs index nothing.
	fresh := NewIndex(m)
	withNullValue := buildVectors(t, rows, 32, nil, [2]int{3, 7})
	defer withNullValue.Release()
	inf := slices.Clone(rows)
	inf[9*32+2] = float32(math.Inf(1))
	withInf := buildVectors(t, inf, 32, nil, [2]int{-1, 0})
	defer withInf.Release()
	wrongDim := buildVectors(t, rows[:30], 6, nil, [2]int{-1, 0})
	defer wrongDim.Release()
	for name, a := range map[string]arrow.Array{"null component": withNullValue, "inf": withInf, "dim": wrongDim} {
		if err := fresh.AddArrow(0, a); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := ix.AddArrow(50, arr); !errors.Is(err, ErrInvalid) {
		t.Errorf("backwards positions: %v", err)
	}
	if fresh.Len() != 0 {
		t.Fatal("a rejected AddArrow indexed rows")
	}
}
