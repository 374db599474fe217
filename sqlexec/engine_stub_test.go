//go:build !duckdb_arrow

package sqlexec

import (
	"context"
	"errors"
	"testing"
)

func TestSQLWithoutEngine(t *testing.T) {
	e, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(context.Background(), "SELECT 1"); !errors.Is(err, ErrUnimplemented) {
		t.Fatalf("Query without the engine: %v, want ErrUnimplemented", err)
	}
	if Available {
		t.Fatal("Available without the engine")
	}
}
