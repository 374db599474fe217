package lsm

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

var (
	modelLong = flag.Bool("lsm.long", false, "run the model-based test for many more operations")
	modelSeed = flag.Uint64("lsm.seed", 0, "seed of the model-based test (0: time)")
)

// state is the model: the live rows, id -> value (nullValue for null).
type state map[int64]int64

const nullValue = -1 << 62

// TestModelRandomized runs random upserts, deletes, freezes, flushes,
// compactions and restarts against a table and an in-memory model. Every
// read (a filtered scan or a pk lookup) must equal the model; a reader
// running concurrently must always see one of the states the model passed
// through while it read (snapshot reads, invariant 6).
func TestModelRandomized(t *testing.T) {
	seed := *modelSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	ops := 600
	if *modelLong {
		ops = 20000
	}
	t.Logf("seed %d (rerun with -lsm.seed=%d)", seed, seed)
	for _, regions := range []int{1, 3} {
		t.Run(fmt.Sprintf("regions=%d", regions), func(t *testing.T) {
			runModel(t, seed+uint64(regions), ops, regions)
		})
	}
}

func runModel(t *testing.T, seed uint64, ops, regions int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	store := objstore.NewMem()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	open := func() *DB {
		db, err := Open(context.Background(), store, testOptions(Options{Allocator: mem, Logger: discardLogger(), CompactAfterGenerations: -1, WALFlushInterval: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	ctx := context.Background()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "m", Schema: testSchema, Regions: regions})
	if err != nil {
		t.Fatal(err)
	}
	const keys = 150
	model := state{}
	var histMu sync.Mutex
	history := []state{maps.Clone(model)}
	// publish records the model's next state before the write that makes it
	// real: a concurrent reader may see it as soon as the write is durable.
	publish := func() {
		histMu.Lock()
		history = append(history, maps.Clone(model))
		histMu.Unlock()
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}

	// A concurrent reader (single region only: a batch spanning regions is
	// atomic per region, not across them) checks snapshot consistency.
	var readerErr error
	stopReader := make(chan struct{})
	var readerWG sync.WaitGroup
	var tblMu sync.RWMutex // restart swaps tbl
	if regions == 1 {
		readerWG.Add(1)
		go func() {
			defer readerWG.Done()
			for {
				select {
				case <-stopReader:
					return
				default:
				}
				// The newest published state may still be in flight, so the
				// state current at the start may be the one before it.
				histMu.Lock()
				from := max(0, len(history)-2)
				histMu.Unlock()
				tblMu.RLock()
				got, err := scanState(ctx, tbl, mem, "")
				tblMu.RUnlock()
				if err != nil {
					continue // the table was closed by a restart
				}
				histMu.Lock()
				to := len(history)
				ok := false
				for i := from; i < to && !ok; i++ {
					ok = maps.Equal(history[i], got)
				}
				histMu.Unlock()
				if !ok {
					readerErr = fmt.Errorf("concurrent scan saw %d rows matching none of model states %d..%d", len(got), from, to-1)
					return
				}
			}
		}()
	}

	for op := 0; op < ops; op++ {
		switch p := rng.IntN(100); {
		case p < 40: // upsert
			n := 1 + rng.IntN(20)
			ids := rng.Perm(keys)[:n]
			b := array.NewRecordBuilder(mem, testSchema)
			for _, id := range ids {
				v := rng.Int64N(1000)
				b.Field(0).(*array.Int64Builder).Append(int64(id))
				if rng.IntN(10) == 0 {
					b.Field(1).AppendNull()
					v = nullValue
				} else {
					b.Field(1).(*array.Int64Builder).Append(v)
				}
				model[int64(id)] = v
			}
			rec := b.NewRecordBatch()
			b.Release()
			publish()
			write(t, tbl, mem, rec, OpUpsert)
			rec.Release()
		case p < 55: // delete
			n := 1 + rng.IntN(10)
			var ids []int64
			for _, id := range rng.Perm(keys)[:n] {
				ids = append(ids, int64(id))
				delete(model, int64(id))
			}
			rec := delBatch(mem, ids)
			publish()
			write(t, tbl, mem, rec, OpDelete)
			rec.Release()
		case p < 62:
			if _, err := tbl.Freeze(ctx, -1); err != nil {
				fail("freeze: %v", err)
			}
		case p < 70:
			if _, err := tbl.Flush(ctx, -1); err != nil {
				fail("flush: %v", err)
			}
		case p < 75:
			if _, err := tbl.Compact(ctx); err != nil {
				fail("compact: %v", err)
			}
		case p < 78: // restart
			tblMu.Lock()
			db.Close()
			db = open()
			if tbl, err = db.Table(ctx, "m"); err != nil {
				tblMu.Unlock()
				fail("reopen: %v", err)
			}
			tblMu.Unlock()
		case p < 90: // filtered scan
			x := rng.Int64N(1000)
			got, err := scanState(ctx, tbl, mem, fmt.Sprintf("v >= %d OR v IS NULL", x))
			if err != nil {
				fail("scan: %v", err)
			}
			want := state{}
			for id, v := range model {
				if v == nullValue || v >= x {
					want[id] = v
				}
			}
			if !maps.Equal(got, want) {
				fail("op %d: scan v >= %d: %s", op, x, diff(want, got))
			}
		default: // pk lookup
			var ids []any
			for _, id := range rng.Perm(keys)[:5] {
				ids = append(ids, int64(id))
			}
			got, err := lookupState(ctx, tbl, mem, ids)
			if err != nil {
				fail("lookup: %v", err)
			}
			want := state{}
			for _, id := range ids {
				if v, ok := model[id.(int64)]; ok {
					want[id.(int64)] = v
				}
			}
			if !maps.Equal(got, want) {
				fail("op %d: pk %v: %s", op, ids, diff(want, got))
			}
		}
	}
	close(stopReader)
	readerWG.Wait()
	if readerErr != nil {
		fail("%v", readerErr)
	}
	got, err := scanState(ctx, tbl, mem, "")
	if err != nil || !maps.Equal(got, model) {
		fail("final scan: %v %s", err, diff(model, got))
	}
	db.Close()
	mem.AssertSize(t, 0)
}

func write(t *testing.T, tbl *Table, mem memory.Allocator, rec arrow.RecordBatch, op Op) {
	t.Helper()
	w, err := tbl.NewWriter(rec.Schema(), op)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Write(context.Background(), mem, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.WaitDurable(context.Background(), res); err != nil {
		t.Fatal(err)
	}
}

func collect(ctx context.Context, tbl *Table, mem memory.Allocator, q Query) (state, error) {
	p, err := tbl.Prepare(q)
	if err != nil {
		return nil, err
	}
	s := tbl.Snapshot()
	defer s.Release()
	out := state{}
	var dup error
	err = s.Run(ctx, mem, p, func(r arrow.RecordBatch) error {
		ids, vs := r.Column(0).(*array.Int64), r.Column(1).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			if _, ok := out[ids.Value(i)]; ok {
				dup = fmt.Errorf("id %d returned twice", ids.Value(i))
			}
			v := int64(nullValue)
			if vs.IsValid(i) {
				v = vs.Value(i)
			}
			out[ids.Value(i)] = v
		}
		return nil
	})
	if err == nil {
		err = dup
	}
	return out, err
}

func scanState(ctx context.Context, tbl *Table, mem memory.Allocator, filter string) (state, error) {
	return collect(ctx, tbl, mem, Query{Filter: filter})
}

func lookupState(ctx context.Context, tbl *Table, mem memory.Allocator, ids []any) (state, error) {
	return collect(ctx, tbl, mem, Query{PK: ids})
}

func diff(want, got state) string {
	var missing, extra, wrong []int64
	for id, v := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case g != v:
			wrong = append(wrong, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	for _, s := range [][]int64{missing, extra, wrong} {
		sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	}
	return fmt.Sprintf("want %d rows, got %d; missing %v, extra %v, wrong value %v", len(want), len(got), missing, extra, wrong)
}
