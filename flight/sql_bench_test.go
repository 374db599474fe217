//go:build duckdb_arrow

package flight_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/flightwal/flightwal/internal/benchutil"
	"github.com/flightwal/flightwal/internal/datagen"
)

// sqlBenchDim is the vector dimension of the Flight SQL benchmarks' rows.
const sqlBenchDim = 128

// drainSQL runs query through Flight SQL (GetFlightInfo, then DoGet of
// every endpoint) and returns the rows read.
func drainSQL(ctx context.Context, c *flightsql.Client, query string) (int64, error) {
	info, err := c.Execute(ctx, query)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, ep := range info.Endpoint {
		r, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			return 0, err
		}
		for r.Next() {
			n += r.RecordBatch().NumRows()
		}
		err = r.Err()
		r.Release()
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

func p50(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkFlightSQL compares Flight SQL with the native JSON tickets on
// the same server in one run (rows: int64 id, 128-dim vector, ~100-byte
// text):
//
//   - pk: SELECT * FROM t WHERE id = k against the ticket {"pk": [k]},
//     p50 of 300 lookups each, over the active memtable and over one
//     compacted fragment (target <= 2x);
//   - filter: SELECT id, text FROM t WHERE id < 1000 against the ticket
//     with the same columns and filter, p50 (target <= 1.3x);
//   - scan: SELECT * FROM t against the full ticket, rows/s (target >=
//     0.8);
//   - groupby: SELECT k, count(*), sum(v) FROM g GROUP BY k over 1,000,000
//     rows against DuckDB running it over the same Arrow batches already
//     in memory (target <= 1.5x); and, as the floor under any engine that
//     reads flightwal's snapshot, the ticket reading the two columns the
//     query needs (groupby-scan/duckdb);
//   - ingest: ADBC adbc_ingest against a durable native DoPut of the same
//     batches, rows/s (target >= 0.9).
func BenchmarkFlightSQL(b *testing.B) {
	const rows = 50_000
	mem := memory.NewGoAllocator()
	var recs []arrow.RecordBatch
	for first := int64(0); first < rows; first += 5000 {
		recs = append(recs, datagen.Batch(mem, sqlBenchDim, 1, first, 5000))
	}
	e := newEnv(b, withLSM(benchLSM))
	ctx := context.Background()
	for _, name := range []string{"mem", "frag"} {
		e.createTable(name, datagen.Schema(sqlBenchDim), nil)
		if _, err := benchutil.Put(ctx, e.client, pathDesc(name), recs); err != nil {
			b.Fatal(err)
		}
	}
	e.mustAction("flush", map[string]any{"table": "frag"})
	e.mustAction("compact", map[string]any{"table": "frag"})
	c := sqlClient(b, e)
	c.Alloc = memory.DefaultAllocator
	native := func(ticket map[string]any, want int64) func() error {
		raw, _ := json.Marshal(ticket)
		return func() error {
			n, err := benchutil.Drain(ctx, e.client, memory.DefaultAllocator, raw)
			if err == nil && n != want {
				err = fmt.Errorf("ticket %s: %d rows, want %d", raw, n, want)
			}
			return err
		}
	}
	viaSQL := func(query string, want int64) func() error {
		return func() error {
			n, err := drainSQL(ctx, c, query)
			if err == nil && n != want {
				err = fmt.Errorf("%s: %d rows, want %d", query, n, want)
			}
			return err
		}
	}
	lat := func(n int, fn func(i int) error) time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			start := time.Now()
			if err := fn(i); err != nil {
				b.Fatal(err)
			}
			d[i] = time.Since(start)
		}
		return p50(d)
	}

	// The GROUP BY table, and the same batches for DuckDB alone.
	gSchema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: sqlPKMeta}, {Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Float64}}, nil)
	var gRecs []arrow.RecordBatch
	for first := int64(0); first < 1_000_000; first += 100_000 {
		bld := array.NewRecordBuilder(mem, gSchema)
		for i := first; i < first+100_000; i++ {
			bld.Field(0).(*array.Int64Builder).Append(i)
			bld.Field(1).(*array.Int64Builder).Append(i % 100)
			bld.Field(2).(*array.Float64Builder).Append(float64(i%1000) / 10)
		}
		gRecs = append(gRecs, bld.NewRecordBatch())
		bld.Release()
	}
	e.createTable("g", gSchema, nil)
	if _, err := benchutil.Put(ctx, e.client, pathDesc("g"), gRecs); err != nil {
		b.Fatal(err)
	}
	const groupBy = "SELECT k, count(*), sum(v) FROM g GROUP BY k"
	dconn, err := duckdb.NewConnector("", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer dconn.Close()
	dc, err := dconn.Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer dc.Close()
	dar, err := duckdb.NewArrowFromConn(dc)
	if err != nil {
		b.Fatal(err)
	}
	// DuckDB alone reads the columns the query names (as the SQL path's
	// scan does): duckdb-go's Arrow views ignore the projection DuckDB
	// pushes into them, so a view of more columns reads the wrong ones.
	kvSchema := arrow.NewSchema(gSchema.Fields()[1:], nil)
	var kvRecs []arrow.RecordBatch
	for _, r := range gRecs {
		kvRecs = append(kvRecs, array.NewRecordBatch(kvSchema, r.Columns()[1:], r.NumRows()))
	}
	duckOnly := func() error {
		rdr, err := array.NewRecordReader(kvSchema, kvRecs)
		if err != nil {
			return err
		}
		defer rdr.Release()
		release, err := dar.RegisterView(rdr, "g")
		if err != nil {
			return err
		}
		defer release()
		rr, err := dar.QueryContext(ctx, groupBy)
		if err != nil {
			return err
		}
		defer rr.Release()
		var n int64
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		if n != 100 {
			return fmt.Errorf("DuckDB alone: %d groups", n)
		}
		return rr.Err()
	}

	adbcCnxn := adbcConn(b, e, nil)
	var (
		pkNative, pkSQL, fragNative, fragSQL, filtNative, filtSQL   time.Duration
		scanNative, scanSQL, gbSQL, gbDuck, gbScan, ingADBC, ingPut time.Duration
	)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		key := func(i int) int64 { return int64((i*7919 + it) % rows) }
		pkNative += lat(300, func(i int) error { return native(map[string]any{"table": "mem", "pk": []int64{key(i)}}, 1)() })
		pkSQL += lat(300, func(i int) error { return viaSQL(fmt.Sprintf("SELECT * FROM mem WHERE id = %d", key(i)), 1)() })
		fragNative += lat(300, func(i int) error { return native(map[string]any{"table": "frag", "pk": []int64{key(i)}}, 1)() })
		fragSQL += lat(300, func(i int) error { return viaSQL(fmt.Sprintf("SELECT * FROM frag WHERE id = %d", key(i)), 1)() })
		filtNative += lat(30, func(int) error {
			return native(map[string]any{"table": "frag", "columns": []string{"id", "text"}, "filter": "id < 1000"}, 1000)()
		})
		filtSQL += lat(30, func(int) error { return viaSQL("SELECT id, text FROM frag WHERE id < 1000", 1000)() })
		scanNative += timed(b, native(map[string]any{"table": "frag"}, rows))
		scanSQL += timed(b, viaSQL("SELECT * FROM frag", rows))
		gbDuck += timed(b, duckOnly)
		gbSQL += timed(b, viaSQL(groupBy, 100))
		gbScan += timed(b, native(map[string]any{"table": "g", "columns": []string{"k", "v"}}, 1_000_000))
		// Ingest: fresh tables each iteration, created and dropped untimed.
		for _, n := range []string{"ing_put", "ing_adbc"} {
			e.createTable(n, datagen.Schema(sqlBenchDim), nil)
		}
		ingPut += timed(b, func() error { _, err := benchutil.Put(ctx, e.client, pathDesc("ing_put"), recs); return err })
		ingADBC += timed(b, func() error {
			n, err := adbcIngest(ctx, adbcCnxn, "ing_adbc", adbc.OptionValueIngestModeAppend, recs...)
			if err == nil && n != rows {
				err = fmt.Errorf("ingest: %d rows", n)
			}
			return err
		})
		for _, n := range []string{"ing_put", "ing_adbc"} {
			e.mustAction("drop_table", map[string]any{"name": n})
		}
	}
	b.StopTimer()
	n := float64(b.N)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	rate := func(d time.Duration) float64 { return n * rows / d.Seconds() }
	b.ReportMetric(us(pkNative), "pk-ticket-p50-us")
	b.ReportMetric(us(pkSQL), "pk-sql-p50-us")
	b.ReportMetric(pkSQL.Seconds()/pkNative.Seconds(), "pk-sql/ticket")
	b.ReportMetric(us(fragNative), "pk-frag-ticket-p50-us")
	b.ReportMetric(us(fragSQL), "pk-frag-sql-p50-us")
	b.ReportMetric(fragSQL.Seconds()/fragNative.Seconds(), "pk-frag-sql/ticket")
	b.ReportMetric(filtSQL.Seconds()/filtNative.Seconds(), "filter-sql/ticket")
	b.ReportMetric(rate(scanNative), "scan-ticket-rows/s")
	b.ReportMetric(rate(scanSQL), "scan-sql-rows/s")
	b.ReportMetric(scanNative.Seconds()/scanSQL.Seconds(), "scan-sql/ticket-throughput")
	b.ReportMetric(gbSQL.Seconds()/gbDuck.Seconds(), "groupby-sql/duckdb")
	b.ReportMetric(gbScan.Seconds()/gbDuck.Seconds(), "groupby-scan/duckdb")
	b.ReportMetric(rate(ingPut), "ingest-doput-rows/s")
	b.ReportMetric(rate(ingADBC), "ingest-adbc-rows/s")
	b.ReportMetric(ingPut.Seconds()/ingADBC.Seconds(), "ingest-adbc/doput")
	b.Logf("pk p50: memtable ticket %.0f us, SQL %.0f us; one fragment ticket %.0f us, SQL %.0f us; filter p50 ticket %.0f us, SQL %.0f us; scan ticket %.0f rows/s, SQL %.0f rows/s; GROUP BY 1M rows SQL %.1f ms, DuckDB alone %.1f ms, ticket scan of its columns %.1f ms; ingest DoPut %.0f rows/s, ADBC %.0f rows/s",
		us(pkNative), us(pkSQL), us(fragNative), us(fragSQL), us(filtNative), us(filtSQL), rate(scanNative), rate(scanSQL),
		float64(gbSQL.Milliseconds())/n, float64(gbDuck.Milliseconds())/n, float64(gbScan.Milliseconds())/n, rate(ingPut), rate(ingADBC))
}
