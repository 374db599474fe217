package lsm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// Table is one opened table: its schema, primary key and regions.
type Table struct {
	db      *DB
	name    string
	store   objstore.Store // rooted at <name>.lance
	schema  *arrow.Schema
	pkCol   int // -1: append-only
	kt      keyType
	allCols []int // 0..n-1: the projection of a query without columns
	indexes []IndexDef
	opts    *Options
	ingest  *ingestCounters // this name's ingest counters (metrics.go)

	base atomic.Pointer[baseLayer] // newest base table version

	compactMu   sync.Mutex // one compaction at a time
	compactKick kicker
	compactStop chan struct{} // also stops the refresher
	compactDone chan struct{}
	refreshDone chan struct{}

	idx *tableIndexes // search indexes (ivf_pq, fts)

	layout regionLayout // region names and key routing (sharding.go)

	// Lock order: claimMu, then mu, then a RegionWriter's locks.
	//
	// claimMu serialises claiming and reopening regions (slow: it writes
	// region manifests and replays WAL entries); mu guards the regions
	// slice and closed, and is only held for moments, so snapshots never
	// wait for a claim.
	claimMu sync.Mutex
	mu      sync.Mutex
	regions []*RegionWriter
	closed  bool

	// dropped: DropTable closed the table to delete it. Requests that
	// still hold it answer NotFound, not "closed".
	dropped atomic.Bool

	nextStreamRegion atomic.Uint64 // append-only tables: regions per stream, round robin

	// writeErr: the Lance writer can't store this table (servable.go):
	// every write is refused before anything is made durable.
	writeErr *FormatError
	// unservable: a read found a Lance file this server can't read; from
	// then on every request answers it (DB.Table).
	unservable atomic.Pointer[FormatError]
}

