package lsm

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// fullSearchSets runs the recall tests at the full sizes
// (100,000 x 128 and 62,000 x 1024); make test runs reduced sizes.
var fullSearchSets = flag.Bool("lsm.full", false, "run the search recall tests at full size")

// searchSchema is (id int64 pk, vec fixed_size_list<float32, dim>, text, cat int64).
func searchSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{PrimaryKeyMetadataKey}, []string{"true"})},
		{Name: "vec", Type: arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32), Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "cat", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
}

// srow is one row of a search test's model of the table.
type srow struct {
	vec  []float32 // nil: null
	text string
	null bool // text is null
	cat  int64
}

// searchBatch builds rows ids with the model's values.
func searchBatch(mem memory.Allocator, dim int, ids []int64, rows map[int64]srow) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, searchSchema(dim))
	defer b.Release()
	vl := b.Field(1).(*array.FixedSizeListBuilder)
	vv := vl.ValueBuilder().(*array.Float32Builder)
	for _, id := range ids {
		r := rows[id]
		b.Field(0).(*array.Int64Builder).Append(id)
		if r.vec == nil {
			vl.AppendNull()
		} else {
			vl.Append(true)
			vv.AppendValues(r.vec, nil)
		}
		if r.null {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(r.text)
		}
		b.Field(3).(*array.Int64Builder).Append(r.cat)
	}
	return b.NewRecordBatch()
}

func idBatch(mem memory.Allocator, dim int, ids []int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(ids, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(wal.KeySchema(searchSchema(dim), 0), []arrow.Array{a}, int64(len(ids)))
}

// searchModel is a test table and the live rows it should hold.
type searchModel struct {
	t    *testing.T
	tbl  *Table
	mem  memory.Allocator
	dim  int
	live map[int64]srow
}

// upsert writes rows (in batches of at most 2,000) and records them.
func (m *searchModel) upsert(rows map[int64]srow) {
	m.t.Helper()
	ids := make([]int64, 0, len(rows))
	for id, r := range rows {
		ids = append(ids, id)
		m.live[id] = r
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for lo := 0; lo < len(ids); lo += 2000 {
		rec := searchBatch(m.mem, m.dim, ids[lo:min(lo+2000, len(ids))], rows)
		write(m.t, m.tbl, m.mem, rec, OpUpsert)
		rec.Release()
	}
}

func (m *searchModel) delete(ids ...int64) {
	m.t.Helper()
	for _, id := range ids {
		delete(m.live, id)
	}
	rec := idBatch(m.mem, m.dim, ids)
	write(m.t, m.tbl, m.mem, rec, OpDelete)
	rec.Release()
}

// hit is one result row: id and score column.
type hit struct {
	id    int64
	score float32
}

// runSearch runs q and returns (id, score) rows in result order.
func runSearch(t *testing.T, tbl *Table, mem memory.Allocator, q Query) []hit {
	t.Helper()
	hits, err := tryRunSearch(tbl, mem, q)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// tryRunSearch runs q over a new snapshot, like runOn.
func tryRunSearch(tbl *Table, mem memory.Allocator, q Query) ([]hit, error) {
	s := tbl.Snapshot()
	defer s.Release()
	return runOn(s, tbl, mem, q)
}

// runOn runs q over the snapshot s and returns (id, score) rows in
// result order.
func runOn(s *Snapshot, tbl *Table, mem memory.Allocator, q Query) ([]hit, error) {
	p, err := tbl.Prepare(q)
	if err != nil {
		return nil, err
	}
	var out []hit
	err = s.Run(context.Background(), mem, p, func(rec arrow.RecordBatch) error {
		ids := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
		sc := rec.Column(int(rec.NumCols()) - 1).(*array.Float32)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, hit{ids.Value(i), sc.Value(i)})
		}
		return nil
	})
	return out, err
}

// exactNearest is the ground truth: the k nearest live rows passing keep.
func exactNearest(live map[int64]srow, q []float32, k int, metric vector.Metric, keep func(int64, srow) bool) []hit {
	var all []hit
	for id, r := range live {
		if r.vec == nil || (keep != nil && !keep(id, r)) {
			continue
		}
		all = append(all, hit{id, metric.Distance(q, r.vec)})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score < all[j].score
		}
		return all[i].id < all[j].id
	})
	return all[:min(k, len(all))]
}

// flushGate holds flushes (puts under a generation directory) while
// blocked, so a frozen memtable stays frozen for as long as a test needs.
type flushGate struct {
	mu      sync.Mutex
	blocked chan struct{} // nil: not blocked
}

// gatedStore returns an in-memory store whose flushes wait at the
// returned gate while it is blocked.
func gatedStore() (*objstore.Faulty, *flushGate) {
	g := &flushGate{}
	return objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{Hook: g.hook}), g
}

func (g *flushGate) hook(_ context.Context, op objstore.Op, key string) error {
	if (op == objstore.OpPut || op == objstore.OpPutIfAbsent) && strings.Contains(key, "_gen_") && !strings.Contains(key, indexDir) {
		g.mu.Lock()
		ch := g.blocked
		g.mu.Unlock()
		if ch != nil {
			<-ch
		}
	}
	return nil
}

func (g *flushGate) block() {
	g.mu.Lock()
	g.blocked = make(chan struct{})
	g.mu.Unlock()
}

