package lsm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/objstore"
)

// TestNullsInNonNullableColumn: a stream that declares a column
// non-nullable but carries nulls in it is refused like any other.
func TestNullsInNonNullableColumn(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	db, mem := testDB(t, objstore.NewMem(), Options{})
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "n", Schema: schema, PrimaryKey: "id"})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{7, 0}, []bool{true, false})
	rec := b.NewRecordBatch()
	b.Release()
	w, err := tbl.NewWriter(schema, OpUpsert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, mem, rec); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "not nullable") {
		t.Fatalf("write of nulls into a non-nullable column: %v", err)
	}
	rec.Release()
	if n := countRows(t, tbl, mem); n != 0 {
		t.Fatalf("%d rows after a refused write", n)
	}
	db.Close()
	mem.AssertSize(t, 0)
}
