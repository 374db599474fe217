package lance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// Concurrent writers (shared/LANCE_FORMAT.md; Lance's
// docs/src/format/table/transaction.md and conflict_resolver.rs). A commit
// that finds its version taken reloads the latest manifest, checks each
// intervening version against what it changes, and, if none touches it,
// rebuilds itself on the latest version and tries again. What this
// package rebases and what it refuses, with our commit being:
//
//   - appends only: rebased over anything but an overwrite or a restore.
//   - deletions (an Update or Delete in Lance's terms): rebased over
//     appends, index changes, config changes of other keys, and deletions
//     in the same fragments (the deletion vectors are merged) as long as
//     the other writer deleted none of the rows this commit deletes.
//     Refused (retryable): a fragment we delete from was removed or had
//     its data files rewritten (compaction, data replacement), the same
//     row was deleted by both, a fragment we remove had rows deleted, or
//     the schema changed.
//   - config keys: refused if another commit changed the same key.
//   - index edits by name or uuid: refused if another commit changed
//     entries of that name or uuid. UpdateIndex re-reads instead.
//   - anything over an overwrite or restore: refused (incompatible).
//
// Every refusal is a *ConflictError naming both commits; it wraps
// ErrConflict.

// ConflictError is a commit another writer's commit prevents.
type ConflictError struct {
	Root      string
	Version   uint64 // the other writer's version
	Theirs    string // its operation ("append", "rewrite", ...; "unknown" without a transaction)
	Ours      string // ours
	Reason    string
	Retryable bool // redoing the operation on the new version may succeed
}

