package vector

import "math/rand/v2"

// Shape of the data GenerateClustered draws.
const (
	// genLatentDim is the intrinsic dimension of every cluster.
	genLatentDim = 16
	// genNoise is the isotropic noise, relative to a cluster's spread.
	genNoise = 0.2
)

// GenerateClustered returns rows seeded pseudo-random vectors of dimension
// dim (row-major), drawn from a mixture of Gaussian clusters shaped like
// embedding data, for tests and benchmarks here and in other packages:
//
//   - cluster centres are N(0, 1) in every coordinate;
//   - each cluster has a spread sigma, uniform in [0.25, 0.5], and a random
//     basis of 16 directions (min(16, dim)): a row is its cluster's centre,
//     plus a N(0, 1) combination of the basis scaled so that the cluster
//     has variance sigma^2 per coordinate, plus isotropic N(0, (0.2 sigma)^2)
//     noise. Each row picks its cluster uniformly.
//
// The low intrinsic dimension is deliberate. Real embeddings lie near
// low-dimensional structure; isotropic Gaussian noise in hundreds of
// dimensions has no neighbour structure at all (every point of a cluster
// is nearly equidistant from a query), which measures quantization noise
// rather than search quality.
//
// Rows are independent given the clusters, so the first n rows of a larger
// call with the same seed, dim and clusters equal a call for n rows: the
// tail of a larger call serves as held-out queries.
func GenerateClustered(rows, dim, clusters int, seed int64) []float32 {
	rows, dim, clusters = max(rows, 0), max(dim, 1), max(clusters, 1)
	latent := min(genLatentDim, dim)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636c7573746572)) // "cluster"
	centres := make([]float32, clusters*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	sigma := make([]float64, clusters)
	basis := make([]float32, clusters*latent*dim) // cluster c, direction l at (c*latent+l)*dim
	for c := range sigma {
		sigma[c] = 0.25 + 0.25*rng.Float64()
		// Per-coordinate variance of the latent part: sigma^2 (1 - noise^2).
		scale := sigma[c] * sqrt64(1-genNoise*genNoise) / sqrt64(float64(latent))
		for i := range latent * dim {
			basis[c*latent*dim+i] = float32(scale * rng.NormFloat64())
		}
	}
	out := make([]float32, rows*dim)
	z := make([]float32, latent)
	for r := range rows {
		c := rng.IntN(clusters)
		row := out[r*dim : (r+1)*dim]
		copy(row, centres[c*dim:(c+1)*dim])
		for l := range z {
			z[l] = float32(rng.NormFloat64())
		}
		for l, zl := range z {
			axpy(zl, basis[(c*latent+l)*dim:(c*latent+l+1)*dim], row)
		}
		noise := genNoise * sigma[c]
		for d := range row {
			row[d] += float32(noise * rng.NormFloat64())
		}
	}
	return out
}