func openTable(ctx context.Context, db *DB, name string, ds *lance.Dataset) (*Table, error) {
	cfg := ds.Config()
	n, err := strconv.Atoi(cfg[configRegions])
	if err != nil || n < 1 || n > MaxRegions {
		n = 1
	}
	schema, pkCol, err := normalizeSchema(ds.Schema(), cfg[configPrimaryKey])
	if err != nil {
		// A dataset another writer made: a format question.
		return nil, &FormatError{Table: name, Schema: ds.Schema(), Err: fmt.Errorf("%w: schema: %v", ErrUnsupported, err)}
	}
	t := &Table{db: db, name: name, store: objstore.Prefixed(db.store, tableRoot(name)), schema: schema, pkCol: pkCol, opts: &db.opts, ingest: db.opts.metrics.table(name)}
	if pkCol >= 0 {
		t.kt, _ = pkKeyType(schema.Field(pkCol).Type)
	}
	for i := range schema.Fields() {
		t.allCols = append(t.allCols, i)
	}
	if v := ds.DataStorageVersion(); !writable(v) {
		t.writeErr = &FormatError{Table: name, Schema: schema, Write: true, Err: fmt.Errorf(
			"%w: its data storage version %q is read-only here (flightwal writes 2.0, 2.1 and 2.2; legacy 0.x datasets are read-only)", ErrUnsupported, v)}
	} else if err := probeWrite(ctx, schema, v); err != nil {
		if !isFormatErr(err) {
			err = fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		t.writeErr = &FormatError{Table: name, Schema: schema, Write: true, Err: err}
	}
	if s := cfg[configIndexes]; s != "" {
		if t.indexes, err = decodeIndexConfig(s); err != nil {
			return nil, fmt.Errorf("table %q: %w", name, err)
		}
	}
	if t.layout, err = openLayout(ctx, t.store, ds, schema, pkCol, n); err != nil {
		return nil, fmt.Errorf("table %q: %w", name, err)
	}
	base := newBaseLayer(ds)
	t.base.Store(base)
	if t.idx, err = newTableIndexes(ctx, t); err != nil {
		return nil, fmt.Errorf("table %q: %w", name, err)
	}
	t.removeOrphanTemp(ctx)
	t.compactKick, t.compactStop, t.compactDone = newKicker(), make(chan struct{}), make(chan struct{})
	t.regions = make([]*RegionWriter, t.layout.n)
	for i := range t.regions {
		// Opened for reading: nothing is written until the first write
		// claims the region (Table.region), so read-only storage serves
		// reads.
		r, err := openRegion(ctx, t.store, t.layout.ident(i), schema, pkCol, t.opts, base.merged(t.layout.ident(i)), t.afterFlush, t.idx, false)
		if err != nil {
			for _, o := range t.regions[:i] {
				o.Close()
			}
			return nil, fmt.Errorf("table %q: opening region %d: %w", name, i, err)
		}
		t.regions[i] = r
	}
	go background(t.compactStop, t.compactKick, t.compactDone, t.maybeCompact)
	t.refreshDone = make(chan struct{})
	go t.refreshLoop(t.compactStop, t.refreshDone)
	t.idx.start()
	return t, nil
}

// orphanTempAge is how long ago a temporary file under _mem_wal/ must have
// been written for an open to remove it. A local store writes each object
// to a temporary file and links it into place; a killed process leaves the
// file behind. Another live process may be writing into the same
// directories (a server this open is about to fence): its temporary files
// live for one put, written just before they are synced and linked, so
// they are never this old, and removing one would only fail a write that
// the fence fails anyway.
const orphanTempAge = time.Minute

// removeOrphanTemp removes the temporary files killed processes left in
// the table's _mem_wal/ (local stores only; S3 has none). A failure is
// logged: it costs disk space, not correctness.
func (t *Table) removeOrphanTemp(ctx context.Context) {
	n, err := objstore.RemoveTemp(ctx, t.store, "_mem_wal/", orphanTempAge)
	if err != nil {
		t.opts.Logger.Warn("removing orphaned temporary files", "table", t.name, "err", err)
	}
	if n > 0 {
		t.opts.Logger.Info("removed orphaned temporary files", "table", t.name, "files", n)
	}
}

// afterFlush runs after each flush: compaction may be due, and the new
// generation's fragments get their search indexes.
func (t *Table) afterFlush() {
	t.kickCompact()
	t.idx.kick.kick()
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Schema is the table's Arrow schema (primary key marked with Lance's metadata).
func (t *Table) Schema() *arrow.Schema { return t.schema }

// PrimaryKey names the primary-key column, or "" for append-only tables.
func (t *Table) PrimaryKey() string {
	if t.pkCol < 0 {
		return ""
	}
	return t.schema.Field(t.pkCol).Name
}

// NumRegions is the number of write partitions.
func (t *Table) NumRegions() int { return len(t.regions) }

// Indexes lists the declared indexes.
func (t *Table) Indexes() []IndexDef { return t.indexes }

// region returns region i. With write set it is claimed by this process
// first (claimed in place when it was opened for reading, reopened when
// another writer moved its manifest since). A region that failed is
// reopened; one that was fenced stays fenced: another server owns it.
func (t *Table) region(ctx context.Context, i int, write bool) (*RegionWriter, error) {
	r, err := t.current(i)
	if err != nil {
		return nil, err
	}
	if ready, err := regionReady(r, write); ready {
		return r, err
	}
	t.claimMu.Lock()
	defer t.claimMu.Unlock()
	if r, err = t.current(i); err != nil { // another caller may have claimed it
		return nil, err
	}
	ready, err := regionReady(r, write)
	if ready {
		return r, err
	}
	if err == nil {
		ok, cerr := r.claimInPlace(ctx)
		switch {
		case ok:
			return r, nil
		case cerr != nil && r.Failure() == nil: // nothing claimed
			return nil, fmt.Errorf("claiming region %d of %q: %w", i, t.name, cerr)
		case cerr != nil:
			err = cerr // claimed, but the catch-up failed: reopen
		default:
			err = fmt.Errorf("region %d was written elsewhere since it was opened", i)
		}
	}
	// The old region serves reads until its successor is in place.
	nr, oerr := openRegion(ctx, t.store, t.layout.ident(i), t.schema, t.pkCol, t.opts, t.base.Load().merged(t.layout.ident(i)), t.afterFlush, t.idx, write)
	if oerr != nil {
		return nil, fmt.Errorf("reopening region %d of %q after %v: %w", i, t.name, err, oerr)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		nr.Close()
		return nil, fmt.Errorf("%w: table %q", ErrClosed, t.name)
	}
	t.regions[i] = nr
	t.mu.Unlock()
	r.Close()
	t.opts.Logger.Warn("reopened region", "table", t.name, "region", i, "cause", err)
	return nr, nil
}

// current is region i as it is now.
func (t *Table) current(i int) (*RegionWriter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, t.closedErr()
	}
	return t.regions[i], nil
}

// regionReady says whether r can be used as it is: it has not failed
// and, for a write, is claimed. A fenced region is ready with its error.
func regionReady(r *RegionWriter, write bool) (bool, error) {
	err := r.Failure()
	switch {
	case errors.Is(err, ErrFenced):
		return true, err
	case err != nil:
		return false, err
	}
	return !write || r.Writing(), nil
}

// dataStorageVersion is the Lance data file format of the table's files
// (the base's): flushed generations and compaction write it.
func (t *Table) dataStorageVersion() lance.DataStorageVersion {
	return t.base.Load().ds.DataStorageVersion()
}

