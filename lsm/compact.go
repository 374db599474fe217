package lsm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// CompactResult reports a compaction.
type CompactResult struct {
	BaseVersion    uint64
	Generations    map[int][]uint64
	RowsWritten    int64
	RowsDeleted    int64
	BytesWritten   int64
	FragmentsAdded int
	// Rebases counts how often the commit was rebased on other Lance
	// writers' commits; Retries how often the whole compaction was redone
	// on the latest version after a conflict rebasing could not resolve.
	Rebases int
	Retries int
}

// compactAttempts bounds how often one compaction is redone after a
// retryable conflict (Lance's "retryable": another writer rewrote or
// deleted from a fragment this one deletes from).
const compactAttempts = 4

// Compact merges every flushed generation into the base Lance table in one
// commit: newest rows become a new fragment, and the rows they supersede or
// delete in existing fragments are masked with deletion files. Only after
// that commit are the generations retired from the region manifests (and
// their files removed once no reader holds them). The commit records the
// highest generation merged per region, so a crash between the two steps
// never merges a generation twice.
func (t *Table) Compact(ctx context.Context) (CompactResult, error) {
	if err := t.Unservable(); err != nil {
		return CompactResult{}, err
	}
	start := time.Now()
	res, err := t.compact(ctx)
	err = t.formatFailed(err)
	if err == nil && len(res.Generations) > 0 {
		t.opts.metrics.compacted(time.Since(start))
	}
	return res, err
}

func (t *Table) compact(ctx context.Context) (CompactResult, error) {
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	for attempt := 0; ; attempt++ {
		res, err := t.compactOnce(ctx)
		res.Retries = attempt
		var ce *lance.ConflictError
		if !errors.As(err, &ce) {
			t.opts.metrics.compactEnded(attempt, false)
			return res, err
		}
		if !ce.Retryable || attempt+1 == compactAttempts {
			t.opts.metrics.compactEnded(attempt, true)
			return res, fmt.Errorf("%w: compacting %q (attempt %d): %w", ErrConflict, t.name, attempt+1, err)
		}
		t.opts.Logger.Info("compaction conflicts with another writer's commit; redoing it on the latest version", "table", t.name, "conflict", err)
	}
}

// compactOnce compacts onto the base table's latest version.
func (t *Table) compactOnce(ctx context.Context) (CompactResult, error) {
	base, err := t.refreshBase(ctx)
	if err != nil {
		return CompactResult{Generations: map[int][]uint64{}}, err
	}
	res := CompactResult{BaseVersion: base.ds.Version(), Generations: map[int][]uint64{}}

	t.mu.Lock()
	regions := append([]*RegionWriter(nil), t.regions...)
	t.mu.Unlock()
	// Generations to merge, oldest first per region, skipping any that an
	// earlier compaction already merged.
	gens := make([][]*Generation, len(regions))
	total := 0
	for i, r := range regions {
		merged := base.merged(r.ident)
		for _, g := range r.generations() {
			if g.number <= merged {
				g.unref()
				continue
			}
			gens[i] = append(gens[i], g)
			res.Generations[i] = append(res.Generations[i], g.number)
			total++
		}
	}
	if total == 0 {
		return res, t.retire(ctx, base)
	}
	defer func() {
		for _, gs := range gens {
			for _, g := range gs {
				g.unref()
			}
		}
	}()
	if err := base.load(ctx, t); err != nil {
		return res, err
	}

	recs, deletions, keys, err := t.mergeGenerations(ctx, base, gens)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if err != nil {
		return res, err
	}
	tx := lance.Transaction{Deletions: deletions, Config: map[string]string{}, Rebase: t.rebaser(base.ds, keys)}
	for i, gs := range gens {
		if len(gs) > 0 {
			tx.Config[regions[i].ident.mergedKey()] = strconv.FormatUint(gs[len(gs)-1].number, 10)
		}
	}
	if t.layout.indexed {
		// Lance's record of the same, which LanceDB's readers and
		// compactors go by: compacted_sstables of the MemWAL index.
		tx.UpdateMemWalIndex(func(det *tablepb.MemWalIndexDetails) error {
			for i, gs := range gens {
				if id := regions[i].ident.uuid; len(gs) > 0 && id != nil {
					setCompacted(det, id, gs[len(gs)-1].number)
				}
			}
			return nil
		})
	}
	for _, r := range recs {
		res.RowsWritten += r.NumRows()
	}
	for _, rows := range deletions {
		res.RowsDeleted += int64(len(rows))
	}
	if res.RowsWritten > 0 {
		nf, err := base.ds.WriteFragment(ctx, t.db.store, t.schema, recs) // in the dataset's data storage version
		if err != nil {
			return res, wrapStoreErr(fmt.Errorf("compacting %q: writing fragment: %w", t.name, err))
		}
		tx.NewFragments = []lance.NewFragment{nf}
		res.FragmentsAdded = 1
		res.BytesWritten = int64(nf.SizeBytes)
	}
	next, err := base.ds.Commit(ctx, t.db.store, tx)
	var ce *lance.ConflictError
	if errors.As(err, &ce) {
		return res, err // compact redoes or reports it
	}
	if err != nil {
		return res, wrapStoreErr(fmt.Errorf("compacting %q: commit: %w", t.name, err))
	}
	res.Rebases = next.Rebases()
	t.opts.metrics.rebased(next.Rebases())
	nb := newBaseLayer(next)
	// Publish the new base before retiring: see Table.Snapshot.
	t.publishBase(nb)
	res.BaseVersion = next.Version()
	return res, t.retire(ctx, nb)
}

