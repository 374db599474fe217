package lsm

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// validateBatch checks everything about a batch's Arrow structure that a
// reader of its values relies on: every column as long as the batch, and
// arrow-go's full validation of each column (buffer sizes, offsets in
// bounds and non-decreasing, UTF-8 strings, bitmaps, null counts, child
// arrays, dictionary indices). A client's batch passes it before it is
// sequenced (invariant 7), and a WAL entry's batches before replay applies
// them: values that fail it would crash filters and indexers later, on
// goroutines no request owns.
func validateBatch(rec arrow.RecordBatch) error {
	n := rec.NumRows()
	for i, col := range rec.Columns() {
		name := rec.Schema().Field(i).Name
		if int64(col.Len()) != n {
			return fmt.Errorf("column %d (%s) has %d rows, the batch %d", i, name, col.Len(), n)
		}
		if err := validateColumn(col); err != nil {
			return fmt.Errorf("column %d (%s): %w", i, name, err)
		}
	}
	return nil
}

// validateColumn is array.ValidateFull, which can itself index past a
// buffer it is checking (it slices a string's value before it has seen
// every offset): a column odd enough to make it panic is invalid, not a
// crash.
func validateColumn(col arrow.Array) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed array: %v", p)
		}
	}()
	return array.ValidateFull(col)
}
