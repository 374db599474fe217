package flight_test

import (
	"context"

	"github.com/flightwal/flightwal/objstore"
)

// hookWrites sets f's hooks to the puts and puts-if-absent: before runs
// ahead of each, and its error fails the write; after runs once it
// returned from the store. Tests use them to delay, fail or observe
// writes; hookWrites(f, nil, nil) removes them.
func hookWrites(f *objstore.Faulty, before func(key string) error, after func(key string, err error)) {
	isWrite := func(op objstore.Op) bool { return op == objstore.OpPut || op == objstore.OpPutIfAbsent }
	var opts objstore.FaultOptions
	if before != nil {
		opts.Hook = func(_ context.Context, op objstore.Op, key string) error {
			if !isWrite(op) {
				return nil
			}
			return before(key)
		}
	}
	if after != nil {
		opts.After = func(_ context.Context, op objstore.Op, key string, err error) {
			if isWrite(op) {
				after(key, err)
			}
		}
	}
	f.SetOptions(opts)
}
