package vector

import (
	"math/rand/v2"
	"slices"
	"sync"
)

// Model is a trained IVF-PQ quantizer: the IVF centroids, the PQ codebooks
// (trained on residuals, vector minus its IVF centroid), the metric and the
// dimension. It is immutable and safe for concurrent use; every Index of a
// column shares it.
//
// How each metric is served:
//
//   - L2: rows are assigned to the nearest centroid; codes quantize the
//     residual; ADC estimates |q - c - y|^2 exactly up to quantization.
//   - Cosine: vectors (rows and queries) are normalized first, then served
//     as L2 on the unit sphere, where |q - x|^2 = 2 - 2cos: the estimate is
//     halved to give 1 - cos. Zero vectors stay zero.
//   - Dot: rows are assigned and residuals taken in L2 (k-means geometry),
//     and -<q, x> = -<q, c> - <q, r> is estimated by ADC on the residual.
//     Partitions are probed in order of -<q, c>.
//
// Models come from Train or UnmarshalModel (or UnmarshalBinary into a
// new(Model)); the zero Model is not usable.
type Model struct {
	metric      Metric
	dim         int
	ivf         *centroids
	pq          *productQuantizer
	fingerprint uint64

	cache *modelCache // derived state, built on use; never serialized
}

// modelCache holds what a model derives on first use: the centroid tables
// and a pool of per-query search state (which is large: two lookup tables
// of SubVectors*256 floats). It sits behind a pointer so that a Model is a
// plain value.
type modelCache struct {
	tableBytes uint64 // the tables' memory budget: maxTableBytes (tests lower it)
	tablesOnce sync.Once
	tables     []float32
	scans      sync.Pool // *scan
}

// maxTableBytes bounds the memory of the per-partition centroid tables a
// model precomputes for L2 and cosine search (partitions * subVectors * 256
// floats). Above it, search builds each probed partition's table from
// scratch instead, which costs 256*dim multiply-adds per probe.
const maxTableBytes = 64 << 20

// Metric returns the metric the model serves.
func (m *Model) Metric() Metric { return m.metric }

// Dim returns the vector dimension.
func (m *Model) Dim() int { return m.dim }

// Partitions returns the number of IVF partitions.
func (m *Model) Partitions() int { return m.ivf.k }

// SubVectors returns the number of PQ sub-vectors (code bytes per row).
func (m *Model) SubVectors() int { return m.pq.m }

// Fingerprint identifies the model: a CRC-64 of its serialized form.
// Index sidecars record it, and loading one into an Index of another model
// fails with ErrModelMismatch.
func (m *Model) Fingerprint() uint64 { return m.fingerprint }

// Train learns a Model from rows vectors of dimension dim (row-major). Zero
// fields of params take DefaultParams(dim, rows). The seed fixes sampling
// and k-means, so the same inputs give the same model. Bad input (shape,
// NaN/Inf, parameters) wraps ErrInvalid.
//
// Cost: the IVF k-means is ~SampleSize*Partitions*dim multiply-adds per
// iteration and the PQ k-means ~SampleSize*256*dim; both run on GOMAXPROCS
// goroutines and iterate until at most MaxIters or convergence.
func Train(vectors []float32, dim int, params Params, seed int64) (*Model, error) {
	if err := CheckVectors(vectors, dim); err != nil {
		return nil, err
	}
	rows := len(vectors) / dim
	if rows == 0 {
		return nil, invalidf("no training vectors")
	}
	p, err := params.resolve(dim, rows)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x666c6967687477)) // "flightw"
	train := sampleRows(vectors, dim, rows, max(min(p.SampleSize, rows), p.Partitions), rng)
	n := len(train) / dim
	if p.Metric == Cosine {
		for i := range n {
			normalize(train[i*dim : (i+1)*dim])
		}
	}
	w := workers()
	ivf := newCentroids(p.Partitions, dim, kmeans(train, dim, p.Partitions, p.MaxIters, rng, w))
	// Residuals, in place.
	parallelFor(n, w, 256, func(_, lo, hi int) {
		scratch := make([]float32, ivf.k)
		for i := lo; i < hi; i++ {
			x := train[i*dim : (i+1)*dim]
			axpy(-1, ivf.row(ivf.nearest(x, scratch)), x)
		}
	})
	pq := trainPQ(train, n, dim, p.SubVectors, p.MaxIters, rng.Uint64(), w)
	return newModel(p.Metric, dim, ivf, pq), nil
}

// newModel assembles a model and computes its fingerprint.
func newModel(metric Metric, dim int, ivf *centroids, pq *productQuantizer) *Model {
	m := &Model{metric: metric, dim: dim, ivf: ivf, pq: pq, cache: &modelCache{tableBytes: maxTableBytes}}
	m.fingerprint = fingerprint(m.appendBinary(nil))
	return m
}

// sampleRows returns a copy of s rows of vectors chosen uniformly without
// replacement by rng (all rows, in order, when s >= rows). The chosen rows
// keep their input order.
func sampleRows(vectors []float32, dim, rows, s int, rng *rand.Rand) []float32 {
	if s >= rows {
		return slices.Clone(vectors[:rows*dim])
	}
	idx := make([]int32, rows)
	for i := range idx {
		idx[i] = int32(i)
	}
	for i := range s { // partial Fisher-Yates
		j := i + rng.IntN(rows-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	pick := idx[:s]
	slices.Sort(pick)
	out := make([]float32, s*dim)
	for i, r := range pick {
		copy(out[i*dim:(i+1)*dim], vectors[int(r)*dim:])
	}
	return out
}

// normalize scales v to unit length in place; a zero vector stays zero.
func normalize(v []float32) {
	if n := norm(v); n > 0 {
		inv := 1 / n
		for i := range v {
			v[i] *= inv
		}
	}
}

// encoder turns vectors into (partition, code) pairs. It holds scratch
// space and is used by one goroutine at a time.
type encoder struct {
	m    *Model
	x    []float32 // dim: the (normalized) vector, then its residual
	part []float32 // partitions: centroid distances
	sub  []float32 // 256: codeword distances
}

func (m *Model) newEncoder() *encoder {
	return &encoder{
		m:    m,
		x:    make([]float32, m.dim),
		part: make([]float32, m.ivf.k),
		sub:  make([]float32, codebookSize),
	}
}

// encode writes the PQ code of v into code (SubVectors bytes) and returns
// v's partition.
func (e *encoder) encode(v []float32, code []byte) int {
	x := e.x
	copy(x, v)
	if e.m.metric == Cosine {
		normalize(x)
	}
	p := e.m.ivf.nearest(x, e.part)
	axpy(-1, e.m.ivf.row(p), x)
	e.m.pq.encode(x, code, e.sub)
	return p
}

// centroidTables returns, for L2 and cosine models whose tables fit
// maxTableBytes, the precomputed centroidTable of every partition
// (partitions * subVectors * 256 floats, partition-major); nil otherwise.
// They are built on first use, once, on GOMAXPROCS goroutines.
func (m *Model) centroidTables() []float32 {
	if m.metric == Dot {
		return nil
	}
	per := m.pq.m * codebookSize
	if uint64(m.ivf.k)*uint64(per)*4 > m.cache.tableBytes {
		return nil
	}
	c := m.cache
	c.tablesOnce.Do(func() {
		t := make([]float32, m.ivf.k*per)
		parallelFor(m.ivf.k, workers(), 4, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				m.pq.centroidTable(m.ivf.row(p), t[p*per:(p+1)*per])
			}
		})
		c.tables = t
	})
	return c.tables
}
