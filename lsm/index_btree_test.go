package lsm

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// syncBuffer is a log sink the table's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBtreeIndexOnPrimaryKeyOnly: create_table takes a btree index on the
// primary key (its key index) and refuses one on any other column; a table
// whose manifest lists a btree on another column still opens, the index
// listed but inactive.
func TestBtreeIndexOnPrimaryKeyOnly(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	var logs syncBuffer
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	db, err := Open(ctx, store, testOptions(Options{Allocator: mem, Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateTable(ctx, TableSpec{Name: "pk", Schema: searchSchema(8), Indexes: []IndexDef{{Column: "id", Type: "btree"}}}); err != nil {
		t.Fatalf("btree on the primary key: %v", err)
	}
	appendOnly := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, spec := range []TableSpec{
		{Name: "cat", Schema: searchSchema(8), Indexes: []IndexDef{{Column: "cat", Type: "btree"}}},
		{Name: "ao", Schema: appendOnly, Indexes: []IndexDef{{Column: "id", Type: "btree"}}},
	} {
		_, err := db.CreateTable(ctx, spec)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "not supported yet") || !strings.Contains(err.Error(), "fts, ivf_pq") {
			t.Fatalf("btree on %q of table %q: %v, want InvalidArgument naming the supported kinds", spec.Indexes[0].Column, spec.Name, err)
		}
		if _, err := db.Table(ctx, spec.Name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a refused create_table left table %q: %v", spec.Name, err)
		}
	}

	cfg := map[string]string{configRegions: "1", configPrimaryKey: "id", configIndexes: `[{"name":"cat_idx","column":"cat","type":"btree"}]`}
	if _, err := lance.CreateDataset(ctx, store, tableRoot("old"), searchSchema(8), cfg); err != nil {
		t.Fatal(err)
	}
	tbl, err := db.Table(ctx, "old")
	if err != nil {
		t.Fatalf("a table with a btree on a non-key column must open: %v", err)
	}
	st := tbl.Stats()
	if len(st.Indexes) != 1 || st.Indexes[0].Name != "cat_idx" || len(st.IndexStatus) != 0 {
		t.Fatalf("indexes %+v, status %+v: want cat_idx listed, nothing running", st.Indexes, st.IndexStatus)
	}
	if !strings.Contains(logs.String(), "inactive") || !strings.Contains(logs.String(), "cat_idx") {
		t.Fatalf("no warning about the inactive index; log:\n%s", logs.String())
	}
	db.Close()
	mem.AssertSize(t, 0)
}
