package lsm

import (
	"sync"
	"sync/atomic"
)

// onceOK runs a load until it succeeds once. Unlike sync.Once it does not
// remember a failure: a transient store error (or a cancelled reader) must
// not make a layer unreadable for the rest of the process.
type onceOK struct {
	mu   sync.Mutex
	done atomic.Bool
}

// do runs fn unless an earlier call succeeded; calls are serialised, so
// what fn writes is visible to every caller that sees nil.
func (o *onceOK) do(fn func() error) error {
	if o.done.Load() {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done.Load() {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	o.done.Store(true)
	return nil
}