func (e *ConflictError) Error() string {
	kind := "retryable"
	if !e.Retryable {
		kind = "incompatible"
	}
	return fmt.Sprintf("lance: %s: %s commit conflicts with the %s committed as version %d (%s): %s",
		e.Root, e.Ours, e.Theirs, e.Version, kind, e.Reason)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// CommitRetries is how many times Commit rebases before it gives up (each
// attempt waits a little longer, with jitter).
const CommitRetries = 20

// errVersionTaken: the version a commit attempt wrote exists.
var errVersionTaken = errors.New("version taken")

// Commit writes tx as a new version of the dataset with put-if-absent,
// together with a Lance transaction file (_transactions/) describing it.
// If another writer committed since d, Commit checks the versions in
// between, rebases tx on the latest if they do not touch what tx changes
// (Transaction.Rebase lets the caller adjust tx first) and retries with
// backoff; a true conflict returns a *ConflictError (wrapping
// ErrConflict). Files written by failed attempts are left unreferenced.
// The new Dataset shares d's FileCache.
func (d *Dataset) Commit(ctx context.Context, store objstore.Store, tx Transaction) (*Dataset, error) {
	cur := d
	for attempt := 0; ; attempt++ {
		next, err := cur.commitOnce(ctx, store, &tx, d)
		if !errors.Is(err, errVersionTaken) {
			if err == nil {
				next.rebases = attempt
			}
			return next, err
		}
		if attempt == CommitRetries {
			return nil, &ConflictError{Root: d.root, Version: cur.Version() + 1, Theirs: "commit", Ours: tx.operation(),
				Reason: fmt.Sprintf("gave up after %d rebases", attempt), Retryable: true}
		}
		latest, err := OpenDatasetWith(ctx, store, d.root, OpenOptions{FileCache: d.files})
		if err != nil {
			return nil, err
		}
		if err := tx.check(ctx, store, d, cur, latest); err != nil {
			return nil, err
		}
		if tx.Rebase != nil {
			if err := tx.Rebase(ctx, latest, &tx); err != nil {
				return nil, err
			}
		}
		cur = latest
		wait := time.Duration(1<<min(attempt, 7)) * 5 * time.Millisecond
		wait += rand.N(wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// commitOnce builds tx on d and writes it; errVersionTaken if another
// writer has the version.
func (d *Dataset) commitOnce(ctx context.Context, store objstore.Store, tx *Transaction, read *Dataset) (*Dataset, error) {
	m, indexes, ltx, err := d.build(ctx, store, tx, read)
	if err != nil {
		return nil, err
	}
	u := NewIndexUUID()
	ltx.Uuid = UUIDString(u)
	name := fmt.Sprintf("%d-%s.txn", ltx.GetReadVersion(), ltx.GetUuid())
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ltx)
	if err != nil {
		return nil, fmt.Errorf("lance: marshal transaction: %w", err)
	}
	key := join(d.root, transactionsDir+"/"+name)
	if err := store.PutIfAbsent(ctx, key, data); err != nil {
		return nil, fmt.Errorf("lance: write %s: %w", key, err)
	}
	m.TransactionFile = name
	next, err := commitManifest(ctx, store, d.root, d.scheme, m, indexes, d.files)
	if errors.Is(err, ErrConflict) {
		return nil, errVersionTaken
	}
	return next, err
}

const transactionsDir = "_transactions"

// operation names tx as Lance would.
func (tx *Transaction) operation() string {
	switch {
	case len(tx.Deletions) > 0 || len(tx.RemoveFragments) > 0:
		if len(tx.NewFragments) > 0 {
			return "update"
		}
		return "delete"
	case len(tx.NewFragments) > 0:
		return "append"
	case len(tx.indexEdits) > 0:
		return "create_index"
	default:
		return "update_config"
	}
}

// describe fills ltx's operation from what build did.
func describe(ltx *tablepb.Transaction, tx *Transaction, added, updated []*tablepb.DataFragment, dropped []uint64, before, after []*tablepb.IndexMetadata) {
	slices.Sort(dropped)
	switch tx.operation() {
	case "update":
		ltx.Operation = &tablepb.Transaction_Update_{Update: &tablepb.Transaction_Update{
			RemovedFragmentIds: dropped, UpdatedFragments: updated, NewFragments: added,
			UpdateMode: tablepb.Transaction_REWRITE_ROWS,
		}}
	case "delete":
		ltx.Operation = &tablepb.Transaction_Delete_{Delete: &tablepb.Transaction_Delete{
			UpdatedFragments: updated, DeletedFragmentIds: dropped,
		}}
	case "append":
		ltx.Operation = &tablepb.Transaction_Append_{Append: &tablepb.Transaction_Append{Fragments: added}}
	case "create_index":
		ci := &tablepb.Transaction_CreateIndex{}
		was := map[string]bool{}
		for _, im := range before {
			was[string(im.GetUuid().GetUuid())] = true
		}
		is := map[string]bool{}
		for _, im := range after {
			is[string(im.GetUuid().GetUuid())] = true
			if !was[string(im.GetUuid().GetUuid())] {
				ci.NewIndices = append(ci.NewIndices, im)
			}
		}
		for _, im := range before {
			if !is[string(im.GetUuid().GetUuid())] {
				ci.RemovedIndices = append(ci.RemovedIndices, im)
			}
		}
		ltx.Operation = &tablepb.Transaction_CreateIndex_{CreateIndex: ci}
	default:
		um := &tablepb.Transaction_UpdateMap{}
		for _, k := range sortedKeys(tx.Config) {
			e := &tablepb.Transaction_UpdateMapEntry{Key: k}
			if v := tx.Config[k]; v != "" {
				e.Value = &v
			}
			um.UpdateEntries = append(um.UpdateEntries, e)
		}
		ltx.Operation = &tablepb.Transaction_UpdateConfig_{UpdateConfig: &tablepb.Transaction_UpdateConfig{ConfigUpdates: um}}
	}
}

// operationName is the name of a Lance transaction's operation ("unknown"
// for none or one newer than this package).
func operationName(t *tablepb.Transaction) string {
	if t == nil {
		return "unknown"
	}
	od := t.ProtoReflect().Descriptor().Oneofs().ByName("operation")
	if f := t.ProtoReflect().WhichOneof(od); f != nil {
		return string(f.Name())
	}
	return "unknown"
}

// readTransaction loads the transaction that made d: its transaction file
// or the manifest file's inline section (Lance 12 writes both kinds). nil
// if the writer recorded none.
func readTransaction(ctx context.Context, store objstore.Store, d *Dataset) (*tablepb.Transaction, error) {
	var data []byte
	switch {
	case d.manifest.GetTransactionFile() != "":
		key := join(d.root, transactionsDir+"/"+d.manifest.GetTransactionFile())
		b, err := store.Get(ctx, key)
		if errors.Is(err, objstore.ErrNotFound) {
			return nil, nil // cleaned up: judge by the manifests alone
		}
		if err != nil {
			return nil, fmt.Errorf("lance: read %s: %w", key, err)
		}
		data = b
	case d.manifest.TransactionSection != nil:
		key := join(d.root, versionsDir+"/"+manifestName(d.Version(), d.scheme))
		b, err := store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("lance: read %s: %w", key, err)
		}
		off := d.manifest.GetTransactionSection()
		if off > uint64(len(b)) || uint64(len(b))-off < 4 {
			return nil, corruptf(key, "transaction section at %d of %d bytes", off, len(b))
		}
		n := uint64(binary.LittleEndian.Uint32(b[off:]))
		if n > uint64(len(b))-off-4 {
			return nil, corruptf(key, "transaction section of %d bytes overruns the file", n)
		}
		data = b[off+4 : off+4+n]
	default:
		return nil, nil
	}
	t := &tablepb.Transaction{}
	if err := proto.Unmarshal(data, t); err != nil {
		return nil, corruptf(d.manifest.GetTransactionFile(), "transaction: %v", err)
	}
	return t, nil
}

// check decides whether tx, built from read and last attempted on cur, may
// be rebased on latest: every version in (cur, latest] is compared with
// its predecessor and judged by Lance's rules (the package comment).
func (tx *Transaction) check(ctx context.Context, store objstore.Store, read, cur, latest *Dataset) error {
	prev := cur
	for v := cur.Version() + 1; v <= latest.Version(); v++ {
		next := latest
		if v < latest.Version() {
			var err error
			next, err = OpenDatasetWith(ctx, store, read.root, OpenOptions{Version: v, FileCache: read.files})
			if errors.Is(err, objstore.ErrNotFound) {
				continue // cleaned up: latest is compared with prev below
			}
			if err != nil {
				return err
			}
		}
		theirs, err := readTransaction(ctx, store, next)
		if err != nil {
			return err
		}
		if err := tx.checkOne(prev, next, operationName(theirs)); err != nil {
			return err
		}
		prev = next
	}
	return nil
}

// checkOne judges one other commit: prev -> next, made by operation op.
func (tx *Transaction) checkOne(prev, next *Dataset, op string) error {
	ours := tx.operation()
	conflict := func(retryable bool, format string, args ...any) error {
		return &ConflictError{Root: next.root, Version: next.Version(), Theirs: op, Ours: ours,
			Reason: fmt.Sprintf(format, args...), Retryable: retryable}
	}
	if op == "overwrite" || op == "restore" {
		return conflict(false, "the table was replaced under this commit")
	}
	touched := slices.Collect(maps.Keys(tx.Deletions))
	touched = append(touched, tx.RemoveFragments...)
	slices.Sort(touched)
	for _, id := range touched {
		was, ok := prev.fragment(id)
		if !ok {
			continue // an earlier check reported it
		}
		now, ok := next.fragment(id)
		if !ok {
			return conflict(true, "fragment %d, which this commit deletes from, was removed", id)
		}
		if !slices.Equal(was.Files, now.Files) || !proto.Equal(dataFilesOf(was), dataFilesOf(now)) {
			return conflict(true, "fragment %d, which this commit deletes from, had its data files rewritten", id)
		}
		if slices.Contains(tx.RemoveFragments, id) && !proto.Equal(was.pb.GetDeletionFile(), now.pb.GetDeletionFile()) {
			return conflict(true, "fragment %d, which this commit removes, had rows deleted", id)
		}
	}
	if len(touched) > 0 && !fieldsEqual(prev, next) {
		return conflict(true, "the schema changed")
	}
	pc, nc := prev.manifest.GetConfig(), next.manifest.GetConfig()
	for _, k := range sortedKeys(tx.Config) {
		if pc[k] != nc[k] {
			return conflict(true, "config key %q changed from %q to %q", k, pc[k], nc[k])
		}
	}
	names, uuids := tx.indexesEdited()
	pi, ni := indexesByName(prev.indexes), indexesByName(next.indexes)
	for _, n := range sortedKeys(names) {
		if !slices.Equal(pi[n], ni[n]) {
			return conflict(true, "index %q changed", n)
		}
	}
	for u := range uuids {
		if slices.ContainsFunc(prev.indexes, func(im *tablepb.IndexMetadata) bool { return string(im.GetUuid().GetUuid()) == u }) &&
			!slices.ContainsFunc(next.indexes, func(im *tablepb.IndexMetadata) bool { return string(im.GetUuid().GetUuid()) == u }) {
			return conflict(true, "index %s was removed or replaced", UUIDString([]byte(u)))
		}
	}
	return nil
}

// dataFilesOf is a fragment's data file list without its deletion file.
func dataFilesOf(f Fragment) *tablepb.DataFragment {
	return &tablepb.DataFragment{Id: f.ID, Files: f.pb.GetFiles(), PhysicalRows: f.PhysicalRows}
}

func fieldsEqual(a, b *Dataset) bool {
	return slices.EqualFunc(a.manifest.GetFields(), b.manifest.GetFields(), func(x, y *filepb.Field) bool { return proto.Equal(x, y) })
}

// indexesByName maps a name to the sorted uuids of its entries.
func indexesByName(ims []*tablepb.IndexMetadata) map[string][]string {
	out := map[string][]string{}
	for _, im := range ims {
		out[im.GetName()] = append(out[im.GetName()], string(im.GetUuid().GetUuid()))
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// indexesEdited returns the names of the entries tx adds, replaces or
// removes by name (UpdateIndex is left out: it re-reads on every attempt)
// and the uuids it replaces or removes.
func (tx *Transaction) indexesEdited() (names, uuids map[string]bool) {
	names, uuids = map[string]bool{}, map[string]bool{}
	for _, e := range tx.indexEdits {
		if e.removeName != "" {
			names[e.removeName] = true
		}
		if e.put != nil {
			names[e.put.GetName()] = true
		}
		if e.removeUUID != nil {
			uuids[string(e.removeUUID)] = true
		}
	}
	return names, uuids
}

// checkDeleteOverlap refuses deleting rows of fragment f (as it is in cur,
// whose deletion bitmap is now) that another writer deleted since read.
func checkDeleteOverlap(ctx context.Context, read, cur *Dataset, f *tablepb.DataFragment, now *roaring.Bitmap, rows []uint32) error {
	if read == cur || now == nil {
		return nil
	}
	if _, ok := read.fragment(f.GetId()); !ok {
		return nil // appended since read: the rows were chosen on a newer version
	}
	was, err := read.DeletionBitmap(ctx, f.GetId())
	if err != nil {
		return err
	}
	for _, r := range rows {
		if now.Contains(r) && (was == nil || !was.Contains(r)) {
			return &ConflictError{Root: cur.root, Version: cur.Version(), Theirs: "delete", Ours: "delete",
				Reason: fmt.Sprintf("row %d of fragment %d was deleted by both", r, f.GetId()), Retryable: true}
		}
	}
	return nil
}

// Rebases is how many times the Commit that made d rebased on other
// writers' commits (0 for a Dataset that was opened).
func (d *Dataset) Rebases() int { return d.rebases }
