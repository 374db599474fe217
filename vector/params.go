package vector

import "math"

// Params are the training parameters of a Model. Zero fields take the
// value of DefaultParams for the training data (the zero Metric is L2).
type Params struct {
	// Partitions is the number of IVF partitions (k-means centroids).
	Partitions int
	// SubVectors is the number of PQ sub-vectors, i.e. code bytes per
	// row. It must divide the dimension.
	SubVectors int
	// Metric is the distance the model serves.
	Metric Metric
	// MaxIters bounds the Lloyd iterations of every k-means run.
	MaxIters int
	// SampleSize bounds the rows used for training; larger inputs are
	// sampled uniformly (seeded).
	SampleSize int
}

// Default search settings: the values zero SearchParams fields take. With
// DefaultParams they give recall@10 >= 0.95 against exact search on the
// clustered sets of recall_test.go (measured 0.999 at 100,000 x 128 and
// 0.991 at 62,000 x 1024).
const (
	// DefaultNProbes is the number of partitions scanned per search, as in
	// Lance. At sqrt(rows) partitions it scans ~20/sqrt(rows) of the rows
	// (8% at 62,000), which covers the partitions a query's neighbours
	// fall in even when its cluster is split across several.
	DefaultNProbes = 20
	// DefaultRefineFactor is how many ADC candidates per requested result
	// are re-ranked by exact distance when the caller supplies raw
	// vectors. On the recall sets, ADC with codes of dim/8 or dim/16 bytes
	// puts ~70% of the true top 10 in its own top 10, ~88% in its top 20
	// and >99% in its top 100; re-ranking 100 rows costs 100 exact
	// distances (30 µs at dim 1024).
	DefaultRefineFactor = 10
)

// Training defaults and bounds.
const (
	maxDefaultPartitions = 4096
	defaultMaxIters      = 10
	maxIters             = 1000
	// samplesPerCentroid is how many training rows per k-means centroid
	// the default sample holds, for the IVF (Partitions centroids) and for
	// each PQ codebook (256 centroids) alike.
	samplesPerCentroid = 32
)

// DefaultParams returns training parameters for rows vectors of dimension
// dim:
//
//   - Partitions ≈ sqrt(rows), at least 1, at most 4096 and at most rows:
//     each partition then holds ≈ sqrt(rows) rows, which balances ranking
//     the centroids against scanning the probed lists.
//   - SubVectors: sub-vectors of 8 dimensions up to dim 256 and of 16
//     above (the largest divisor of dim not above dim/8 resp. dim/16),
//     i.e. codes of dim/8 resp. dim/16 bytes. Training and encoding cost
//     the same for any SubVectors (256*dim multiply-adds per row); scans
//     cost SubVectors lookups per row; refinement recovers what the
//     coarser codes lose at high dimension.
//   - Metric L2.
//   - MaxIters 10, like Faiss's coarse quantizer: k-means stops earlier
//     once under 0.1% of the points move, and later iterations did not
//     change recall measurably.
//   - SampleSize 32 rows per centroid of the larger k-means (the IVF with
//     Partitions centroids, or a PQ codebook with 256), at most rows:
//     10,112 rows at 100,000 x 128 (1.2 s to train on 2 cores), 8,192 at
//     62,000 x 1024 (6 s). Training cost grows with SampleSize *
//     (Partitions + 256) * dim per iteration.
func DefaultParams(dim, rows int) Params {
	parts := int(math.Round(math.Sqrt(float64(max(rows, 1)))))
	parts = max(1, min(parts, maxDefaultPartitions, rows))
	return Params{
		Partitions: parts,
		SubVectors: defaultSubVectors(dim),
		Metric:     L2,
		MaxIters:   defaultMaxIters,
		SampleSize: max(1, min(rows, samplesPerCentroid*max(parts, codebookSize))),
	}
}

// defaultSubVectors returns the largest divisor of dim that is at most
// dim/8 (dim <= 256) or dim/16 (larger dim), and at least 1.
func defaultSubVectors(dim int) int {
	if dim <= 0 {
		return 1
	}
	sub := 8
	if dim > 256 {
		sub = 16
	}
	for m := max(dim/sub, 1); m > 1; m-- {
		if dim%m == 0 {
			return m
		}
	}
	return 1
}

// resolve fills the zero fields of p from DefaultParams(dim, rows) and
// validates the result.
func (p Params) resolve(dim, rows int) (Params, error) {
	d := DefaultParams(dim, rows)
	if p.Partitions == 0 {
		p.Partitions = d.Partitions
	}
	if p.SubVectors == 0 {
		p.SubVectors = d.SubVectors
	}
	if p.MaxIters == 0 {
		p.MaxIters = d.MaxIters
	}
	if p.SampleSize == 0 {
		p.SampleSize = d.SampleSize
	}
	switch {
	case !p.Metric.valid():
		return p, invalidf("unknown metric %d", uint8(p.Metric))
	case p.Partitions < 1 || p.Partitions > MaxPartitions:
		return p, invalidf("partitions = %d out of range [1, %d]", p.Partitions, MaxPartitions)
	case p.Partitions > rows:
		return p, invalidf("partitions = %d exceed the %d training rows", p.Partitions, rows)
	case p.SubVectors < 1 || p.SubVectors > dim || dim%p.SubVectors != 0:
		return p, invalidf("sub_vectors = %d must divide the dimension %d", p.SubVectors, dim)
	case p.MaxIters < 1 || p.MaxIters > maxIters:
		return p, invalidf("max_iters = %d out of range [1, %d]", p.MaxIters, maxIters)
	case p.SampleSize < 1:
		return p, invalidf("sample_size = %d must be positive", p.SampleSize)
	}
	return p, nil
}
