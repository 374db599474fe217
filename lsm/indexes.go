package lsm

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// Search indexes (ivf_pq and fts) of a table.
//
// Every layer keeps its own index: a memtable indexes its published upsert
// batches asynchronously (the region's indexer goroutine), a Lance fragment
// (of a flushed generation or of the base table) gets an index built in the
// background after the flush or compaction that wrote it, cached per data
// file and persisted as a sidecar next to the dataset:
//
//	<dataset root>/_flightwal/index/<data file name>.<index name>.ivfpq|fts
//
// The IVF-PQ model (centroids and codebooks) is trained once per index, from
// a sample of the table's vectors once it holds train_after rows, and stored
// at <table>.lance/_flightwal/index/<index name>.model: every layer encodes
// with it. Until it exists, and for rows an index does not cover yet, search
// is exact. None of this is under _versions/ or data/, so Lance readers
// ignore it.
const (
	indexDir = "_flightwal/index"

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
	// trainSeed seeds every model training (reproducible models).
	trainSeed = 0x666c77
	// indexChunkRows bounds the vectors a memtable indexer adds at once.
	// Below 128 the vector package encodes on one goroutine (it splits
	// work in chunks of at least 64): the indexer then takes at most one
	// core and leaves the others to ingest, which it must not slow down.
	// Each chunk publishes a new bound, so readers also see progress
	// inside large batches.
	indexChunkRows = 127
)

