package vector

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Float32Vectors returns the vectors of a fixed_size_list<float32, dim>
// Arrow array as one row-major slice, without copying: row i is
// values[i*dim:(i+1)*dim], aliasing arr's buffer (valid while arr is).
// Slots of null rows hold unspecified values: check arr.IsNull. Any other
// type wraps ErrInvalid.
func Float32Vectors(arr arrow.Array) (values []float32, dim int, err error) {
	fsl, ok := arr.(*array.FixedSizeList)
	if !ok {
		return nil, 0, invalidf("vectors must be fixed_size_list<float32>, got %s", arr.DataType())
	}
	dim = int(fsl.DataType().(*arrow.FixedSizeListType).Len())
	child, ok := fsl.ListValues().(*array.Float32)
	if !ok {
		return nil, 0, invalidf("vectors must be fixed_size_list<float32>, got %s", arr.DataType())
	}
	if dim <= 0 || dim > MaxDim {
		return nil, 0, invalidf("dimension %d out of range [1, %d]", dim, MaxDim)
	}
	if fsl.Len() == 0 {
		return nil, dim, nil
	}
	start, _ := fsl.ValueOffsets(0)
	_, end := fsl.ValueOffsets(fsl.Len() - 1)
	all := child.Float32Values()
	if end > int64(len(all)) {
		return nil, 0, invalidf("fixed_size_list child holds %d values, need %d", len(all), end)
	}
	return all[start:end], dim, nil
}

// AddArrow indexes the rows of arr, a fixed_size_list<float32, dim> array
// of the model's dimension: row i at position firstPos+i. Null rows are
// skipped (their positions stay empty). A null component inside a non-null
// row, a NaN or ±Inf component, the wrong type or dimension wraps
// ErrInvalid; everything is checked before anything is indexed.
func (ix *Index) AddArrow(firstPos uint32, arr arrow.Array) error {
	values, dim, err := Float32Vectors(arr)
	if err != nil {
		return err
	}
	if dim != ix.model.dim {
		return invalidf("vectors have dimension %d, want %d", dim, ix.model.dim)
	}
	n := arr.Len()
	if next := ix.NextPos(); firstPos < next {
		return invalidf("position %d is below the next free position %d (positions must increase)", firstPos, next)
	}
	if uint64(firstPos)+uint64(n) > maxRows {
		return invalidf("positions %d + %d rows exceed the limit of %d", firstPos, n, uint64(maxRows))
	}
	if n == 0 {
		return nil
	}
	fsl := arr.(*array.FixedSizeList)
	child := fsl.ListValues()
	childStart, _ := fsl.ValueOffsets(0)
	// Validate every non-null row, collecting runs of them.
	type run struct{ lo, hi int }
	var runs []run
	for i := 0; i < n; {
		if arr.IsNull(i) {
			i++
			continue
		}
		j := i
		for j < n && !arr.IsNull(j) {
			j++
		}
		if child.NullN() > 0 {
			for e := i * dim; e < j*dim; e++ {
				if child.IsNull(int(childStart) + e) {
					return invalidf("row %d component %d is null", e/dim, e%dim)
				}
			}
		}
		if e, bad := firstNonFinite(values[i*dim : j*dim]); e >= 0 {
			return invalidf("row %d component %d is %s", i+e/dim, e%dim, bad)
		}
		runs = append(runs, run{i, j})
		i = j
	}
	for _, r := range runs {
		if err := ix.Add(firstPos+uint32(r.lo), values[r.lo*dim:r.hi*dim]); err != nil {
			return err
		}
	}
	return nil
}
