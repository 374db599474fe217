package vector

import "math"

// Size limits. They bound what Train, NewIndex and UnmarshalBinary accept so
// that a corrupt or hostile input cannot make the package allocate without
// bound.
const (
	// MaxDim is the largest vector dimension.
	MaxDim = 1 << 16
	// MaxPartitions is the largest number of IVF partitions.
	MaxPartitions = 1 << 16
	// MaxK is the largest k a search accepts.
	MaxK = 1 << 20
	// maxRows bounds the positions of a layer: positions are uint32 and
	// math.MaxUint32 itself is kept free so that it can mean "no bound".
	maxRows = 1<<32 - 1
	// codebookSize is the number of centroids per PQ sub-quantizer: codes
	// are one byte.
	codebookSize = 256
)

// CheckQuery reports whether q is a usable query vector of dimension dim:
// the right length, and every component finite. The error wraps ErrInvalid
// and says what is wrong, e.g. "query has dimension 3, want 128" or
// "query component 7 is NaN".
func CheckQuery(q []float32, dim int) error {
	if len(q) != dim {
		return invalidf("query has dimension %d, want %d", len(q), dim)
	}
	if i, bad := firstNonFinite(q); i >= 0 {
		return invalidf("query component %d is %s", i, bad)
	}
	return nil
}

// CheckVectors reports whether vectors holds whole row-major vectors of
// dimension dim with every component finite. The error wraps ErrInvalid and
// names the first bad row and component.
func CheckVectors(vectors []float32, dim int) error {
	if err := CheckVectorShape(vectors, dim); err != nil {
		return err
	}
	if i, bad := firstNonFinite(vectors); i >= 0 {
		return invalidf("vector %d component %d is %s", i/dim, i%dim, bad)
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or ±Inf in v and its
// name, or -1.
func firstNonFinite(v []float32) (int, string) {
	for i, x := range v {
		// x-x is 0 for finite x and NaN for NaN and ±Inf: one branch per
		// element in the common case.
		if x-x != 0 {
			switch {
			case math.IsNaN(float64(x)):
				return i, "NaN"
			case x > 0:
				return i, "+Inf"
			default:
				return i, "-Inf"
			}
		}
	}
	return -1, ""
}
