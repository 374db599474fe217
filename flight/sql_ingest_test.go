//go:build duckdb_arrow

package flight_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// adbcConn is an ADBC Flight SQL connection to e's server.
func adbcConn(t testing.TB, e *env, opts map[string]string) adbc.Connection {
	t.Helper()
	o := map[string]string{adbc.OptionKeyURI: "grpc://" + e.srv.Addr().String()}
	for k, v := range opts {
		o[k] = v
	}
	db, err := adbcflightsql.NewDriver(e.mem).NewDatabase(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cnxn, err := db.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cnxn.Close() })
	return cnxn
}

// adbcIngest ingests recs into table with mode.
func adbcIngest(ctx context.Context, cnxn adbc.Connection, table, mode string, recs ...arrow.RecordBatch) (int64, error) {
	st, err := cnxn.NewStatement()
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := st.SetOption(adbc.OptionKeyIngestTargetTable, table); err != nil {
		return 0, err
	}
	if err := st.SetOption(adbc.OptionKeyIngestMode, mode); err != nil {
		return 0, err
	}
	rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	if err := st.BindStream(ctx, rdr); err != nil {
		return 0, err
	}
	return st.ExecuteUpdate(ctx)
}

// adbcCode is the gRPC code an ADBC error carries.
func adbcCode(err error) codes.Code {
	var ae adbc.Error
	if e, ok := err.(adbc.Error); ok {
		ae = e
		for _, d := range ae.Details {
			if s, ok := d.(interface{ Status() *status.Status }); ok {
				return s.Status().Code()
			}
		}
		switch ae.Code {
		case adbc.StatusNotFound:
			return codes.NotFound
		case adbc.StatusAlreadyExists:
			return codes.AlreadyExists
		case adbc.StatusInvalidArgument:
			return codes.InvalidArgument
		case adbc.StatusUnauthenticated:
			return codes.Unauthenticated
		case adbc.StatusUnauthorized:
			return codes.PermissionDenied
		case adbc.StatusNotImplemented:
			return codes.Unimplemented
		}
	}
	return status.Code(err)
}

func eventsRows(t *testing.T, e *env, from, n int, kind string) arrow.RecordBatch {
	t.Helper()
	var rows []string
	for i := from; i < from+n; i++ {
		rows = append(rows, fmt.Sprintf(`{"id":%d,"user_id":%d,"kind":%q,"amount":%d}`, i, i%3, kind, i))
	}
	rec := jsonBatch(t, e.mem, sqlEventsSchema, rows...)
	t.Cleanup(rec.Release)
	return rec
}

func TestFlightSQLIngestModes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cnxn := adbcConn(t, e, nil)
	a, b := eventsRows(t, e, 0, 100, "a"), eventsRows(t, e, 50, 100, "b")

	// append to a missing table: NotFound, nothing made.
	if _, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeAppend, a); adbcCode(err) != codes.NotFound {
		t.Fatalf("append to a missing table: %v", err)
	}
	// create: the table from the stream's schema, the key from its field
	// metadata, two batches.
	if n, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeCreate, a, a); err != nil || n != 200 {
		t.Fatalf("create: %d %v", n, err)
	}
	tbl, err := e.db.Table(ctx, "ev")
	if err != nil || tbl.PrimaryKey() != "id" {
		t.Fatalf("created table: %v %v", tbl, err)
	}
	if got := nativeIDs(t, e, "ev"); len(got) != 100 {
		t.Fatalf("after create: %d rows", len(got))
	}
	if _, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeCreate, a); adbcCode(err) != codes.AlreadyExists {
		t.Fatalf("create of an existing table: %v", err)
	}
	// append upserts by key, as a DoPut does: 50..149, b replacing 50..99.
	if n, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeAppend, b); err != nil || n != 100 {
		t.Fatalf("append: %d %v", n, err)
	}
	wantRows(t, "after append", fetchSQL(t, e, sqlClient(t, e), "SELECT kind, count(*) FROM ev GROUP BY kind ORDER BY kind"), "a|50", "b|100")
	// create_append on an existing table appends; on a missing one creates.
	if n, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeCreateAppend, eventsRows(t, e, 1000, 10, "c")); err != nil || n != 10 {
		t.Fatalf("create_append to an existing table: %d %v", n, err)
	}
	if got := nativeIDs(t, e, "ev"); len(got) != 160 {
		t.Fatalf("after create_append: %d rows", len(got))
	}
	if n, err := adbcIngest(ctx, cnxn, "ev2", adbc.OptionValueIngestModeCreateAppend, a); err != nil || n != 100 || len(nativeIDs(t, e, "ev2")) != 100 {
		t.Fatalf("create_append to a missing table: %d %v", n, err)
	}
	// replace: drop and create.
	if n, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeReplace, eventsRows(t, e, 7, 3, "r")); err != nil || n != 3 {
		t.Fatalf("replace: %d %v", n, err)
	}
	if got := nativeIDs(t, e, "ev"); fmt.Sprint(got) != "[7 8 9]" {
		t.Fatalf("after replace: %v", got)
	}
	// A batch that does not match the table: InvalidArgument, nothing of it.
	other := jsonBatch(t, e.mem, sqlUsersSchema, `{"id":1,"name":"x"}`)
	defer other.Release()
	if _, err := adbcIngest(ctx, cnxn, "ev", adbc.OptionValueIngestModeAppend, other); adbcCode(err) != codes.InvalidArgument {
		t.Fatalf("append of another schema: %v", err)
	}
	if got := nativeIDs(t, e, "ev"); fmt.Sprint(got) != "[7 8 9]" {
		t.Fatalf("after a refused append: %v", got)
	}
}

// The arrow-go client sends ingest options: flightwal.primary_key names
// the key of a table the ingest creates.
func TestFlightSQLIngestPrimaryKeyOption(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := sqlClient(t, e)
	plain := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rec := jsonBatch(t, e.mem, plain, `{"k":"a","v":1}`, `{"k":"b","v":2}`)
	defer rec.Release()
	ingest := func(table string, opts map[string]string) (int64, error) {
		rdr, _ := array.NewRecordReader(plain, []arrow.RecordBatch{rec})
		defer rdr.Release()
		return c.ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{
			TableDefinitionOptions: &flightsql.TableDefinitionOptions{IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionCreate, IfExists: flightsql.TableDefinitionOptionsTableExistsOptionAppend},
			Table:                  table, Options: opts})
	}
	if n, err := ingest("kv", map[string]string{"flightwal.primary_key": "k"}); err != nil || n != 2 {
		t.Fatalf("ingest with a key option: %d %v", n, err)
	}
	if tbl, err := e.db.Table(ctx, "kv"); err != nil || tbl.PrimaryKey() != "k" {
		t.Fatalf("kv's key: %v", err)
	}
	if _, err := ingest("kv2", map[string]string{"flightwal.primary_kee": "k"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a misspelt option: %v", err)
	}
	if _, err := ingest("kv3", map[string]string{"flightwal.primary_key": "nope"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a key that is not a column: %v", err)
	}
	if names, _ := e.db.ListTables(ctx); fmt.Sprint(names) != "[kv]" {
		t.Fatalf("tables: %v", names)
	}
}
