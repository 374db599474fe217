package lsm

// Training, storing and loading the IVF-PQ model of an ivf_pq index.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// trainSeed seeds every model training (reproducible models).
const trainSeed = 0x666c77

// openModel loads the trained model of v as the table opens. A stored
// model that cannot be used (corrupt, or of another dimension or metric)
// does not keep the table from opening: the index is searched exactly,
// and no other model is trained in its place (that needs the stored one
// removed).
func (x *tableIndexes) openModel(ctx context.Context, v *vecIndex) error {
	m, err := x.loadModel(ctx, v)
	if errors.Is(err, errModelUnusable) {
		v.unusable.Store(true)
		x.t.opts.Logger.Error("the stored ivf_pq model is unusable; searches stay exact until it is removed", "table", x.t.name, "index", v.def.Name, "key", v.modelKey(), "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if m != nil {
		v.model.Store(m)
	}
	return nil
}

func (v *vecIndex) modelKey() string { return path.Join(indexDir, v.def.Name+".model") }

// errModelUnusable marks a stored model that decodes to nothing usable.
var errModelUnusable = errors.New("unusable ivf_pq model")

// loadModel reads the stored model of v, or nil if none was trained yet.
func (x *tableIndexes) loadModel(ctx context.Context, v *vecIndex) (*vector.Model, error) {
	data, err := x.t.store.Get(ctx, v.modelKey())
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapStoreErr(fmt.Errorf("reading the model of index %q: %w", v.def.Name, err))
	}
	m, err := vector.UnmarshalModel(data)
	if err != nil {
		return nil, fmt.Errorf("%w: the model of index %q is unreadable: %w", errModelUnusable, v.def.Name, err)
	}
	if m.Dim() != v.dim || m.Metric() != v.metric {
		return nil, fmt.Errorf("%w: the model of index %q has dimension %d and metric %s, the index wants %d and %s", errModelUnusable, v.def.Name, m.Dim(), m.Metric(), v.dim, v.metric)
	}
	return m, nil
}

// noteRows records rows the indexers saw without a model and starts a
// training once the table holds train_after rows.
func (x *tableIndexes) noteRows(v *vecIndex, n int64) {
	seen := v.rowsSeen.Add(n)
	if seen >= v.trainAfter && seen >= 2*v.failedAt.Load() {
		x.maybeTrain(v)
	}
}

// maybeTrain starts the one training of v unless a model exists or a
// training runs.
func (x *tableIndexes) maybeTrain(v *vecIndex) {
	// The stop check and wg.Add happen under trainMu, which close takes to
	// close stop: a trainer either starts before close waits for the
	// trainers, or not at all.
	x.trainMu.Lock()
	defer x.trainMu.Unlock()
	if v.model.Load() != nil || v.unusable.Load() || x.stopped() || !v.training.CompareAndSwap(false, true) {
		return
	}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		defer v.training.Store(false)
		if err := x.train(v); err != nil {
			v.failedAt.Store(max(v.rowsSeen.Load(), 1))
			x.t.opts.Logger.Error("training the ivf_pq model failed; searches stay exact", "table", x.t.name, "index", v.def.Name, "err", err)
		}
	}()
}

