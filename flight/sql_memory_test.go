//go:build duckdb_arrow

package flight_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
)

// sql.memory_limit bounds the engine: a statement that needs more spills
// or fails with ResourceExhausted, settings cannot be changed from SQL,
// and the server keeps answering.
func TestFlightSQLMemoryLimit(t *testing.T) {
	e := newEnv(t, withFlight(fw.Options{SQLMemoryLimit: 24 << 20}))
	e.createTable("big", datagen.Schema(128), nil)
	for first := int64(0); first < 60000; first += 20000 {
		rec := datagen.Batch(e.mem, 128, 1, first, 20000)
		e.mustPut(pathDesc("big"), rec)
		rec.Release()
	}
	c := sqlClient(t, e)
	ctx := context.Background()
	run := func(q string) (string, error) {
		info, err := c.Execute(ctx, q)
		if err != nil {
			return "", err
		}
		r, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			return "", err
		}
		defer r.Release()
		var out []string
		for r.Next() {
			out = append(out, rowsOf(r.RecordBatch())...)
		}
		if len(out) != 1 {
			return "", r.Err()
		}
		return out[0], r.Err()
	}
	// Beyond any spilling: one 1 GB string.
	_, err := run("SELECT length(string_agg(repeat('x', 1000), '')) FROM range(1000000)")
	wantCode(t, err, codes.ResourceExhausted, "memory")
	// A table about three times the limit (vectors: 30 MB, text 6 MB),
	// sorted by every column.
	got, err := run("SELECT count(*), count(DISTINCT vec) FROM (SELECT * FROM big ORDER BY text, vec)")
	if err != nil && status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a query over more than the limit: %v", err)
	}
	if err == nil && got != "60000|60000" {
		t.Fatalf("a query that spilled: %s", got)
	}
	t.Logf("query over 3x the limit: %q %v", got, err)
	_, err = run("SET memory_limit = '10GB'")
	if err == nil {
		t.Fatal("SET memory_limit from SQL went through")
	}
	_, err = c.ExecuteUpdate(ctx, "SET memory_limit = '10GB'")
	wantCode(t, err, codes.Unimplemented, "")
	if got, err := run("SELECT count(*) FROM big WHERE id < 10"); err != nil || got != "10" {
		t.Fatalf("the next query: %q %v", got, err)
	}
}
