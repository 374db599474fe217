package objstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Op names a kind of Store call for fault injection.
type Op int

const (
	OpGet         Op = iota // Get and GetRange
	OpPut                   // Put
	OpPutIfAbsent           // PutIfAbsent
	OpList                  // List
	OpDelete                // Delete
	OpStat                  // Stat
	numOps
)

// Ops lists every Op.
var Ops = []Op{OpGet, OpPut, OpPutIfAbsent, OpList, OpDelete, OpStat}

func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpPutIfAbsent:
		return "put-if-absent"
	case OpList:
		return "list"
	case OpDelete:
		return "delete"
	case OpStat:
		return "stat"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

func (o Op) writes() bool { return o == OpPut || o == OpPutIfAbsent || o == OpDelete }

// Fault configures the faults injected into one kind of call.
type Fault struct {
	// ErrorRate is the probability that a call fails with ErrUnavailable
	// without reaching the store.
	ErrorRate float64
	// AfterWriteRate is the probability that a write (put, put-if-absent,
	// delete) that succeeded in the store is reported as failed with
	// ErrUnavailable: the caller cannot tell it from a write that did not
	// happen. Ignored for reads.
	AfterWriteRate float64
	// Latency is added to every call, plus a uniform random jitter in
	// [0, Jitter].
	Latency, Jitter time.Duration
}

// FaultOptions configures a Faulty store.
type FaultOptions struct {
	// Seed seeds the random source, so a run that makes the same calls in
	// the same order injects the same faults. (Concurrent callers draw in
	// whatever order they arrive.)
	Seed uint64
	// Faults per kind of call, indexed by Op.
	Faults [numOps]Fault
	// MaxConcurrent, if positive, limits the calls in flight; calls beyond it
	// fail at once with ErrUnavailable, like S3's 503 SlowDown, or wait for a
	// slot if ThrottleWait is set.
	MaxConcurrent int
	ThrottleWait  bool
	// Hook, if set, runs first in every call with the call's kind and key
	// (a List's prefix); an error it returns fails the call without
	// reaching the store. Tests use it to stall or fail chosen keys.
	Hook func(ctx context.Context, op Op, key string) error
	// After, if set, runs once a call that reached the store returned, with
	// the call's kind, key and the store's own error (nil for a write that
	// landed, even if an after-write fault then reports it failed). Tests
	// use it to see that a write landed or to act right after a call.
	After func(ctx context.Context, op Op, key string, err error)
}

// SetAll sets the same fault for every kind of call.
func (o *FaultOptions) SetAll(f Fault) {
	for i := range o.Faults {
		o.Faults[i] = f
	}
}

// FaultStats counts what a Faulty store did to one kind of call.
type FaultStats struct {
	Calls      int64 // calls made
	Injected   int64 // failed with an injected error before reaching the store
	AfterWrite int64 // writes that happened and were then reported as failed
	Throttled  int64 // refused (or, with ThrottleWait, delayed) by the MaxConcurrent limit
	Written    int64 // bytes given to puts that reached the store
}

func (s FaultStats) add(o FaultStats) FaultStats {
	return FaultStats{s.Calls + o.Calls, s.Injected + o.Injected, s.AfterWrite + o.AfterWrite, s.Throttled + o.Throttled, s.Written + o.Written}
}

// Faulty wraps a Store and injects latency, transient errors, errors after
// a write really happened, and throttling, and runs a test's hooks before
// and after calls, for tests. It is safe for concurrent use.
type Faulty struct {
	inner Store

	mu       sync.Mutex // guards opts, rng and inFlight
	opts     FaultOptions
	rng      *rand.Rand
	cond     *sync.Cond // signalled when inFlight drops (ThrottleWait)
	inFlight int

	stats [numOps]struct{ calls, injected, afterWrite, throttled, written atomic.Int64 }
}

var _ Store = (*Faulty)(nil)