// vecIndex is one ivf_pq index of the table.
type vecIndex struct {
	pos        int // in tableIndexes.vecs
	def        IndexDef
	col        int
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

// textIndex is one fts index of the table.
type textIndex struct {
	pos int // in tableIndexes.texts
	def IndexDef
	col int
	cfg fts.TokenizerConfig
}

// tableIndexes is the search-index state of a table.
type tableIndexes struct {
	t     *Table
	vecs  []*vecIndex
	texts []*textIndex

	mu    sync.Mutex
	frags map[string]*fragIndex // by dataset root, data file and index name

	kick kicker // wakes the fragment index builder
	stop chan struct{}
	done chan struct{}
	wg   sync.WaitGroup // model trainers
	// trainMu orders starting a trainer against close (see maybeTrain).
	trainMu sync.Mutex
}

// fragIndex is the cached index of one Lance fragment for one index.
type fragIndex struct {
	mu   sync.Mutex // one load or build at a time
	vec  atomic.Pointer[vector.Index]
	text atomic.Pointer[fts.Index]
	// noSidecar: a query found no usable vector sidecar. Later queries
	// search the fragment exactly without asking the store again, until
	// the builder stores the index in vec.
	noSidecar atomic.Bool
}

func newTableIndexes(t *Table) (*tableIndexes, error) {
	x := &tableIndexes{t: t, frags: map[string]*fragIndex{}, kick: newKicker(), stop: make(chan struct{}), done: make(chan struct{})}
	for _, d := range t.indexes {
		col := t.schema.FieldIndices(d.Column)
		if len(col) == 0 {
			return nil, fmt.Errorf("index %q: column %q is not in the table", d.Name, d.Column)
		}
		switch d.Type {
		case "ivf_pq":
			fsl, ok := t.schema.Field(col[0]).Type.(*arrow.FixedSizeListType)
			if !ok {
				return nil, fmt.Errorf("index %q: column %q is not a vector column", d.Name, d.Column)
			}
			m, err := vector.ParseMetric(d.Metric)
			if err != nil {
				return nil, fmt.Errorf("index %q: %w", d.Name, err)
			}
			v := &vecIndex{pos: len(x.vecs), def: d, col: col[0], dim: int(fsl.Len()), metric: m, trainAfter: int64(d.TrainAfter)}
			if v.trainAfter <= 0 {
				v.trainAfter = DefaultTrainAfter
			}
			v.partitions = d.Partitions
			if v.partitions <= 0 {
				v.partitions = int(min(max(v.trainAfter/32, 1), DefaultPartitions))
			}
			x.vecs = append(x.vecs, v)
		case "fts":
			cfg := fts.DefaultTokenizerConfig()
			if d.Stem != nil {
				cfg.Stem = *d.Stem
			}
			if d.StopWords != nil {
				cfg.StopWords = *d.StopWords
			}
			cfg = fts.NewIndex(cfg).Config() // normalized, as indexes report it
			x.texts = append(x.texts, &textIndex{pos: len(x.texts), def: d, col: col[0], cfg: cfg})
		}
	}
	return x, nil
}

// any reports whether the table has search indexes.
func (x *tableIndexes) any() bool { return len(x.vecs)+len(x.texts) > 0 }

// loadModels loads the trained models of the table's ivf_pq indexes. A
// stored model that cannot be used (corrupt, or of another dimension or
// metric) does not keep the table from opening: its index is searched
// exactly, and no other model is trained in its place (that needs the
// stored one removed).
func (x *tableIndexes) loadModels(ctx context.Context) error {
	for _, v := range x.vecs {
		m, err := x.loadModel(ctx, v)
		if errors.Is(err, errModelUnusable) {
			v.unusable.Store(true)
			x.t.opts.Logger.Error("the stored ivf_pq model is unusable; searches stay exact until it is removed", "table", x.t.name, "index", v.def.Name, "key", v.modelKey(), "err", err)
			continue
		}
		if err != nil {
			return err
		}
		if m != nil {
			v.model.Store(m)
		}
	}
	return nil
}

// start starts the fragment index builder.
func (x *tableIndexes) start() {
	go background(x.stop, x.kick, x.done, x.buildFragments)
	if x.any() {
		x.kick.kick()
	}
}

// close stops the builder and waits for running trainers.
func (x *tableIndexes) close() {
	x.trainMu.Lock()
	close(x.stop) // under trainMu: no trainer starts after this
	x.trainMu.Unlock()
	<-x.done
	x.wg.Wait()
}

func (x *tableIndexes) stopped() bool {
	select {
	case <-x.stop:
		return true
	default:
		return false
	}
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

// memIndexes are a memtable's search indexes, one per table index.
type memIndexes struct {
	vecs  []memVec
	texts []memText
}

type memVec struct {
	ix    atomic.Pointer[vector.Index] // nil until the model exists
	bound atomic.Uint32                // positions below are indexed
	next  int                          // indexer: next batch to index
	seen  int                          // indexer: batches counted for training
}

type memText struct {
	ix    *fts.Index
	bound atomic.Uint32
	next  int
}

func (x *tableIndexes) newMemIndexes() *memIndexes {
	if x == nil || !x.any() {
		return nil
	}
	mi := &memIndexes{vecs: make([]memVec, len(x.vecs)), texts: make([]memText, len(x.texts))}
	for i, ti := range x.texts {
		mi.texts[i].ix = fts.NewIndex(ti.cfg)
	}
	return mi
}

// indexMemTables is the body of a region's indexer goroutine: it indexes
// the published upsert batches of the region's memtables, in position
// order, and publishes each index's bound after the rows below it are in.
func (r *RegionWriter) indexMemTables() {
	x := r.tidx
	r.stateMu.RLock()
	var mts []*MemTable
	if r.state != nil {
		for _, m := range r.state.memtables {
			m.ref()
			mts = append(mts, m)
		}
	}
	r.stateMu.RUnlock()
	defer func() {
		for _, m := range mts {
			m.unref()
		}
	}()
	for i := len(mts) - 1; i >= 0; i-- { // oldest first
		m := mts[i]
		if m.idx == nil {
			continue
		}
		list := m.published()
		for vi, v := range x.vecs {
			if !r.indexVectors(m, list, v, &m.idx.vecs[vi]) {
				return
			}
		}
		for ti, tx := range x.texts {
			if !r.indexText(list, tx, &m.idx.texts[ti]) {
				return
			}
		}
	}
}

func (r *RegionWriter) closingNow() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

// indexVectors brings a memtable's vector index up to list; false if the
// region is closing.
func (r *RegionWriter) indexVectors(m *MemTable, list []*memBatch, v *vecIndex, mv *memVec) bool {
	model := v.model.Load()
	if model == nil {
		var n int64
		for ; mv.seen < len(list); mv.seen++ {
			if b := list[mv.seen]; b.op == OpUpsert {
				n += int64(b.rows()) - int64(b.rec.Column(v.col).NullN())
			}
		}
		if n > 0 {
			r.tidx.noteRows(v, n)
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

// indexBatches feeds the upsert batches of list from *next on to add, in
// chunks of indexChunkRows at their memtable positions, publishing the
// indexed bound after each chunk and pacing itself while writes arrive;
// false if the region is closing.
func (r *RegionWriter) indexBatches(list []*memBatch, next *int, bound *atomic.Uint32, col int, add func(first uint32, part arrow.Array)) bool {
	for ; *next < len(list); *next++ {
		if r.closingNow() {
			return false
		}
		b := list[*next]
		if b.op == OpUpsert {
			arr := b.rec.Column(col)
			for lo := 0; lo < b.rows(); lo += indexChunkRows {
				if r.closingNow() {
					return false
				}
				hi := min(lo+indexChunkRows, b.rows())
				part := array.NewSlice(arr, int64(lo), int64(hi))
				t0, seen := time.Now(), r.appends.Load()
				add(b.first+uint32(lo), part)
				part.Release()
				bound.Store(b.first + uint32(hi))
				r.yieldToWriters(t0, seen)
			}
		}
		bound.Store(b.first + uint32(b.rows()))
	}
	return true
}

// indexerRest is how long the indexer rests after each chunk, in units of
// the chunk's own time, while writes arrive.
const indexerRest = 4

// yieldToWriters paces the indexer while writes arrive: after a chunk
// that took d while the region took appends, it rests for indexerRest*d,
// so indexing takes at most a fifth of the time (of one or, when the
// vector encoder fans out, two cores) from ingest. Rows it has not reached
// are searched exactly meanwhile, and it catches up at full speed once
// writes pause. Without writes it runs flat out.
func (r *RegionWriter) yieldToWriters(start time.Time, appendsBefore uint64) {
	if r.appends.Load() == appendsBefore {
		runtime.Gosched()
		return
	}
	select {
	case <-r.closing:
	case <-time.After(indexerRest * time.Since(start)):
	}
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

// indexText brings a memtable's fts index up to list.
func (r *RegionWriter) indexText(list []*memBatch, tx *textIndex, mt *memText) bool {
	return r.indexBatches(list, &mt.next, &mt.bound, tx.col, func(first uint32, part arrow.Array) { _ = addTexts(mt.ix, first, part) })
}

// addTexts indexes the strings of arr at positions first.. (nulls are
// documents without text) and returns the first Add error, if any.
func addTexts(ix *fts.Index, first uint32, arr arrow.Array) error {
	type strs interface {
		arrow.Array
		Value(int) string
	}
	a, ok := arr.(strs)
	if !ok {
		return nil
	}
	var firstErr error
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			continue
		}
		if err := ix.Add(first+uint32(i), a.Value(i)); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// fragKey names a fragment's index in the cache.
func fragKey(root string, frag lance.Fragment, index string) string {
	f := ""
	if len(frag.Files) > 0 {
		f = frag.Files[0]
	}
	return root + "|" + f + "|" + index
}

// sidecarKey is where a fragment's index is persisted.
func sidecarKey(root string, frag lance.Fragment, index, ext string) string {
	f := fmt.Sprintf("frag-%d", frag.ID)
	if len(frag.Files) > 0 {
		f = path.Base(frag.Files[0])
	}
	return path.Join(root, indexDir, f+"."+index+"."+ext)
}

func (x *tableIndexes) fragEntry(key string) *fragIndex {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.frags[key]
	if !ok {
		e = &fragIndex{}
		x.frags[key] = e
	}
	return e
}

// allRows lists the row offsets of a fragment.
func allRows(frag lance.Fragment) []uint64 {
	rows := make([]uint64, frag.PhysicalRows)
	for i := range rows {
		rows[i] = uint64(i)
	}
	return rows
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
	e := x.fragEntry(fragKey(root, frag, v.def.Name))
	if ix := e.vec.Load(); ix != nil {
		return ix, nil
	}
	if build {
		e.mu.Lock()
	} else if e.noSidecar.Load() || !e.mu.TryLock() {
		return nil, nil // being built: search exactly meanwhile
	}
	ix, data, key, err := x.loadOrBuildVectors(ctx, ds, root, frag, v, model, e, build)
	e.mu.Unlock()
	if data != nil {
		// Persisted after the index is published and the entry unlocked:
		// a slow store never holds searches back.
		if err := x.t.store.Put(ctx, key, data); err != nil {
			x.t.opts.Logger.Warn("storing a vector index sidecar failed", "key", key, "err", err)
		}
	}
	return ix, err
}

// loadOrBuildVectors loads the sidecar into e or builds the index; data is
// the sidecar to store when it built one. e.mu is held.
func (x *tableIndexes) loadOrBuildVectors(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, v *vecIndex, model *vector.Model, e *fragIndex, build bool) (*vector.Index, []byte, string, error) {
	if ix := e.vec.Load(); ix != nil {
		return ix, nil, "", nil
	}
	key := sidecarKey(root, frag, v.def.Name, "ivfpq")
	data, err := x.t.store.Get(ctx, key)
	switch {
	case err == nil:
		ix := vector.NewIndex(model)
		uerr := ix.UnmarshalBinary(data)
		if uerr == nil && uint64(ix.NextPos()) > frag.PhysicalRows {
			// Positions past the fragment's rows: the sidecar is not
			// this fragment's (searching it would read keys and rows
			// that do not exist).
			uerr = fmt.Errorf("sidecar indexes positions up to %d, the fragment has %d rows", ix.NextPos(), frag.PhysicalRows)
		}
		if uerr == nil {
			e.vec.Store(ix)
			return ix, nil, "", nil
		} else if !build {
			e.noSidecar.Store(true)
			return nil, nil, "", nil
		} else {
			x.t.opts.Logger.Warn("rebuilding an unusable vector index sidecar", "key", key, "err", uerr)
		}
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, nil, "", wrapStoreErr(err)
	case !build:
		e.noSidecar.Store(true)
		return nil, nil, "", nil
	}
	rec, err := ds.Take(ctx, x.t.opts.Allocator, frag.ID, allRows(frag), []string{v.def.Column})
	if err != nil {
		return nil, nil, "", wrapStoreErr(fmt.Errorf("reading %s for indexing: %w", key, err))
	}
	ix := vector.NewIndex(model)
	addVectors(ix, 0, rec.Column(0))
	rec.Release()
	if data, err = ix.MarshalBinary(); err != nil {
		return nil, nil, "", err
	}
	e.vec.Store(ix)
	return ix, data, key, nil
}

// fragText returns the fts index of a fragment, loading its sidecar or
// building (and storing) it.
func (x *tableIndexes) fragText(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, tx *textIndex) (*fts.Index, error) {
	e := x.fragEntry(fragKey(root, frag, tx.def.Name))
	if ix := e.text.Load(); ix != nil {
		return ix, nil
	}
	e.mu.Lock()
	ix, data, key, err := x.loadOrBuildText(ctx, ds, root, frag, tx, e)
	e.mu.Unlock()
	if data != nil {
		if err := x.t.store.Put(ctx, key, data); err != nil {
			x.t.opts.Logger.Warn("storing an fts index sidecar failed", "key", key, "err", err)
		}
	}
	return ix, err
}

// loadOrBuildText loads the sidecar into e or builds the index; data is
// the sidecar to store when it built one. e.mu is held.
func (x *tableIndexes) loadOrBuildText(ctx context.Context, ds *lance.Dataset, root string, frag lance.Fragment, tx *textIndex, e *fragIndex) (*fts.Index, []byte, string, error) {
	if ix := e.text.Load(); ix != nil {
		return ix, nil, "", nil
	}
	key := sidecarKey(root, frag, tx.def.Name, "fts")
	data, err := x.t.store.Get(ctx, key)
	switch {
	case err == nil:
		ix, uerr := fts.UnmarshalIndex(data)
		switch {
		case uerr != nil:
		case ix.Config() != tx.cfg:
			uerr = fmt.Errorf("sidecar tokenizer %+v, the index wants %+v", ix.Config(), tx.cfg)
		case uint64(ix.Len()) > frag.PhysicalRows:
			uerr = fmt.Errorf("sidecar indexes positions up to %d, the fragment has %d rows", ix.Len(), frag.PhysicalRows)
		default:
			e.text.Store(ix)
			return ix, nil, "", nil
		}
		x.t.opts.Logger.Warn("rebuilding an unusable fts index sidecar", "key", key, "err", uerr)
	case !errors.Is(err, objstore.ErrNotFound):
		return nil, nil, "", wrapStoreErr(err)
	}
	rec, err := ds.Take(ctx, x.t.opts.Allocator, frag.ID, allRows(frag), []string{tx.def.Column})
	if err != nil {
		return nil, nil, "", wrapStoreErr(fmt.Errorf("reading %s for indexing: %w", key, err))
	}
	ix := fts.NewIndex(tx.cfg)
	addTexts(ix, 0, rec.Column(0))
	rec.Release()
	if data, err = ix.MarshalBinary(); err != nil {
		return nil, nil, "", err
	}
	e.text.Store(ix)
	return ix, data, key, nil
}

// buildFragments is the body of the fragment index builder: it indexes
// every fragment of the current generations and base table that lacks an
// index, drops cached indexes of fragments no longer in the table, and
// starts the model training once the flushed layers hold enough rows.
func (x *tableIndexes) buildFragments() {
	if !x.any() {
		return
	}
	ctx := context.Background()
	s := x.t.Snapshot()
	defer s.Release()
	if s.err != nil {
		return
	}
	type dsRef struct {
		ds   *lance.Dataset
		root string
	}
	var sets []dsRef
	var rows int64
	for _, rs := range s.regions {
		for _, mv := range rs.mems {
			rows += mv.m.Rows()
		}
		for _, g := range rs.gens {
			if err := g.load(ctx); err != nil {
				x.t.opts.Logger.Warn("index builder: loading a generation failed", "err", err)
				return
			}
			sets = append(sets, dsRef{g.ds, g.root})
			rows += g.ds.CountRows()
		}
	}
	if s.base != nil {
		sets = append(sets, dsRef{s.base.ds, ""})
		rows += s.base.ds.CountRows()
	}
	keep := map[string]bool{}
	for _, d := range sets {
		for _, f := range d.ds.Fragments() {
			for _, tx := range x.texts {
				if x.stopped() {
					return
				}
				keep[fragKey(d.root, f, tx.def.Name)] = true
				if _, err := x.fragText(ctx, d.ds, d.root, f, tx); err != nil {
					x.t.opts.Logger.Warn("index builder: fts index of a fragment failed", "err", err)
				}
			}
			for _, v := range x.vecs {
				if x.stopped() {
					return
				}
				keep[fragKey(d.root, f, v.def.Name)] = true
				if _, err := x.fragVectors(ctx, d.ds, d.root, f, v, true); err != nil {
					x.t.opts.Logger.Warn("index builder: vector index of a fragment failed", "err", err)
				}
			}
		}
	}
	x.mu.Lock()
	for k := range x.frags {
		if !keep[k] {
			delete(x.frags, k)
		}
	}
	x.mu.Unlock()
	for _, v := range x.vecs {
		// After a failed attempt, wait for the table to double first (as
		// noteRows does), not retry on every flush.
		if v.model.Load() == nil && rows >= v.trainAfter && rows >= 2*v.failedAt.Load() {
			x.maybeTrain(v)
		}
	}
}