// retire removes from each region the generations the base holds. A
// region that holds none is left alone (and unclaimed if it was opened for
// reading); one that does is claimed first: its manifest changes.
func (t *Table) retire(ctx context.Context, base *baseLayer) error {
	for i := range t.NumRegions() {
		t.mu.Lock()
		r := t.regions[i]
		t.mu.Unlock()
		if !r.holdsGenerationsUpTo(base.merged(r.ident)) {
			continue
		}
		r, err := t.region(ctx, i, true)
		if err == nil {
			err = r.retireGenerations(ctx, base.merged(r.ident))
		}
		if err != nil {
			return fmt.Errorf("compacting %q: retiring generations of region %d: %w", t.name, i, err)
		}
	}
	return nil
}

// mergeGenerations computes the newest version of every key across the
// generations (a later generation wins) and returns the rows to append and
// the base rows to mask.
func (t *Table) mergeGenerations(ctx context.Context, base *baseLayer, gens [][]*Generation) ([]arrow.RecordBatch, map[uint64][]uint32, map[Key]struct{}, error) {
	deletions := map[uint64][]uint32{}
	var recs []arrow.RecordBatch
	fail := func(err error) ([]arrow.RecordBatch, map[uint64][]uint32, map[Key]struct{}, error) {
		for _, r := range recs {
			r.Release()
		}
		return nil, nil, nil, err
	}
	keySet := map[Key]struct{}{} // every key the generations hold, tombstones included
	dead := map[uint64]*roaring.Bitmap{}
	for _, gs := range gens {
		// The region's generations as a stack, newest first: the rule of
		// layers.go picks the rows that survive, and the base rows their
		// keys shadow. Regions hold disjoint keys, so each merges on its
		// own.
		rs := &regionSnap{gens: make([]*Generation, len(gs))}
		for gi, g := range gs {
			if err := g.load(ctx); err != nil {
				return fail(err)
			}
			rs.gens[len(gs)-1-gi] = g
		}
		if t.pkCol >= 0 {
			var keys [][]Key
			for li := range rs.layers() {
				keys = append(keys, rs.keysOf(li))
				for _, k := range keys[len(keys)-1] {
					keySet[k] = struct{}{}
				}
			}
			shadowedBaseRows(base, keys, func(frag uint64) *roaring.Bitmap { return deadOf(dead, frag) })
		}
		for gi, g := range gs {
			li := len(gs) - 1 - gi
			// The table's columns only: a generation LanceDB flushed
			// also holds _tombstone, and rows that are not the live
			// version of their key (Generation.dead).
			err := g.ds.Scan(ctx, t.opts.Allocator, columnNames(t.schema), scanBatchRows, func(frag lance.Fragment, first uint64, rec arrow.RecordBatch) error {
				var keep []int32
				if t.pkCol >= 0 {
					read := keyReader(rec.Column(t.pkCol))
					for i := 0; i < int(rec.NumRows()); i++ {
						k := read(i)
						if !rs.shadowed(k, li) && g.live(frag.ID, uint32(first)+uint32(i)) {
							keep = append(keep, int32(i))
						}
					}
				}
				var out arrow.RecordBatch
				switch {
				case t.pkCol < 0 || len(keep) == int(rec.NumRows()):
					out = newTableRecord(t.schema, rec)
				case len(keep) == 0:
					return nil
				default:
					taken, err := takeRows(ctx, t.opts.Allocator, rec, keep)
					if err != nil {
						return err
					}
					out = newTableRecord(t.schema, taken)
					taken.Release()
				}
				recs = append(recs, out)
				return nil
			})
			if err != nil {
				return fail(wrapStoreErr(err))
			}
		}
	}
	for f, bm := range base.losers {
		deadOf(dead, f).Or(bm)
	}
	for f, bm := range dead {
		deletions[f] = bm.ToArray() // ascending
	}
	return recs, deletions, keySet, nil
}

