package lsm

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/fts"
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

// indexDir holds the models and, under each dataset root, the sidecars.
const indexDir = "_flightwal/index"

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
