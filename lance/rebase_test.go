package lance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// rebaseModel is Lance's conflict rules over an in-memory table: per
// version, its fragments (physical rows, deleted offsets), config, and
// what the commit that made it changed.
type rebaseModel struct {
	versions []modelVersion // versions[v-1]
}

type modelFrag struct {
	rows    uint32
	deleted map[uint32]bool
}

type modelVersion struct {
	frags   map[uint64]modelFrag
	maxID   uint64
	config  map[string]string
	removed map[uint64]bool            // fragments this commit removed or emptied
	deleted map[uint64]map[uint32]bool // rows this commit deleted
	keys    map[string]bool            // config keys this commit set
	indexes map[string]string          // index name -> tag of its entry
	edited  map[string]bool            // index names this commit replaced
}

// modelTx is one writer's change, built from version read.
type modelTx struct {
	read    uint64
	appends []int // rows per new fragment
	deletes map[uint64][]uint32
	removes []uint64
	config  map[string]string
	index   map[string]string // ReplaceIndex(name) with an entry tagged so
}

func (m *rebaseModel) latest() uint64 { return uint64(len(m.versions)) }

// commit returns whether Lance's rules let tx commit on the latest version
// (and records the version it makes) or the conflict they name.
func (m *rebaseModel) commit(tx modelTx) (ok bool, why string) {
	for v := tx.read + 1; v <= m.latest(); v++ {
		other := m.versions[v-1]
		for f, rows := range tx.deletes {
			if other.removed[f] {
				return false, fmt.Sprintf("fragment %d removed by v%d", f, v)
			}
			for _, r := range rows {
				if other.deleted[f][r] {
					return false, fmt.Sprintf("row %d/%d deleted by v%d", f, r, v)
				}
			}
		}
		for _, f := range tx.removes {
			if other.removed[f] || len(other.deleted[f]) > 0 {
				return false, fmt.Sprintf("fragment %d changed by v%d", f, v)
			}
		}
		for k := range tx.config {
			if other.keys[k] {
				return false, fmt.Sprintf("key %s set by v%d", k, v)
			}
		}
		for n := range tx.index {
			if other.edited[n] {
				return false, fmt.Sprintf("index %s replaced by v%d", n, v)
			}
		}
	}
	cur := m.versions[m.latest()-1]
	next := modelVersion{frags: map[uint64]modelFrag{}, maxID: cur.maxID, config: map[string]string{},
		removed: map[uint64]bool{}, deleted: map[uint64]map[uint32]bool{}, keys: map[string]bool{},
		indexes: map[string]string{}, edited: map[string]bool{}}
	for n, tag := range cur.indexes {
		next.indexes[n] = tag
	}
	for n, tag := range tx.index {
		next.indexes[n] = tag
		next.edited[n] = true
	}
	for id, f := range cur.frags {
		if slices.Contains(tx.removes, id) {
			next.removed[id] = true
			continue
		}
		nf := modelFrag{rows: f.rows, deleted: map[uint32]bool{}}
		for r := range f.deleted {
			nf.deleted[r] = true
		}
		for _, r := range tx.deletes[id] {
			nf.deleted[r] = true
			if next.deleted[id] == nil {
				next.deleted[id] = map[uint32]bool{}
			}
			next.deleted[id][r] = true
		}
		if uint32(len(nf.deleted)) == nf.rows {
			next.removed[id] = true
			continue
		}
		next.frags[id] = nf
	}
	for _, n := range tx.appends {
		next.maxID++
		next.frags[next.maxID] = modelFrag{rows: uint32(n), deleted: map[uint32]bool{}}
	}
	for k, v := range cur.config {
		next.config[k] = v
	}
	for k, v := range tx.config {
		next.config[k] = v
		next.keys[k] = true
	}
	m.versions = append(m.versions, next)
	return true, ""
}