// train samples the table's vectors, trains the model and stores it. A
// model stored meanwhile by another process wins: it is loaded instead.
func (x *tableIndexes) train(v *vecIndex) error {
	ctx := context.Background()
	if m, err := x.loadModel(ctx, v); err != nil || m != nil {
		if m != nil {
			x.setModel(v, m)
		}
		return err
	}
	want := max(vector.DefaultParams(v.dim, int(v.trainAfter)).SampleSize, 32*v.partitions, 256)
	// The indexers count rows as they are appended; a snapshot sees them
	// once durable, a moment later. Wait (a little) for a full sample.
	var sample []float32
	var n int
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		if sample, n, err = x.sampleVectors(ctx, v, want); err != nil {
			return err
		}
		if int64(n) >= min(int64(want), v.trainAfter) || time.Now().After(deadline) {
			break
		}
		select {
		case <-x.stop:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	if int64(n) < min(v.trainAfter, int64(v.partitions)) || n < v.partitions {
		return fmt.Errorf("only %d non-null vectors to train %d partitions", n, v.partitions)
	}
	if x.stopped() {
		return nil
	}
	m, err := vector.Train(sample, v.dim, vector.Params{Partitions: v.partitions, SubVectors: v.def.SubVectors, Metric: v.metric, SampleSize: n}, trainSeed)
	if err != nil {
		return err
	}
	data, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	if x.stopped() {
		return nil // the table closed (or was dropped): store nothing
	}
	err = x.t.store.PutIfAbsent(ctx, v.modelKey(), data)
	if errors.Is(err, objstore.ErrExists) {
		if m, err = x.loadModel(ctx, v); err != nil || m == nil {
			return fmt.Errorf("another writer stored a model that cannot be read: %v", err)
		}
	} else if err != nil {
		return wrapStoreErr(err)
	}
	x.t.opts.Logger.Info("trained ivf_pq model", "table", x.t.name, "index", v.def.Name, "rows", n, "partitions", m.Partitions(), "sub_vectors", m.SubVectors())
	x.setModel(v, m)
	return nil
}

// setModel publishes a model and wakes every indexer so that memtables and
// fragments get indexed with it.
func (x *tableIndexes) setModel(v *vecIndex, m *vector.Model) {
	v.model.Store(m)
	x.t.mu.Lock()
	regions := append([]*RegionWriter(nil), x.t.regions...)
	x.t.mu.Unlock()
	for _, r := range regions {
		r.indexKick.kick()
	}
	x.kick.kick()
}

// sampleVectors copies up to want non-null vectors of column v.col from a
// snapshot: memtables first, then flushed generations and the base table.
func (x *tableIndexes) sampleVectors(ctx context.Context, v *vecIndex, want int) ([]float32, int, error) {
	s := x.t.Snapshot()
	defer s.Release()
	if s.err != nil {
		return nil, 0, s.err
	}
	out := make([]float32, 0, want*v.dim)
	n := 0
	addArr := func(arr arrow.Array) error {
		vals, dim, err := vector.Float32Vectors(arr)
		if err != nil {
			return err
		}
		for i := 0; i < arr.Len() && n < want; i++ {
			row := vals[i*dim : (i+1)*dim]
			if arr.IsNull(i) || vector.CheckVectors(row, dim) != nil {
				continue
			}
			out = append(out, row...)
			n++
		}
		return nil
	}
	for _, rs := range s.regions {
		for _, mv := range rs.mems {
			for _, b := range mv.list {
				if n >= want || b.seq > rs.w {
					break
				}
				if b.op == OpUpsert {
					if err := addArr(b.rec.Column(v.col)); err != nil {
						return nil, 0, err
					}
				}
			}
		}
	}
	errEnough := errors.New("enough")
	scan := func(ds *lance.Dataset) error {
		if n >= want {
			return nil
		}
		err := ds.Scan(ctx, x.t.opts.Allocator, []string{v.def.Column}, scanBatchRows, func(_ lance.Fragment, _ uint64, rec arrow.RecordBatch) error {
			if err := addArr(rec.Column(0)); err != nil {
				return err
			}
			if n >= want {
				return errEnough
			}
			return nil
		})
		if errors.Is(err, errEnough) {
			return nil
		}
		return wrapStoreErr(err)
	}
	for _, rs := range s.regions {
		for _, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				return nil, 0, err
			}
			if err := scan(g.ds); err != nil {
				return nil, 0, err
			}
		}
	}
	if s.base != nil {
		if err := scan(s.base.ds); err != nil {
			return nil, 0, err
		}
	}
	return out, n, nil
}
