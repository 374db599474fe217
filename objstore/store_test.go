package objstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

func TestEachBoundsCallsAndReportsFirstError(t *testing.T) {
	var inflight, peak, calls atomic.Int64
	boom := errors.New("boom")
	release := make(chan struct{})
	go func() {
		// Let the first Parallelism calls pile up before any returns.
		for inflight.Load() < Parallelism {
			runtime.Gosched()
		}
		close(release)
	}()
	err := Each(context.Background(), 100, func(i int) error {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		calls.Add(1)
		inflight.Add(-1)
		if i == 7 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if calls.Load() != 100 {
		t.Fatalf("%d calls, want all 100 tried despite the error", calls.Load())
	}
	if peak.Load() != Parallelism {
		t.Fatalf("peak %d calls in flight, want %d", peak.Load(), Parallelism)
	}
}

func TestEachStopsStartingWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	err := Each(ctx, 1000, func(i int) error {
		if calls.Add(1) == 1 {
			cancel()
		}
		<-ctx.Done()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if n := calls.Load(); n > Parallelism {
		t.Fatalf("%d calls started after the cancel, want at most %d", n, Parallelism)
	}
}

func TestDeleteAllRemovesFirstGroupBeforeTheRest(t *testing.T) {
	ctx := context.Background()
	var order []string
	var seen atomic.Bool
	s := NewMem()
	for i := 0; i < 40; i++ {
		if err := s.Put(ctx, fmt.Sprintf("t/data/%02d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := s.Put(ctx, fmt.Sprintf("t/_versions/%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	hooked := &orderStore{Store: s, onDelete: func(key string) {
		if strings.Contains(key, "/_versions/") && seen.Load() {
			order = append(order, key)
		}
		if !strings.Contains(key, "/_versions/") {
			seen.Store(true)
		}
	}}
	n, err := DeleteAll(ctx, hooked, "t/", func(key string) bool { return strings.Contains(key, "/_versions/") })
	if err != nil || n != 43 {
		t.Fatalf("DeleteAll = %d, %v; want 43, nil", n, err)
	}
	if len(order) != 0 {
		t.Fatalf("versions deleted after data objects: %v", order)
	}
	if left, _ := s.List(ctx, "t/"); len(left) != 0 {
		t.Fatalf("%d objects left", len(left))
	}
}

type orderStore struct {
	Store
	onDelete func(string)
}

func (o *orderStore) Delete(ctx context.Context, key string) error {
	o.onDelete(key)
	return o.Store.Delete(ctx, key)
}
