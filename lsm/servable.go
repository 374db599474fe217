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

// probeRead reads one row of every fragment of the base table, every
// column: each data file's version, layout and first page of each column
// must be ones package lance reads. It returns the first failure.
func probeRead(ctx context.Context, ds *lance.Dataset, mem memory.Allocator) error {
	frags := ds.Fragments()
	return objstore.Each(ctx, len(frags), func(i int) error {
		f := frags[i]
		if f.PhysicalRows == 0 {
			return nil
		}
		rec, err := ds.Take(ctx, mem, f.ID, []uint64{0}, nil)
		if err != nil {
			return err
		}
		rec.Release()
		return nil
	})
}

// probeWrite encodes a Lance data file of schema in memory (a row of empty
// values and a row of nulls): the writer must store every column before
// the table accepts a row, or flush and compaction could not.
func probeWrite(ctx context.Context, schema *arrow.Schema, mem memory.Allocator) error {
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
		b.AppendNull()
		cols[i] = b.NewArray()
		b.Release()
	}
	s := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(s, cols, 2)
	defer rec.Release()
	_, err := lance.WriteFragment(ctx, objstore.NewMem(), "probe", s, []arrow.RecordBatch{rec})
	return err
}
