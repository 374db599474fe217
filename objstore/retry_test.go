package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

func TestRetry(t *testing.T) {
	ctx := ctxT(t)
	p := objstore.RetryPolicy{Attempts: 5, Base: time.Millisecond, Max: 4 * time.Millisecond}
	transient := fmt.Errorf("flaky: %w", objstore.ErrUnavailable)

	calls := 0
	err := objstore.Retry(ctx, p, func(context.Context) error {
		calls++
		if calls < 4 {
			return transient
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("three transient failures then success: err %v after %d calls", err, calls)
	}

	calls = 0
	err = objstore.Retry(ctx, p, func(context.Context) error { calls++; return transient })
	if !errors.Is(err, objstore.ErrUnavailable) || calls != 5 {
		t.Fatalf("always transient: err %v after %d calls, want ErrUnavailable after 5", err, calls)
	}

	for _, permanent := range []error{objstore.ErrExists, objstore.ErrNotFound, errors.New("bad request")} {
		calls = 0
		err = objstore.Retry(ctx, p, func(context.Context) error { calls++; return permanent })
		if !errors.Is(err, permanent) || calls != 1 {
			t.Fatalf("%v: %d calls, err %v; want one call", permanent, calls, err)
		}
	}

	// The context ending during a backoff stops the retries.
	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	slow := objstore.RetryPolicy{Attempts: 100, Base: time.Second, Max: time.Second}
	start := time.Now()
	err = objstore.Retry(cctx, slow, func(context.Context) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return transient
	})
	if !errors.Is(err, context.Canceled) || calls > 3 || time.Since(start) > 2*time.Second {
		t.Fatalf("cancelled: err %v after %d calls and %v", err, calls, time.Since(start))
	}
}

func TestRetryOverFaultyStore(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	opts := objstore.FaultOptions{Seed: 5}
	opts.SetAll(objstore.Fault{ErrorRate: 0.5, AfterWriteRate: 0.2})
	f := objstore.NewFaulty(mem, opts)
	p := objstore.RetryPolicy{Attempts: 30, Base: 100 * time.Microsecond, Max: time.Millisecond}
	for i := 0; i < 50; i++ {
		key, val := fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i))
		if err := objstore.Retry(ctx, p, func(ctx context.Context) error { return f.Put(ctx, key, val) }); err != nil {
			t.Fatalf("Put %s through Retry: %v", key, err)
		}
		var got []byte
		err := objstore.Retry(ctx, p, func(ctx context.Context) (err error) { got, err = f.Get(ctx, key); return err })
		if err != nil || string(got) != string(val) {
			t.Fatalf("Get %s through Retry: %q, %v", key, got, err)
		}
	}
	if s := f.TotalStats(); s.Injected == 0 || s.AfterWrite == 0 {
		t.Fatalf("no faults injected (%+v): the test proves nothing", s)
	}
}