// Unservable returns the *FormatError of a table a read found it can't
// serve, or nil.
func (t *Table) Unservable() error {
	if e := t.unservable.Load(); e != nil {
		return e
	}
	return nil
}

// WriteRefused returns the *FormatError of a table whose rows the Lance
// writer can't store (only reads are served), or nil.
func (t *Table) WriteRefused() error {
	if t.writeErr != nil {
		return t.writeErr
	}
	return nil
}

// formatFailed records a format error a read of the table's Lance files
// returned: from then on the table answers it. It returns err, or the
// *FormatError wrapping it.
func (t *Table) formatFailed(err error) error {
	if !isFormatErr(err) || t.dropped.Load() {
		return err
	}
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	fe = &FormatError{Table: t.name, Schema: t.schema, Err: err}
	if t.unservable.CompareAndSwap(nil, fe) {
		t.opts.Logger.Warn("table can't be served", "table", t.name, "err", err)
	}
	return t.unservable.Load()
}

// closedErr is the error of a request on the closed table: NotFound if
// it was dropped, else ErrClosed (the server is shutting down).
func (t *Table) closedErr() error {
	if t.dropped.Load() {
		return fmt.Errorf("%w: table %q was dropped", ErrNotFound, t.name)
	}
	return fmt.Errorf("%w: table %q", ErrClosed, t.name)
}

func (t *Table) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	close(t.compactStop)
	t.mu.Unlock()
	<-t.compactDone // a running compaction finishes first
	<-t.refreshDone
	t.idx.close()    // index builder and model trainers
	t.claimMu.Lock() // no claim or reopen is half done
	defer t.claimMu.Unlock()
	t.mu.Lock()
	for _, r := range t.regions {
		r.Close()
	}
}

// WriteResult says where a batch went: the sequence number each touched
// region gave it.
type WriteResult struct {
	Rows    int64
	Regions map[int]uint64
	// writers are the region writers that took the parts: durability is
	// awaited on them, never on a writer that replaced one after a failure
	// (its sequence numbers are unrelated to ours).
	writers map[int]*RegionWriter
}

// Writer takes the batches of one DoPut stream.
type Writer struct {
	t      *Table
	op     Op
	plan   *streamPlan
	region int // append-only tables: the stream's region
}

// NewWriter checks a stream's schema against the table. Delete streams carry
// only the primary-key column.
func (t *Table) NewWriter(streamSchema *arrow.Schema, op Op) (*Writer, error) {
	if err := t.Unservable(); err != nil {
		return nil, err
	}
	if t.writeErr != nil {
		return nil, t.writeErr
	}
	want := t.schema
	if op == OpDelete {
		if t.pkCol < 0 {
			return nil, fmt.Errorf("%w: table %q has no primary key: delete needs one", ErrInvalidArgument, t.name)
		}
		want = wal.KeySchema(t.schema, t.pkCol)
	}
	plan, err := planStream(want, streamSchema, t.PrimaryKey())
	if err != nil {
		return nil, err
	}
	if t.dataStorageVersion() == lance.Version20 {
		plan.noNullStructs = structColumns(want)
	}
	w := &Writer{t: t, op: op, plan: plan}
	if t.pkCol < 0 {
		w.region = int(t.nextStreamRegion.Add(1)-1) % len(t.regions)
	}
	return w, nil
}

// Write validates one batch and appends it to its regions. Nothing is
// appended unless the whole batch is valid (invariant 7).
func (w *Writer) Write(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch) (WriteResult, error) {
	res, err := w.write(ctx, mem, rec)
	if err == nil && rec.NumRows() > 0 {
		w.t.opts.metrics.ingest(w.t.ingest, rec.NumRows(), int64(util.TotalRecordSize(rec)))
	}
	return res, err
}