func (g *flushGate) unblock() {
	g.mu.Lock()
	if g.blocked != nil {
		close(g.blocked)
		g.blocked = nil
	}
	g.mu.Unlock()
}

// waitIndexed waits until every ivf_pq model is trained, every memtable
// index covers its memtable and every fragment has its indexes.
func waitIndexed(t testing.TB, tbl *Table) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		missing := indexingLeft(tbl)
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexes not built after 120 s: %s", missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func indexingLeft(tbl *Table) string {
	x := tbl.idx
	for _, v := range x.vecs {
		if v.model.Load() == nil {
			return "model of " + v.def.Name
		}
	}
	s := tbl.Snapshot()
	defer s.Release()
	for ri, rs := range s.regions {
		for _, mv := range rs.mems {
			end := uint32(mv.m.Rows())
			for i := range x.vecs {
				if b := mv.m.idx.vecs[i].bound.Load(); b < end {
					return fmt.Sprintf("region %d memtable %d: vector bound %d of %d", ri, mv.m.generation, b, end)
				}
			}
			for i := range x.texts {
				if b := mv.m.idx.texts[i].bound.Load(); b < end {
					return fmt.Sprintf("region %d memtable %d: text bound %d of %d", ri, mv.m.generation, b, end)
				}
			}
		}
	}
	segs, err := s.segments(context.Background(), false)
	if err != nil {
		return err.Error()
	}
	for _, sg := range segs {
		if sg.mv != nil {
			continue
		}
		for _, v := range x.vecs {
			if e := x.fragEntry(fragKey(sg.root, sg.frag, v.def.Name)); e.vec.Load() == nil {
				return "fragment index " + fragKey(sg.root, sg.frag, v.def.Name)
			}
		}
		for _, tx := range x.texts {
			if e := x.fragEntry(fragKey(sg.root, sg.frag, tx.def.Name)); e.text.Load() == nil {
				return "fragment index " + fragKey(sg.root, sg.frag, tx.def.Name)
			}
		}
	}
	return ""
}

// sameHits compares results with the truth: same length, same scores in
// order (within rounding), and the same ids except where scores tie.
func sameHits(want, got []hit, tol float64) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d results, want %d\nwant %v\ngot  %v", len(got), len(want), want, got)
	}
	for i := range want {
		w, g := float64(want[i].score), float64(got[i].score)
		if math.Abs(w-g) > tol*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("result %d: score %v, want %v\nwant %v\ngot  %v", i, g, w, want, got)
		}
	}
	// Ids: as sets per group of equal scores.
	for i := 0; i < len(want); {
		j := i
		for j < len(want) && math.Abs(float64(want[j].score-want[i].score)) <= tol*math.Max(1, math.Abs(float64(want[i].score))) {
			j++
		}
		ws, gs := map[int64]bool{}, map[int64]bool{}
		for x := i; x < j; x++ {
			ws[want[x].id], gs[got[x].id] = true, true
		}
		if j < len(want) { // a complete group: same ids
			for id := range ws {
				if !gs[id] {
					return fmt.Sprintf("id %d missing around result %d\nwant %v\ngot  %v", id, i, want, got)
				}
			}
		}
		i = j
	}
	return ""
}

// scanLive reads every live row of a snapshot with the plain scan (the
// reference reader): the truth a nearest or search over the same snapshot
// must agree with.
func scanLive(t *testing.T, tbl *Table, s *Snapshot, mem memory.Allocator) map[int64]srow {
	t.Helper()
	p, err := tbl.Prepare(Query{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]srow{}
	err = s.Run(context.Background(), mem, p, func(rec arrow.RecordBatch) error {
		ids := rec.Column(0).(*array.Int64)
		vecs := rec.Column(1).(*array.FixedSizeList)
		texts := rec.Column(2).(*array.String)
		cats := rec.Column(3).(*array.Int64)
		vals, dim, err := vector.Float32Vectors(vecs)
		if err != nil {
			return err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := srow{cat: cats.Value(i)}
			if vecs.IsValid(i) {
				r.vec = append([]float32(nil), vals[i*dim:(i+1)*dim]...)
			}
			if texts.IsValid(i) {
				r.text = texts.Value(i)
			} else {
				r.null = true
			}
			if _, dup := out[ids.Value(i)]; dup {
				return fmt.Errorf("scan returned id %d twice", ids.Value(i))
			}
			out[ids.Value(i)] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var searchWords = strings.Fields("alpha beta gamma delta epsilon zeta theta iota kappa lambda omicron sigma tau upsilon omega river stone cloud")

// randSearchRow draws a random row: a category, a vector near one of four
// centres (none one time in 20), and a few of searchWords as text (with
// nullText, null one time in 20).
func randSearchRow(rng *rand.Rand, dim int, nullText bool) srow {
	r := srow{cat: rng.Int64N(3)}
	if rng.IntN(20) != 0 {
		r.vec = make([]float32, dim)
		c := float32(rng.IntN(4) * 10)
		for j := range r.vec {
			r.vec[j] = c + float32(rng.NormFloat64())
		}
	}
	if nullText && rng.IntN(20) == 0 {
		r.null = true
		return r
	}
	n := 1 + rng.IntN(6)
	ws := make([]string, n)
	for j := range ws {
		ws[j] = searchWords[rng.IntN(len(searchWords))]
	}
	r.text = strings.Join(ws, " ")
	return r
}
