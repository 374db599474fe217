package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// pattern returns which of n Stat calls on f fail.
func pattern(t *testing.T, f *objstore.Faulty, n int) []bool {
	ctx := ctxT(t)
	out := make([]bool, n)
	for i := range out {
		_, err := f.Stat(ctx, "k")
		if err != nil && !errors.Is(err, objstore.ErrUnavailable) {
			t.Fatalf("Stat: %v", err)
		}
		out[i] = err != nil
	}
	return out
}

func TestFaultyErrorRate(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	mustPut(t, mem, "k", []byte("v"))
	var opts objstore.FaultOptions
	opts.Seed = 42
	opts.SetAll(objstore.Fault{ErrorRate: 0.2})
	f := objstore.NewFaulty(mem, opts)

	const n = 4000
	failed := 0
	for i := 0; i < n; i++ {
		var err error
		switch i % 4 {
		case 0:
			_, err = f.Get(ctx, "k")
		case 1:
			_, err = f.GetRange(ctx, "k", 0, 1)
		case 2:
			_, err = f.List(ctx, "")
		case 3:
			err = f.Put(ctx, "k", []byte("v"))
		}
		if err != nil {
			if !errors.Is(err, objstore.ErrUnavailable) {
				t.Fatalf("injected error %v does not wrap ErrUnavailable", err)
			}
			failed++
		}
	}
	if rate := float64(failed) / n; rate < 0.17 || rate > 0.23 {
		t.Fatalf("error rate %.3f, configured 0.2", rate)
	}
	total := f.TotalStats()
	if total.Calls != n || total.Injected != int64(failed) || total.AfterWrite != 0 || total.Throttled != 0 {
		t.Fatalf("stats %+v, want %d calls and %d injected", total, n, failed)
	}
	if g := f.Stats(objstore.OpGet); g.Calls != n/2 {
		t.Fatalf("get stats %+v: want %d calls (Get and GetRange)", g, n/2)
	}
	if d := f.Stats(objstore.OpDelete); d != (objstore.FaultStats{}) {
		t.Fatalf("delete stats %+v, want zero", d)
	}

	// Per-op configuration: only puts fail.
	var only objstore.FaultOptions
	only.Faults[objstore.OpPut] = objstore.Fault{ErrorRate: 1}
	f.SetOptions(only)
	if _, err := f.Get(ctx, "k"); err != nil {
		t.Fatalf("Get with only put faults: %v", err)
	}
	if err := f.Put(ctx, "k", []byte("w")); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Put at error rate 1: %v", err)
	}
	if got := mustGet(t, mem, "k"); string(got) != "v" {
		t.Fatalf("a put failed before the store changed it to %q", got)
	}
	f.SetOptions(objstore.FaultOptions{})
	if err := f.Put(ctx, "k", []byte("w")); err != nil {
		t.Fatalf("Put with faults off: %v", err)
	}
}

func TestFaultySeedReproducible(t *testing.T) {
	mem := objstore.NewMem()
	mustPut(t, mem, "k", []byte("v"))
	mk := func(seed uint64) *objstore.Faulty {
		opts := objstore.FaultOptions{Seed: seed}
		opts.Faults[objstore.OpStat] = objstore.Fault{ErrorRate: 0.5}
		return objstore.NewFaulty(mem, opts)
	}
	a, b, c := pattern(t, mk(7), 200), pattern(t, mk(7), 200), pattern(t, mk(8), 200)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("two runs with seed 7 injected different faults")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("seeds 7 and 8 injected the same 200 faults")
	}
}