// rebaser is a compaction's lance.Transaction.Rebase: rows other writers
// appended count as older than every generation being merged, so the
// rows of the new fragments whose keys the generations hold are deleted
// with the merge (newest wins). read is the version the merge was
// computed on; keys the keys the generations hold.
func (t *Table) rebaser(read *lance.Dataset, keys map[Key]struct{}) func(context.Context, *lance.Dataset, *lance.Transaction) error {
	known := map[uint64]bool{}
	for _, f := range read.Fragments() {
		known[f.ID] = true
	}
	return func(ctx context.Context, latest *lance.Dataset, tx *lance.Transaction) error {
		var added []uint64
		for _, f := range latest.Fragments() {
			if !known[f.ID] {
				added = append(added, f.ID)
				known[f.ID] = true
			}
		}
		if t.pkCol < 0 || len(keys) == 0 || len(added) == 0 {
			return nil
		}
		dels := map[uint64]*roaring.Bitmap{}
		for _, id := range added {
			bm, err := latest.DeletionBitmap(ctx, id)
			if err != nil {
				return wrapStoreErr(err)
			}
			dels[id] = bm
		}
		if tx.Deletions == nil {
			tx.Deletions = map[uint64][]uint32{}
		}
		err := latest.ScanFragments(ctx, t.opts.Allocator, added, []string{t.PrimaryKey()}, scanBatchRows, func(frag lance.Fragment, first uint64, rec arrow.RecordBatch) error {
			read := keyReader(rec.Column(0))
			for i := 0; i < int(rec.NumRows()); i++ {
				row := uint32(first) + uint32(i)
				if del := dels[frag.ID]; del != nil && del.Contains(row) {
					continue
				}
				if _, ok := keys[read(i)]; ok {
					tx.Deletions[frag.ID] = append(tx.Deletions[frag.ID], row)
				}
			}
			return nil
		})
		return wrapStoreErr(err)
	}
}

// newTableRecord presents rec's columns under the table's schema (Lance
// scans carry the dataset's field metadata).
func newTableRecord(schema *arrow.Schema, rec arrow.RecordBatch) arrow.RecordBatch {
	return array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
}

// generations returns the region's flushed generations, oldest first, each
// with a reference the caller releases.
func (r *RegionWriter) generations() []*Generation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Generation, 0, len(r.gens))
	for i := len(r.gens) - 1; i >= 0; i-- {
		r.gens[i].ref()
		out = append(out, r.gens[i])
	}
	return out
}

// holdsGenerationsUpTo reports whether the region manifest still lists a
// generation at or below upTo.
func (r *RegionWriter) holdsGenerationsUpTo(upTo uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.manifest != nil && slices.ContainsFunc(r.manifest.FlushedGenerations, func(fg *tablepb.FlushedGeneration) bool { return fg.Generation <= upTo })
}

// retireGenerations drops generations up to upTo (merged into the base)
// from the region manifest and the read state.
func (r *RegionWriter) retireGenerations(ctx context.Context, upTo uint64) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if r.failure != nil {
		err := r.failure
		r.mu.Unlock()
		return err
	}
	next := proto.Clone(r.manifest).(*tablepb.RegionManifest)
	r.mu.Unlock()
	kept := next.FlushedGenerations[:0]
	for _, fg := range next.FlushedGenerations {
		if fg.Generation > upTo {
			kept = append(kept, fg)
		}
	}
	if len(kept) == len(next.FlushedGenerations) {
		return nil
	}
	next.FlushedGenerations = kept
	next.Version++
	if _, err := r.commitManifest(ctx, next); err != nil {
		return err
	}
	r.mu.Lock()
	r.manifest = next
	var live, retired []*Generation
	for _, g := range r.gens {
		if g.number > upTo {
			live = append(live, g)
		} else {
			retired = append(retired, g)
		}
	}
	r.gens = live
	r.publishState()
	r.mu.Unlock()
	for _, g := range retired {
		g.stage.advance(StageFlushed, StageMerged)
		g.unref()
	}
	return nil
}

// kickCompact asks the compaction goroutine to run (after flushes).
func (t *Table) kickCompact() { t.compactKick.kick() }

// maybeCompact compacts once a region holds at least
// Options.CompactAfterGenerations flushed generations (the body of the
// background compaction goroutine).
func (t *Table) maybeCompact() {
	if t.opts.CompactAfterGenerations <= 0 {
		return
	}
	due := false
	t.mu.Lock()
	for _, r := range t.regions {
		r.mu.Lock()
		due = due || len(r.gens) >= t.opts.CompactAfterGenerations
		r.mu.Unlock()
	}
	t.mu.Unlock()
	if !due {
		return
	}
	if _, err := t.Compact(context.Background()); err != nil {
		t.opts.Logger.Error("background compaction failed", "table", t.name, "err", err)
	}
}

// columnNames are the names of schema's columns, in order.
func columnNames(schema *arrow.Schema) []string {
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return names
}
