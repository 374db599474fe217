package flight_test

import (
	"context"
	"sync"

	"github.com/flightwal/flightwal/objstore"
)

// hookStore wraps a store and calls before ahead of every write and after
// once it returned, so tests can delay, fail or observe writes.
type hookStore struct {
	objstore.Store
	mu     sync.Mutex
	before func(op, key string) error
	after  func(op, key string, err error)
}

func (h *hookStore) hooks() (func(op, key string) error, func(op, key string, err error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.before, h.after
}

func (h *hookStore) set(before func(op, key string) error, after func(op, key string, err error)) {
	h.mu.Lock()
	h.before, h.after = before, after
	h.mu.Unlock()
}

func (h *hookStore) write(op, key string, do func() error) error {
	before, after := h.hooks()
	if before != nil {
		if err := before(op, key); err != nil {
			return err
		}
	}
	err := do()
	if after != nil {
		after(op, key, err)
	}
	return err
}

func (h *hookStore) Put(ctx context.Context, key string, data []byte) error {
	return h.write("put", key, func() error { return h.Store.Put(ctx, key, data) })
}

func (h *hookStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return h.write("putIfAbsent", key, func() error { return h.Store.PutIfAbsent(ctx, key, data) })
}
