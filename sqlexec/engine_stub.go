//go:build !duckdb_arrow

package sqlexec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lsm"
)

// Available reports whether this build has the SQL engine: built without
// the duckdb_arrow tag it does not.
const Available = false

// Options configures the engine.
type Options struct {
	Allocator   memory.Allocator
	MemoryLimit int64
	Threads     int
	TempDir     string
}

// Engine is the SQL engine; without duckdb_arrow every statement fails
// with ErrUnimplemented.
type Engine struct{}

// Rows is a running statement's result.
type Rows struct {
	array.RecordReader
}

// Close releases the result.
func (r *Rows) Close() {}

var errNoEngine = fmt.Errorf("%w: this flightwal was built without the SQL engine (build tag duckdb_arrow)", ErrUnimplemented)

// New returns the engine.
func New(*lsm.DB, Options) (*Engine, error) { return &Engine{}, nil }

// Close closes the engine.
func (e *Engine) Close() error { return nil }

// Schema fails: no engine.
func (e *Engine) Schema(context.Context, string, ...any) (*arrow.Schema, error) {
	return nil, errNoEngine
}

// Params fails: no engine.
func (e *Engine) Params(context.Context, string) ([]arrow.DataType, error) { return nil, errNoEngine }

// Query fails: no engine.
func (e *Engine) Query(context.Context, string, ...any) (*Rows, error) { return nil, errNoEngine }

// Exec fails: no engine.
func (e *Engine) Exec(context.Context, string, [][]any) (int64, error) { return 0, errNoEngine }
