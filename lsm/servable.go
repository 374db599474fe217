package lsm

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// FormatError is a table this server cannot serve, or cannot write into,
// as it is stored: a Lance file format, encoding or type it does not
// implement (Err wraps ErrUnsupported) or a corrupt file (ErrCorrupt).
// Err names the file and what is wrong. A format question, never an
// internal error: package flight answers FailedPrecondition.
type FormatError struct {
	Table  string
	Schema *arrow.Schema // the dataset's schema; nil if the manifest could not be read
	// Write: only writes are refused (nothing is accepted that could not
	// be compacted into the Lance table); reads are served.
	Write bool
	Err   error
}

func (e *FormatError) Error() string {
	if e.Write {
		return fmt.Sprintf("table %q can't take writes: %v", e.Table, e.Err)
	}
	return fmt.Sprintf("table %q can't be served: %v", e.Table, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// isFormatErr reports a Lance format question (unsupported or corrupt).
func isFormatErr(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt)
}

// probeWrite writes a Lance dataset of schema in the table's data storage
// version in memory (a row of empty
// values and a row of nulls) and reads it back: the writer must store
// every column, and the reader read it back as written, before the table
// accepts a row, or flush and compaction could not.
//
// It allocates from Go's heap, not the table's allocator: two rows, and
// an error path of package lance must not count against the server.
func probeWrite(ctx context.Context, schema *arrow.Schema, version lance.DataStorageVersion) error {
	mem := memory.DefaultAllocator
	fields := make([]arrow.Field, schema.NumFields())
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range schema.Fields() {
		f.Nullable = true
		fields[i] = f
		b := array.NewBuilder(mem, f.Type)
		b.AppendEmptyValue()
		if version == lance.Version20 && hasStruct(f.Type) {
			b.AppendEmptyValue() // refused at DoPut (streamPlan.noNullStructs)
		} else {
			b.AppendNull()
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	s := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(s, cols, 2)
	defer rec.Release()
	ds, err := lance.WriteDatasetWith(ctx, objstore.NewMem(), "probe", s, []arrow.RecordBatch{rec}, lance.CreateOptions{DataStorageVersion: version})
	if err != nil {
		return err
	}
	back, err := ds.Take(ctx, mem, ds.Fragments()[0].ID, []uint64{0, 1}, nil)
	if err != nil {
		return err
	}
	defer back.Release()
	for i, c := range cols {
		if !array.Equal(c, back.Column(i)) {
			return fmt.Errorf("%w: column %q: a Lance file of %s does not read back as written", ErrUnsupported, s.Field(i).Name, s.Field(i).Type)
		}
	}
	return nil
}

// writable reports a data storage version package lance writes.
func writable(v lance.DataStorageVersion) bool {
	_, err := lance.ParseDataStorageVersion(string(v))
	return err == nil
}