func TestFaultyAfterWrite(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	var opts objstore.FaultOptions
	opts.SetAll(objstore.Fault{AfterWriteRate: 1})
	f := objstore.NewFaulty(mem, opts)

	if err := f.Put(ctx, "a", []byte("put")); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Put: got %v, want an after-write ErrUnavailable", err)
	}
	if got := mustGet(t, mem, "a"); string(got) != "put" {
		t.Fatalf("after-write Put left %q, want the write landed", got)
	}
	if err := f.PutIfAbsent(ctx, "b", []byte("pia")); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("PutIfAbsent: got %v, want an after-write ErrUnavailable", err)
	}
	if got := mustGet(t, mem, "b"); string(got) != "pia" {
		t.Fatalf("after-write PutIfAbsent left %q, want the write landed", got)
	}
	// The retry a caller makes sees its own write: ErrExists, not a second
	// after-write error (that applies only to writes that happened).
	if err := f.PutIfAbsent(ctx, "b", []byte("again")); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("second PutIfAbsent: got %v, want ErrExists", err)
	}
	if err := f.Delete(ctx, "a"); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Delete: got %v, want an after-write ErrUnavailable", err)
	}
	if _, err := mem.Get(ctx, "a"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("after-write Delete left the object: %v", err)
	}
	// Reads are never after-write faults.
	if _, err := f.Get(ctx, "b"); err != nil {
		t.Fatalf("Get with AfterWriteRate 1: %v", err)
	}
	if s := f.Stats(objstore.OpPutIfAbsent); s.Calls != 2 || s.AfterWrite != 1 {
		t.Fatalf("put-if-absent stats %+v, want 2 calls, 1 after-write", s)
	}

	// At a partial rate every reported failure still wrote its object.
	opts = objstore.FaultOptions{Seed: 3}
	opts.Faults[objstore.OpPut] = objstore.Fault{AfterWriteRate: 0.3}
	f = objstore.NewFaulty(mem, opts)
	failed := 0
	for i := 0; i < 500; i++ {
		k := fmt.Sprintf("w/%d", i)
		if err := f.Put(ctx, k, []byte(k)); err != nil {
			failed++
		}
		if got := mustGet(t, mem, k); string(got) != k {
			t.Fatalf("%s holds %q", k, got)
		}
	}
	if failed < 110 || failed > 190 || int64(failed) != f.Stats(objstore.OpPut).AfterWrite {
		t.Fatalf("%d of 500 puts reported failed (stats %+v), want about 150", failed, f.Stats(objstore.OpPut))
	}
}

func TestFaultyLatency(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	mustPut(t, mem, "k", []byte("v"))
	var opts objstore.FaultOptions
	opts.Faults[objstore.OpGet] = objstore.Fault{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}
	f := objstore.NewFaulty(mem, opts)
	for i := 0; i < 5; i++ {
		start := time.Now()
		if _, err := f.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 20*time.Millisecond || d > 500*time.Millisecond {
			t.Fatalf("Get took %v, want 20-30ms (plus scheduling)", d)
		}
	}
	start := time.Now()
	if _, err := f.Stat(ctx, "k"); err != nil || time.Since(start) > 10*time.Millisecond {
		t.Fatalf("Stat without latency took %v (%v)", time.Since(start), err)
	}
	// A context that ends cuts the delay short.
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	opts.Faults[objstore.OpGet].Latency = time.Hour
	f.SetOptions(opts)
	if _, err := f.Get(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with an expiring context: %v", err)
	}
}

// gauge wraps inner in a store that records in peak the most Gets it saw
// at once.
func gauge(inner objstore.Store) (g *objstore.Faulty, peak *atomic.Int64) {
	var cur atomic.Int64
	peak = new(atomic.Int64)
	return objstore.NewFaulty(inner, objstore.FaultOptions{
		Hook: func(_ context.Context, op objstore.Op, _ string) error {
			if op != objstore.OpGet {
				return nil
			}
			n := cur.Add(1)
			for {
				m := peak.Load()
				if n <= m || peak.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			return nil
		},
		After: func(_ context.Context, op objstore.Op, _ string, _ error) {
			if op == objstore.OpGet {
				cur.Add(-1)
			}
		},
	}), peak
}

func TestFaultyThrottle(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	mustPut(t, mem, "k", []byte("v"))
	run := func(f *objstore.Faulty) (ok, throttled int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.Get(ctx, "k")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, objstore.ErrUnavailable):
					throttled++
				default:
					t.Errorf("Get: %v", err)
				}
			}()
		}
		wg.Wait()
		return ok, throttled
	}

	// Reject: calls beyond the limit fail at once with ErrUnavailable.
	g, peak := gauge(mem)
	var opts objstore.FaultOptions
	opts.MaxConcurrent = 2
	opts.Faults[objstore.OpGet] = objstore.Fault{Latency: 30 * time.Millisecond}
	f := objstore.NewFaulty(g, opts)
	ok, throttled := run(f)
	if ok < 2 || throttled == 0 || ok+throttled != 12 || int64(throttled) != f.Stats(objstore.OpGet).Throttled {
		t.Fatalf("reject: %d ok, %d throttled (stats %+v)", ok, throttled, f.Stats(objstore.OpGet))
	}
	if m := peak.Load(); m > 2 {
		t.Fatalf("reject: %d calls reached the store at once, limit 2", m)
	}

	// Wait: every call succeeds, never more than the limit at once.
	g, peak = gauge(mem)
	opts.ThrottleWait = true
	f = objstore.NewFaulty(g, opts)
	ok, throttled = run(f)
	if ok != 12 || throttled != 0 {
		t.Fatalf("wait: %d ok, %d failed", ok, throttled)
	}
	if m := peak.Load(); m != 2 {
		t.Fatalf("wait: at most %d calls at once, want the limit 2", m)
	}

	// A waiting call gives up when its context ends.
	opts.Faults[objstore.OpGet].Latency = 300 * time.Millisecond
	f = objstore.NewFaulty(mem, opts)
	for i := 0; i < 2; i++ {
		go f.Get(ctx, "k") // hold both slots
	}
	time.Sleep(20 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := f.Get(short, "k"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 200*time.Millisecond {
		t.Fatalf("throttled Get with an expiring context: %v after %v", err, time.Since(start))
	}
}

func TestFaultyConcurrentSafe(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	var opts objstore.FaultOptions
	opts.Seed = 9
	opts.SetAll(objstore.Fault{ErrorRate: 0.1, AfterWriteRate: 0.1, Jitter: time.Millisecond})
	opts.MaxConcurrent = 4
	opts.ThrottleWait = true
	f := objstore.NewFaulty(mem, opts)
	var wg sync.WaitGroup
	var acked sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				k := fmt.Sprintf("c/%d/%d", w, i)
				if err := f.PutIfAbsent(ctx, k, []byte(k)); err == nil {
					acked.Store(k, true)
				}
				f.List(ctx, "c/")
			}
		}()
	}
	wg.Wait()
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if got, err := mem.Get(ctx, k.(string)); err != nil || !bytes.Equal(got, []byte(k.(string))) {
			t.Errorf("acknowledged %s: %q, %v", k, got, err)
		}
		return true
	})
	st := f.Stats(objstore.OpPutIfAbsent)
	if st.Calls != 400 || int64(n)+st.Injected+st.AfterWrite != 400 {
		t.Fatalf("%d acknowledged, stats %+v: calls must add up to 400", n, st)
	}
}

