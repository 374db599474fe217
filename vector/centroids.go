package vector

// smallDim is the largest dimension for which centroids keep a transposed
// copy. Short vectors (PQ sub-vectors) are compared with all centroids at
// once column by column, which avoids a call and a short loop per centroid.
const smallDim = 32

// centroids is a set of k points of dimension dim with what nearest-point
// queries need precomputed. It is immutable once built.
type centroids struct {
	k, dim int
	data   []float32 // k*dim, row-major
	norms  []float32 // norms[j] = |c_j|^2
	t      []float32 // dim*k, transposed data; only when dim <= smallDim
}

func newCentroids(k, dim int, data []float32) *centroids {
	c := &centroids{k: k, dim: dim, data: data, norms: make([]float32, k)}
	for j := range k {
		v := data[j*dim : (j+1)*dim]
		c.norms[j] = dot(v, v)
	}
	if dim <= smallDim {
		c.t = make([]float32, dim*k)
		for j := range k {
			for d := range dim {
				c.t[d*k+j] = data[j*dim+d]
			}
		}
	}
	return c
}

func (c *centroids) row(j int) []float32 { return c.data[j*c.dim : (j+1)*c.dim] }

// partial sets out[j] = |c_j|^2 - 2<x, c_j> for every centroid: the squared
// distance |x - c_j|^2 minus the constant |x|^2. len(out) >= k.
func (c *centroids) partial(x []float32, out []float32) {
	out = out[:c.k]
	if c.t != nil {
		clear(out)
		for d := range c.dim {
			axpy(x[d], c.t[d*c.k:(d+1)*c.k], out)
		}
		for j, n := range c.norms {
			out[j] = n - 2*out[j]
		}
		return
	}
	for j := range c.k {
		out[j] = c.norms[j] - 2*dot(x, c.data[j*c.dim:(j+1)*c.dim])
	}
}

// nearest returns the index of the centroid nearest to x in L2 (the lowest
// index among exact ties). scratch must hold k floats.
func (c *centroids) nearest(x []float32, scratch []float32) int {
	c.partial(x, scratch)
	best, bd := 0, scratch[0]
	for j, d := range scratch[1:c.k] {
		if d < bd {
			best, bd = j+1, d
		}
	}
	return best
}