func (w *Writer) write(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch) (WriteResult, error) {
	res := WriteResult{Rows: rec.NumRows(), Regions: map[int]uint64{}, writers: map[int]*RegionWriter{}}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if rec.NumRows() == 0 {
		return res, nil
	}
	if err := wal.ValidateBatch(rec); err != nil {
		return res, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	rec, err := w.plan.apply(rec)
	if err != nil {
		return res, err
	}
	defer rec.Release()
	if w.t.pkCol < 0 {
		return res, w.appendTo(ctx, w.region, rec, &res)
	}
	pkIdx := w.t.pkCol
	if w.op == OpDelete {
		pkIdx = 0
	}
	col := rec.Column(pkIdx)
	if err := checkKeys(col, w.t.PrimaryKey()); err != nil {
		return res, err
	}
	n := len(w.t.regions)
	if n == 1 {
		return res, w.appendTo(ctx, 0, rec, &res)
	}
	parts, err := splitByRegion(ctx, mem, rec, col, w.t.layout, w.t.kt)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, p := range parts {
			if p != nil {
				p.Release()
			}
		}
	}()
	for i, p := range parts {
		if p == nil {
			continue
		}
		// A batch spanning regions is not atomic across them: if a later
		// region fails, earlier parts stay. Upserts and deletes are
		// idempotent, so the client's retry converges.
		if err := w.appendTo(ctx, i, p, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (w *Writer) appendTo(ctx context.Context, region int, rec arrow.RecordBatch, res *WriteResult) error {
	r, err := w.t.region(ctx, region, true)
	if err != nil {
		return err
	}
	seq, err := r.Append(ctx, rec, w.op)
	if err != nil {
		return err
	}
	res.Regions[region] = seq
	res.writers[region] = r
	return nil
}

// WaitDurable waits until every part of a written batch is durable.
func (t *Table) WaitDurable(ctx context.Context, res WriteResult) error {
	for _, r := range res.writers {
		r.Kick()
	}
	for i, seq := range res.Regions {
		if err := res.writers[i].WaitDurable(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// splitByRegion routes each row to its region: the bucket the table's
// MemWAL spec gives its key (hash(pk) mod regions in a legacy layout).
func splitByRegion(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, col arrow.Array, l regionLayout, kt keyType) ([]arrow.RecordBatch, error) {
	n := l.n
	idx := make([][]int32, n)
	if l.legacy {
		read := keyReader(col)
		for i := 0; i < col.Len(); i++ {
			r := kt.hash(read(i)) % uint64(n)
			idx[r] = append(idx[r], int32(i))
		}
	} else {
		regions, err := l.spec.route(col)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		for i, r := range regions {
			idx[r] = append(idx[r], int32(i))
		}
	}
	parts := make([]arrow.RecordBatch, n)
	for r, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		p, err := takeRows(ctx, mem, rec, rows)
		if err != nil {
			for _, q := range parts {
				if q != nil {
					q.Release()
				}
			}
			return nil, err
		}
		parts[r] = p
	}
	return parts, nil
}

// takeRows copies the given rows of rec into a new batch.
func takeRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, rows []int32) (arrow.RecordBatch, error) {
	b := array.NewInt32Builder(mem)
	b.AppendValues(rows, nil)
	indices := b.NewArray()
	b.Release()
	defer indices.Release()
	ctx = compute.WithAllocator(ctx, mem)
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(indices))
	if err != nil {
		return nil, err
	}
	return out.(*compute.RecordDatum).Value, nil
}

// Freeze freezes the active memtable of one region (region >= 0) or all.
func (t *Table) Freeze(ctx context.Context, region int) ([]RegionFreeze, error) {
	if region >= len(t.regions) {
		return nil, fmt.Errorf("%w: table %q has %d regions, no region %d", ErrNotFound, t.name, len(t.regions), region)
	}
	var out []RegionFreeze
	for i := range t.regions {
		if region >= 0 && i != region {
			continue
		}
		r, err := t.region(ctx, i, true)
		if err != nil {
			return nil, err
		}
		m, gen := r.Freeze()
		f := RegionFreeze{Region: i, ActiveGeneration: gen}
		if m != nil {
			f.FrozenRows = m.Rows()
			f.FrozenGeneration = m.Generation()
		}
		out = append(out, f)
	}
	return out, nil
}

// RegionFreeze reports one region's freeze.
type RegionFreeze struct {
	Region           int
	ActiveGeneration uint64
	FrozenGeneration uint64
	FrozenRows       int64
}

// Sync waits until everything appended so far is durable and returns the
// durable watermark of each region.
func (t *Table) Sync(ctx context.Context) (map[int]uint64, error) {
	res := WriteResult{Regions: map[int]uint64{}, writers: map[int]*RegionWriter{}}
	for i := range t.regions {
		r, err := t.region(ctx, i, false)
		if err != nil {
			return nil, err
		}
		res.Regions[i], res.writers[i] = r.LastSeq(), r
	}
	if err := t.WaitDurable(ctx, res); err != nil {
		return nil, err
	}
	return res.Regions, nil
}

// Flush freezes the active memtable of one region (region >= 0) or all, and
// writes every frozen memtable as a flushed generation, waiting for them.
func (t *Table) Flush(ctx context.Context, region int) ([]FlushedGeneration, error) {
	if region >= len(t.regions) {
		return nil, fmt.Errorf("%w: table %q has %d regions, no region %d", ErrNotFound, t.name, len(t.regions), region)
	}
	out := []FlushedGeneration{}
	for i := range t.regions {
		if region >= 0 && i != region {
			continue
		}
		r, err := t.region(ctx, i, true)
		if err != nil {
			return out, err
		}
		gens, err := r.flushAll(ctx)
		out = append(out, gens...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
