package lsm

// The ivf_pq index kind: vector indexes in memtables and Lance fragments
// (the model they encode with is trained in index_model.go).

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/vector"
)

const (
	// DefaultTrainAfter is the row count at which an ivf_pq index's model
	// is trained when the index does not say (train_after): 32 training
	// rows for each of DefaultPartitions centroids, which is also what the
	// PQ codebooks (256 codes each) want.
	DefaultTrainAfter = 8192
	// DefaultPartitions is the IVF partition count of a model when the
	// index does not say: train_after/32 (32 training rows per centroid),
	// at most 256. The model is trained once, early, and shared by the
	// whole table, so its partition count is sized for tables of about
	// 50,000 to 500,000 rows rather than for the rows seen at training.
	DefaultPartitions = 256
)

// ivfpqKind is the ivf_pq index kind: a vector column's IVF-PQ index.
type ivfpqKind struct{}

func (ivfpqKind) name() string { return "ivf_pq" }

func (ivfpqKind) hasParams(d IndexDef) bool {
	return d.Metric != "" || d.Partitions != 0 || d.SubVectors != 0 || d.TrainAfter != 0
}

func (ivfpqKind) validate(d IndexDef, col indexColumn) error {
	if d.Partitions < 0 || d.SubVectors < 0 || d.TrainAfter < 0 {
		return fmt.Errorf("%w: index %q: partitions, sub_vectors and train_after must not be negative", ErrInvalidArgument, d.Name)
	}
	switch d.Metric {
	case "", "l2", "cosine", "dot":
	default:
		return fmt.Errorf("%w: index %q: metric %q (want l2, cosine or dot)", ErrInvalidArgument, d.Name, d.Metric)
	}
	fsl, ok := col.field.Type.(*arrow.FixedSizeListType)
	if !ok {
		return fmt.Errorf("%w: ivf_pq index %q needs a fixed_size_list<float32> column, %q is %s", ErrInvalidArgument, d.Name, d.Column, col.field.Type)
	}
	if d.SubVectors > 0 && int(fsl.Len())%d.SubVectors != 0 {
		return fmt.Errorf("%w: ivf_pq index %q: sub_vectors = %d must divide the dimension %d", ErrInvalidArgument, d.Name, d.SubVectors, fsl.Len())
	}
	if d.Partitions > 4096 {
		return fmt.Errorf("%w: ivf_pq index %q: partitions = %d, at most 4096", ErrInvalidArgument, d.Name, d.Partitions)
	}
	if d.TrainAfter > 0 && d.Partitions > d.TrainAfter {
		return fmt.Errorf("%w: ivf_pq index %q: train_after = %d is below partitions = %d (k-means needs a row per partition)", ErrInvalidArgument, d.Name, d.TrainAfter, d.Partitions)
	}
	return nil
}

func (ivfpqKind) open(ctx context.Context, x *tableIndexes, d IndexDef, col indexColumn) (tableIndex, error) {
	fsl, ok := col.field.Type.(*arrow.FixedSizeListType)
	if !ok {
		return nil, fmt.Errorf("index %q: column %q is not a vector column", d.Name, d.Column)
	}
	m, err := vector.ParseMetric(d.Metric)
	if err != nil {
		return nil, fmt.Errorf("index %q: %w", d.Name, err)
	}
	v := &vecIndex{indexBase: indexBase{x: x, pos: len(x.vecs), def: d, col: col.pos}, dim: int(fsl.Len()), metric: m, trainAfter: int64(d.TrainAfter)}
	if v.trainAfter <= 0 {
		v.trainAfter = DefaultTrainAfter
	}
	v.partitions = d.Partitions
	if v.partitions <= 0 {
		v.partitions = int(min(max(v.trainAfter/32, 1), DefaultPartitions))
	}
	x.vecs = append(x.vecs, v)
	// The model first: the region indexers index replayed rows with it.
	return v, x.openModel(ctx, v)
}

// vecIndex is one ivf_pq index of the table (pos: in tableIndexes.vecs).
type vecIndex struct {
	indexBase
	dim        int
	metric     vector.Metric
	trainAfter int64
	partitions int

	model    atomic.Pointer[vector.Model]
	unusable atomic.Bool // the stored model cannot be used: searches stay exact
	training atomic.Bool
	rowsSeen atomic.Int64 // rows the indexers passed (a hint for training)
	failedAt atomic.Int64 // rowsSeen when a training attempt gave up
}