// TestFaultyHook: the hook sees every call's kind and key first; its error
// fails the call before it reaches the store, and nil lets it through.
func TestFaultyHook(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	var seen []string
	boom := errors.New("boom")
	f := objstore.NewFaulty(mem, objstore.FaultOptions{Hook: func(_ context.Context, op objstore.Op, key string) error {
		seen = append(seen, op.String()+" "+key)
		if key == "no" {
			return boom
		}
		return nil
	}})
	if err := f.Put(ctx, "no", []byte("x")); !errors.Is(err, boom) {
		t.Fatalf("hooked put: %v, want the hook's error", err)
	}
	if _, err := mem.Stat(ctx, "no"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("a put the hook failed reached the store: %v", err)
	}
	mustPut(t, f, "yes", []byte("x"))
	if _, err := f.List(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(seen); got != "[put no put yes list y]" {
		t.Fatalf("hook saw %s", got)
	}
	f.SetOptions(objstore.FaultOptions{})
	if err := f.Put(ctx, "no", []byte("x")); err != nil {
		t.Fatalf("after the hook was removed: %v", err)
	}
}

// TestFaultyAfter: After sees every call that reached the store, once it
// returned, with the store's own error: not the calls the hook or an
// injected fault stopped, and nil for a write that landed but is reported
// failed. Written counts the bytes of the puts that reached the store.
func TestFaultyAfter(t *testing.T) {
	ctx := ctxT(t)
	mem := objstore.NewMem()
	var seen []string
	var opts objstore.FaultOptions
	opts.Hook = func(_ context.Context, _ objstore.Op, key string) error {
		if key == "no" {
			return errors.New("boom")
		}
		return nil
	}
	opts.After = func(_ context.Context, op objstore.Op, key string, err error) {
		seen = append(seen, fmt.Sprintf("%s %s %v", op, key, err != nil))
	}
	opts.Faults[objstore.OpPutIfAbsent].AfterWriteRate = 1
	opts.Faults[objstore.OpDelete].ErrorRate = 1
	f := objstore.NewFaulty(mem, opts)
	if err := f.Put(ctx, "no", []byte("x")); err == nil {
		t.Fatal("a put the hook failed succeeded")
	}
	mustPut(t, f, "yes", []byte("xyz"))
	if err := f.PutIfAbsent(ctx, "once", []byte("12345")); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("put-if-absent with an after-write fault: %v", err)
	}
	if _, err := f.Get(ctx, "once"); err != nil {
		t.Fatalf("the put-if-absent did not land: %v", err)
	}
	if _, err := f.Get(ctx, "missing"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	if err := f.Delete(ctx, "yes"); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("delete with an injected error: %v", err)
	}
	if got := fmt.Sprint(seen); got != "[put yes false put-if-absent once false get once false get missing true]" {
		t.Fatalf("After saw %s", got)
	}
	if w := f.TotalStats().Written; w != 8 {
		t.Fatalf("written %d bytes, want 8", w)
	}
}