// NewFaulty wraps inner.
func NewFaulty(inner Store, opts FaultOptions) *Faulty {
	f := &Faulty{inner: inner, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// SetOptions replaces the fault configuration (the random source keeps its
// state; opts.Seed is ignored). SetOptions(FaultOptions{}) turns faults off.
func (f *Faulty) SetOptions(opts FaultOptions) {
	f.mu.Lock()
	f.opts = opts
	f.mu.Unlock()
	f.cond.Broadcast()
}

// Stats returns the counters of one kind of call.
func (f *Faulty) Stats(op Op) FaultStats {
	s := &f.stats[op]
	return FaultStats{s.calls.Load(), s.injected.Load(), s.afterWrite.Load(), s.throttled.Load(), s.written.Load()}
}

// TotalStats sums the counters of every kind of call.
func (f *Faulty) TotalStats() FaultStats {
	var t FaultStats
	for _, op := range Ops {
		t = t.add(f.Stats(op))
	}
	return t
}

// plan is what happens to one call, drawn up front under the lock so the
// random sequence depends only on the order of calls.
type plan struct {
	delay      time.Duration
	fail       bool
	afterWrite bool
}

// begin throttles, draws the call's fate and sleeps its latency. On success
// the caller must call end.
func (f *Faulty) begin(ctx context.Context, op Op, key string) (plan, error) {
	st := &f.stats[op]
	st.calls.Add(1)
	f.mu.Lock()
	hook := f.opts.Hook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, op, key); err != nil {
			return plan{}, err
		}
	}
	f.mu.Lock()
	if f.opts.MaxConcurrent > 0 && f.inFlight >= f.opts.MaxConcurrent {
		if !f.opts.ThrottleWait {
			f.mu.Unlock()
			st.throttled.Add(1)
			return plan{}, fmt.Errorf("objstore: faulty %s %s: throttled (SlowDown): %w", op, key, ErrUnavailable)
		}
		st.throttled.Add(1)
		// Wake the wait below if ctx ends.
		stop := context.AfterFunc(ctx, func() {
			f.mu.Lock()
			f.cond.Broadcast()
			f.mu.Unlock()
		})
		for f.opts.MaxConcurrent > 0 && f.inFlight >= f.opts.MaxConcurrent && ctx.Err() == nil {
			f.cond.Wait()
		}
		stop()
		if err := ctx.Err(); err != nil {
			f.mu.Unlock()
			return plan{}, err
		}
	}
	f.inFlight++
	c := f.opts.Faults[op]
	var p plan
	p.delay = c.Latency
	if c.Jitter > 0 {
		p.delay += time.Duration(f.rng.Int64N(int64(c.Jitter) + 1))
	}
	p.fail = c.ErrorRate > 0 && f.rng.Float64() < c.ErrorRate
	p.afterWrite = op.writes() && c.AfterWriteRate > 0 && f.rng.Float64() < c.AfterWriteRate
	f.mu.Unlock()

	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.end()
			return plan{}, ctx.Err()
		}
	}
	if p.fail {
		f.end()
		st.injected.Add(1)
		return plan{}, fmt.Errorf("objstore: faulty %s %s: injected error: %w", op, key, ErrUnavailable)
	}
	return p, nil
}

func (f *Faulty) end() {
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
	f.cond.Broadcast()
}

// finish ends a call that reached the store: After sees the store's
// error, then a successful write may be turned into an after-write error.
func (f *Faulty) finish(ctx context.Context, op Op, key string, p plan, err error) error {
	f.end()
	f.mu.Lock()
	after := f.opts.After
	f.mu.Unlock()
	if after != nil {
		after(ctx, op, key, err)
	}
	if err == nil && p.afterWrite {
		f.stats[op].afterWrite.Add(1)
		return fmt.Errorf("objstore: faulty %s %s: injected error after the write landed: %w", op, key, ErrUnavailable)
	}
	return err
}

func (f *Faulty) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := f.begin(ctx, OpGet, key)
	if err != nil {
		return nil, err
	}
	b, err := f.inner.Get(ctx, key)
	return b, f.finish(ctx, OpGet, key, p, err)
}

func (f *Faulty) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	p, err := f.begin(ctx, OpGet, key)
	if err != nil {
		return nil, err
	}
	b, err := f.inner.GetRange(ctx, key, off, n)
	return b, f.finish(ctx, OpGet, key, p, err)
}

func (f *Faulty) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := f.begin(ctx, OpStat, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	info, err := f.inner.Stat(ctx, key)
	return info, f.finish(ctx, OpStat, key, p, err)
}

func (f *Faulty) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	p, err := f.begin(ctx, OpList, prefix)
	if err != nil {
		return nil, err
	}
	objs, err := f.inner.List(ctx, prefix)
	return objs, f.finish(ctx, OpList, prefix, p, err)
}

func (f *Faulty) Put(ctx context.Context, key string, data []byte) error {
	p, err := f.begin(ctx, OpPut, key)
	if err != nil {
		return err
	}
	f.stats[OpPut].written.Add(int64(len(data)))
	return f.finish(ctx, OpPut, key, p, f.inner.Put(ctx, key, data))
}

func (f *Faulty) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	p, err := f.begin(ctx, OpPutIfAbsent, key)
	if err != nil {
		return err
	}
	f.stats[OpPutIfAbsent].written.Add(int64(len(data)))
	return f.finish(ctx, OpPutIfAbsent, key, p, f.inner.PutIfAbsent(ctx, key, data))
}

func (f *Faulty) Delete(ctx context.Context, key string) error {
	p, err := f.begin(ctx, OpDelete, key)
	if err != nil {
		return err
	}
	return f.finish(ctx, OpDelete, key, p, f.inner.Delete(ctx, key))
}

func (f *Faulty) String() string { return "faulty+" + f.inner.String() }