type memVec struct {
	ix    atomic.Pointer[vector.Index] // nil until the model exists
	bound atomic.Uint32                // positions below are indexed
	next  int                          // indexer: next batch to index
	seen  int                          // indexer: batches counted for training
}

func (v *vecIndex) newMem(mi *memIndexes) {
	if mi.vecs == nil {
		mi.vecs = make([]memVec, len(v.x.vecs))
	}
}

// indexMem brings a memtable's vector index up to list. Until the model
// exists it only counts the rows, for training.
func (v *vecIndex) indexMem(r *RegionWriter, mi *memIndexes, list []*memBatch) bool {
	mv := &mi.vecs[v.pos]
	model := v.model.Load()
	if model == nil {
		var n int64
		for ; mv.seen < len(list); mv.seen++ {
			if b := list[mv.seen]; b.op == OpUpsert {
				n += int64(b.rows()) - int64(b.rec.Column(v.col).NullN())
			}
		}
		if n > 0 {
			v.x.noteRows(v, n)
		}
		return true
	}
	ix := mv.ix.Load()
	if ix == nil {
		ix = vector.NewIndex(model)
		mv.ix.Store(ix)
		mv.next = 0
	}
	return r.indexBatches(list, &mv.next, &mv.bound, v.col, func(first uint32, part arrow.Array) { addVectors(ix, first, part) })
}

func (v *vecIndex) indexFragment(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment) error {
	_, err := v.x.fragVectors(ctx, ds, root, frag, v, true)
	return err
}

// indexedFragments starts the model training once the table holds
// train_after rows. After a failed attempt, it waits for the table to
// double first (as noteRows does), not retry on every flush.
func (v *vecIndex) indexedFragments(rows int64) {
	if v.model.Load() == nil && rows >= v.trainAfter && rows >= 2*v.failedAt.Load() {
		v.x.maybeTrain(v)
	}
}

func (v *vecIndex) status(mts []*MemTable) IndexStatus {
	s := IndexStatus{Name: v.def.Name, Type: v.def.Type}
	if md := v.model.Load(); md != nil {
		s.Trained, s.Partitions, s.SubVectors = true, md.Partitions(), md.SubVectors()
	}
	s.UnindexedRows = unindexedRows(mts, func(mi *memIndexes) uint32 { return mi.vecs[v.pos].bound.Load() })
	return s
}

// addVectors indexes arr at positions first.. . Rows the index refuses
// (NaN or infinite components) are left out, one by one: such a row has no
// meaningful distance, and exact search ranks it last anyway.
func addVectors(ix *vector.Index, first uint32, arr arrow.Array) {
	if ix.AddArrow(first, arr) == nil {
		return
	}
	vals, dim, err := vector.Float32Vectors(arr)
	if err != nil {
		return
	}
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			continue
		}
		_ = ix.Add(first+uint32(i), vals[i*dim:(i+1)*dim])
	}
}

// fragVectors returns the index of fragment frag of ds (root: the
// dataset's root in the table store) for v. With build false it only
// loads a sidecar (or returns nil, and the caller searches exactly); with
// build it builds and stores a missing or unusable one.
func (x *tableIndexes) fragVectors(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, v *vecIndex, build bool) (*vector.Index, error) {
	model := v.model.Load()
	if model == nil {
		return nil, nil
	}
	return fragSidecar(ctx, x, ds, root, frag, v.def, build, vecSidecar{model})
}

// vecSidecar is the sidecar of a fragment's vector index, encoded with
// model.
type vecSidecar struct{ model *vector.Model }

func (vecSidecar) ext() string                                     { return "ivfpq" }
func (vecSidecar) slot(e *fragIndex) *atomic.Pointer[vector.Index] { return &e.vec }

func (c vecSidecar) decode(data []byte, frag lance.Fragment) (*vector.Index, error) {
	ix := vector.NewIndex(c.model)
	if err := ix.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	if uint64(ix.NextPos()) > frag.PhysicalRows {
		// Positions past the fragment's rows: the sidecar is not this
		// fragment's (searching it would read keys and rows that do not
		// exist).
		return nil, fmt.Errorf("sidecar indexes positions up to %d, the fragment has %d rows", ix.NextPos(), frag.PhysicalRows)
	}
	return ix, nil
}

func (c vecSidecar) build(col arrow.Array) (*vector.Index, []byte, error) {
	ix := vector.NewIndex(c.model)
	addVectors(ix, 0, col)
	data, err := ix.MarshalBinary()
	return ix, data, err
}
