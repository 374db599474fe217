package lsm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// stall makes the store calls on keys under prefix wait until release is
// closed (or their context ends); reached gets a value at the first one.
// fail, if set, fails them instead.
func stall(f *objstore.Faulty, prefix string, release <-chan struct{}, reached chan<- struct{}, fail error) {
	f.SetOptions(objstore.FaultOptions{Hook: func(ctx context.Context, _ objstore.Op, key string) error {
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		if fail != nil {
			return fail
		}
		select {
		case reached <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
}

func waitReached(t *testing.T, reached <-chan struct{}) {
	t.Helper()
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatal("the stalled open never reached the store")
	}
}

// TestTableOpenPerName: a failed open is not remembered; concurrent
// openers of one table share one open, while other tables open and serve;
// a waiter whose context ends stops waiting; Close waits for an open under
// way, which then closes what it opened, and nothing opens after Close.
func TestTableOpenPerName(t *testing.T) {
	ctx := context.Background()
	faulty := objstore.NewFaulty(objstore.NewMem(), objstore.FaultOptions{})
	db1, mem1 := testDB(t, faulty, Options{CompactAfterGenerations: -1})
	for _, name := range []string{"a", "b", "c"} {
		tbl, err := db1.CreateTable(ctx, TableSpec{Name: name, Schema: testSchema})
		if err != nil {
			t.Fatal(err)
		}
		if err := writeIDs(t, tbl, mem1, 1, 1, 2); err != nil {
			t.Fatal(err)
		}
	}
	db1.Close()
	mem1.AssertSize(t, 0)

	db, mem := testDB(t, faulty, Options{CompactAfterGenerations: -1})
	boom := errors.New("boom")
	stall(faulty, "a.lance/_mem_wal/", nil, nil, boom)
	if _, err := db.Table(ctx, "a"); !errors.Is(err, boom) {
		t.Fatalf("open with a failing store: %v, want the store's error", err)
	}
	faulty.SetOptions(objstore.FaultOptions{})
	a, err := db.Table(ctx, "a")
	if err != nil {
		t.Fatalf("open after the store recovered: %v", err)
	}
	if got, err := scanState(ctx, a, mem, ""); err != nil || len(got) != 2 {
		t.Fatalf("a: %v, %v", got, err)
	}

	// Four openers of b wait for one open; a serves meanwhile.
	release, reached := make(chan struct{}), make(chan struct{}, 1)
	stall(faulty, "b.lance/_mem_wal/", release, reached, nil)
	var wg sync.WaitGroup
	opened := make([]*Table, 4)
	errs := make([]error, 4)
	for i := range opened {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opened[i], errs[i] = db.Table(ctx, "b")
		}()
	}
	waitReached(t, reached)
	if got, err := scanState(ctx, a, mem, ""); err != nil || len(got) != 2 {
		t.Fatalf("a while b opens: %v, %v", got, err)
	}
	if _, err := db.Table(ctx, "a"); err != nil {
		t.Fatalf("a while b opens: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Table(cctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait for b's open: %v", err)
	}
	close(release)
	wg.Wait()
	for i := range opened {
		if errs[i] != nil || opened[i] != opened[0] {
			t.Fatalf("opener %d: %p, %v; opener 0: %p", i, opened[i], errs[i], opened[0])
		}
	}
	if rs := opened[0].Stats().Regions[0]; rs.Writing {
		t.Fatalf("opening b claimed its region (epoch %d): opening only reads", rs.WriterEpoch)
	}

	// Close while c opens: Close waits; the open, finding the DB closed,
	// closes what it opened.
	release, reached = make(chan struct{}), make(chan struct{}, 1)
	stall(faulty, "c.lance/_mem_wal/", release, reached, nil)
	cErr := make(chan error, 1)
	go func() {
		_, err := db.Table(ctx, "c")
		cErr <- err
	}()
	waitReached(t, reached)
	closed := make(chan struct{})
	go func() {
		db.Close()
		close(closed)
	}()
	for {
		if _, err := db.Table(ctx, "a"); errors.Is(err, ErrClosed) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while c was still opening")
	default:
	}
	close(release)
	if err := <-cErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("c, opened while the DB closed: %v, want ErrClosed", err)
	}
	<-closed
	if _, err := db.CreateTable(ctx, TableSpec{Name: "d", Schema: testSchema}); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after Close: %v", err)
	}
	mem.AssertSize(t, 0) // every table, c's too, released its memtables
}
