// Package vector is flightwal's approximate nearest-neighbour engine:
// IVF-PQ (an inverted file of k-means partitions whose rows are encoded by a
// product quantizer and ranked by asymmetric distance computation, ADC),
// exact (flat) search, and the top-k heap callers use to merge results from
// several layers.
//
// The package never sees tables, regions or files. Callers hand it vectors
// (row-major []float32, or Arrow fixed_size_list<float32> arrays) together
// with row positions, and get row positions back.
//
// # Pieces
//
//   - Metric and the distance kernels (kernels.go): L2, Cosine, Dot.
//   - Train builds a Model: IVF centroids from k-means, PQ codebooks from
//     k-means on residuals. A Model is immutable and shared by every Index
//     built from it; it serializes with MarshalBinary.
//   - Index holds one layer's rows (a memtable, a flushed generation) as
//     partition lists of (position, PQ code). It grows by Add while readers
//     Search it: one writer, many lock-free readers. It serializes as the
//     sidecar of a flushed layer.
//   - FlatSearch is exact search over raw vectors; TopK merges candidates.
//
// # Distances
//
// Every distance is "smaller is nearer", as in Lance:
//
//   - L2: squared Euclidean distance, sum((a-b)^2) (no square root, like
//     Lance's _distance for metric "l2").
//   - Cosine: 1 - cos(a, b), in [0, 2]. A zero vector has distance 1 to all.
//   - Dot: -dot(a, b), so that larger inner products rank first.
//
// Without refinement, Index.Search reports ADC estimates of these distances;
// with refinement (SearchParams.Exact set) the reported distances are exact
// and identical, bit for bit, to FlatSearch's.
//
// # Concurrency
//
// A Model and the package-level functions are safe for concurrent use; a
// TopK is not. An Index allows one Add at a time (Add serializes itself)
// concurrently with any number of Search, Len and MarshalBinary calls; see
// postings.go for the publish order that makes this safe.
package vector
