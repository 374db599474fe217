package vector

import "math/rand/v2"

// productQuantizer splits a vector into m sub-vectors of subDim dimensions
// and encodes each by the index of its nearest centroid in that sub-space's
// codebook of 256: m bytes per vector. Here it always encodes residuals
// (a vector minus its IVF centroid); see model.go.
type productQuantizer struct {
	m, subDim int
	flat      []float32    // m*256*subDim: codebook s, centroid j at (s*256+j)*subDim
	books     []*centroids // books[s] views flat[s*256*subDim:]
}

func newProductQuantizer(m, subDim int, flat []float32) *productQuantizer {
	q := &productQuantizer{m: m, subDim: subDim, flat: flat, books: make([]*centroids, m)}
	size := codebookSize * subDim
	for s := range m {
		q.books[s] = newCentroids(codebookSize, subDim, flat[s*size:(s+1)*size])
	}
	return q
}

// trainPQ learns the m codebooks from n row-major training vectors. Each
// sub-space is an independent k-means with its own seeded generator, run on
// w goroutines sub-space by sub-space, so the result depends only on seed.
func trainPQ(train []float32, n, dim, m, maxIters int, seed uint64, w int) *productQuantizer {
	subDim := dim / m
	size := codebookSize * subDim
	flat := make([]float32, m*size)
	parallelFor(m, w, 1, func(_, lo, hi int) {
		sub := make([]float32, n*subDim)
		for s := lo; s < hi; s++ {
			for i := range n {
				copy(sub[i*subDim:(i+1)*subDim], train[i*dim+s*subDim:])
			}
			rng := rand.New(rand.NewPCG(seed, uint64(s)+1))
			copy(flat[s*size:(s+1)*size], kmeans(sub, subDim, codebookSize, maxIters, rng, 1))
		}
	})
	return newProductQuantizer(m, subDim, flat)
}

// encode writes the m-byte code of x (a residual) into code. scratch must
// hold 256 floats.
func (q *productQuantizer) encode(x []float32, code []byte, scratch []float32) {
	for s, b := range q.books {
		code[s] = byte(b.nearest(x[s*q.subDim:(s+1)*q.subDim], scratch))
	}
}

// queryTable sets lut[s*256+j] = |y_sj|^2 - 2<x_s, y_sj> for every
// sub-space s and codeword j: with x = q - c this plus |q - c|^2 is the
// squared distance from q to c + y. len(lut) >= m*256.
func (q *productQuantizer) queryTable(x []float32, lut []float32) {
	for s, b := range q.books {
		b.partial(x[s*q.subDim:(s+1)*q.subDim], lut[s*codebookSize:(s+1)*codebookSize])
	}
}

// dotTable sets lut[s*256+j] = -<x_s, y_sj>: the negated inner product of
// x with each codeword, sub-space by sub-space.
func (q *productQuantizer) dotTable(x []float32, lut []float32) {
	for s, b := range q.books {
		xs := x[s*q.subDim : (s+1)*q.subDim]
		out := lut[s*codebookSize : (s+1)*codebookSize]
		for j := range codebookSize {
			out[j] = -dot(xs, b.row(j))
		}
	}
}

// centroidTable sets out[s*256+j] = 2<c_s, y_sj> for an IVF centroid c.
// For L2, the lookup table of partition p is queryTable(q) +
// centroidTable(c_p): the expansion of |q - c_p - y|^2 whose only
// query-and-partition dependent part is the constant |q - c_p|^2.
func (q *productQuantizer) centroidTable(c []float32, out []float32) {
	for s, b := range q.books {
		cs := c[s*q.subDim : (s+1)*q.subDim]
		o := out[s*codebookSize : (s+1)*codebookSize]
		for j := range codebookSize {
			o[j] = 2 * dot(cs, b.row(j))
		}
	}
}