// TestRebaseModel commits random transactions from stale versions, in
// random order, and checks each outcome (rebased or refused) and each
// resulting version against the model of Lance's conflict rules.
func TestRebaseModel(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	st := newTestStore()
	rec := pkRecord(mem, 0, 10)
	_, err := WriteDataset(ctx, st, "m.lance", pkSchema(), []arrow.RecordBatch{rec}, nil)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	model := &rebaseModel{versions: []modelVersion{{frags: map[uint64]modelFrag{0: {rows: 10, deleted: map[uint32]bool{}}}, config: map[string]string{}}}}
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	rounds, rebased, refused := 150, 0, 0
	if testing.Short() {
		rounds = 40
	}
	for round := range rounds {
		// 2-3 writers read recent versions, then commit in random order.
		var txs []modelTx
		for range 2 + rng.IntN(2) {
			read := model.latest() - uint64(rng.IntN(min(3, int(model.latest()))))
			mv := model.versions[read-1]
			tx := modelTx{read: read, deletes: map[uint64][]uint32{}, config: map[string]string{}}
			ids := slices.Sorted(func(yield func(uint64) bool) {
				for id := range mv.frags {
					if !yield(id) {
						return
					}
				}
			})
			switch rng.IntN(5) {
			case 0, 1:
				tx.appends = []int{1 + rng.IntN(5)}
			case 2, 3:
				for range 1 + rng.IntN(2) {
					if len(ids) == 0 {
						break
					}
					f := ids[rng.IntN(len(ids))]
					for range 1 + rng.IntN(3) {
						r := uint32(rng.IntN(int(mv.frags[f].rows)))
						if !mv.frags[f].deleted[r] && !slices.Contains(tx.deletes[f], r) {
							tx.deletes[f] = append(tx.deletes[f], r)
						}
					}
				}
				if rng.IntN(2) == 0 {
					tx.appends = []int{1 + rng.IntN(3)} // a compaction: deletes and appends
				}
			case 4:
				if len(ids) > 1 { // a rewrite of one fragment
					f := ids[rng.IntN(len(ids))]
					if len(tx.deletes[f]) == 0 {
						tx.removes = []uint64{f}
						tx.appends = []int{1 + rng.IntN(3)}
					}
				}
			}
			if rng.IntN(3) == 0 {
				tx.config[string(rune('a'+rng.IntN(3)))] = fmt.Sprint(round)
			}
			if rng.IntN(4) == 0 {
				tx.index = map[string]string{"i" + fmt.Sprint(rng.IntN(2)): fmt.Sprintf("r%dw%d", round, len(txs))}
			}
			txs = append(txs, tx)
		}
		for _, i := range rng.Perm(len(txs)) {
			mt := txs[i]
			rd, err := OpenDatasetVersion(ctx, st, "m.lance", mt.read)
			if err != nil {
				t.Fatal(err)
			}
			tx := Transaction{Deletions: mt.deletes, RemoveFragments: mt.removes, Config: mt.config}
			for n, tag := range mt.index {
				tx.ReplaceIndex(n, &tablepb.IndexMetadata{Uuid: &tablepb.UUID{Uuid: NewIndexUUID()}, Name: n, Fields: []int32{0},
					IndexDetails: &anypb.Any{TypeUrl: "/lance.table.BTreeIndexDetails", Value: []byte(tag)}})
			}
			for _, n := range mt.appends {
				rec := pkRecord(mem, 100*round, 100*round+n)
				nf, err := WriteFragment(ctx, st, "m.lance", rec.Schema(), []arrow.RecordBatch{rec})
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
				tx.NewFragments = append(tx.NewFragments, nf)
			}
			before := model.latest()
			wantOK, why := model.commit(mt)
			got, err := rd.Commit(ctx, st, tx)
			if wantOK != (err == nil) {
				t.Fatalf("round %d: tx %+v from v%d: model says ok=%v (%s), Commit: %v", round, mt, mt.read, wantOK, why, err)
			}
			if err != nil {
				var ce *ConflictError
				if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || !ce.Retryable {
					t.Fatalf("round %d: refusal is not a retryable ConflictError: %v", round, err)
				}
				refused++
				continue
			}
			if got.Version() != before+1 {
				t.Fatalf("round %d: committed v%d, model v%d", round, got.Version(), before+1)
			}
			if mt.read != before {
				rebased++
			}
			checkModelVersion(t, ctx, got, model.versions[got.Version()-1])
			// Our transaction file says what we did, for Lance writers.
			ltx, err := readTransaction(ctx, st, got)
			if err != nil || operationName(ltx) != tx.operation() || ltx.GetReadVersion() != before {
				t.Fatalf("round %d: transaction file %v (%v), want %s read from v%d", round, ltx, err, tx.operation(), before)
			}
		}
	}
	t.Logf("%d rounds: %d commits rebased, %d refused", rounds, rebased, refused)
	if rebased == 0 || refused == 0 {
		t.Fatalf("the random mix never rebased (%d) or never refused (%d)", rebased, refused)
	}
}

func checkModelVersion(t *testing.T, ctx context.Context, d *Dataset, want modelVersion) {
	t.Helper()
	if len(d.Fragments()) != len(want.frags) {
		t.Fatalf("v%d: %d fragments, model %d", d.Version(), len(d.Fragments()), len(want.frags))
	}
	for _, f := range d.Fragments() {
		mf, ok := want.frags[f.ID]
		if !ok || uint32(f.PhysicalRows) != mf.rows {
			t.Fatalf("v%d: fragment %d (%d rows) not in the model (%v)", d.Version(), f.ID, f.PhysicalRows, mf)
		}
		bm, err := d.DeletionBitmap(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint32
		if bm != nil {
			got = bm.ToArray()
		}
		var exp []uint32
		for r := range mf.deleted {
			exp = append(exp, r)
		}
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("v%d fragment %d: deleted %v, model %v", d.Version(), f.ID, got, exp)
		}
	}
	got := map[string]string{}
	for _, im := range d.Indexes() {
		if _, dup := got[im.GetName()]; dup {
			t.Fatalf("v%d: two entries named %s", d.Version(), im.GetName())
		}
		got[im.GetName()] = string(im.GetIndexDetails().GetValue())
	}
	if fmt.Sprint(got) != fmt.Sprint(want.indexes) {
		t.Fatalf("v%d indexes %v, model %v", d.Version(), got, want.indexes)
	}
	for k, v := range want.config {
		if d.Config()[k] != v {
			t.Fatalf("v%d config %s=%q, model %q", d.Version(), k, d.Config()[k], v)
		}
	}
}

// Over a Lance overwrite or restore nothing rebases: the refusal names
// both operations and is not retryable.
func TestRebaseRefusesOverwrite(t *testing.T) {
	_, d, _ := smallDataset(t)
	tx := Transaction{NewFragments: []NewFragment{{}}}
	err := tx.checkOne(d, d, "overwrite")
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Retryable || ce.Theirs != "overwrite" || ce.Ours != "append" {
		t.Fatalf("append over an overwrite: %v", err)
	}
}
