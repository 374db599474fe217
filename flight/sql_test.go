//go:build duckdb_arrow

package flight_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	_ "github.com/apache/arrow-go/v18/arrow/flight/flightsql/driver" // database/sql "flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

var sqlPKMeta = arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})

var (
	sqlEventsSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: sqlPKMeta},
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "kind", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	sqlUsersSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: sqlPKMeta},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
)

// sqlEnv is a server with two tables: events 0..19 (user_id = id%3, kind
// a/b alternating, amount = id*1.5) and users 0..2.
func sqlEnv(t *testing.T, opts ...envOption) *env {
	e := newEnv(t, opts...)
	e.createTable("events", sqlEventsSchema, nil)
	e.createTable("users", sqlUsersSchema, nil)
	var rows []string
	for i := 0; i < 20; i++ {
		rows = append(rows, fmt.Sprintf(`{"id":%d,"user_id":%d,"kind":%q,"amount":%g}`, i, i%3, string(rune('a'+i%2)), float64(i)*1.5))
	}
	ev := jsonBatch(t, e.mem, sqlEventsSchema, rows...)
	defer ev.Release()
	e.mustPut(pathDesc("events"), ev)
	us := jsonBatch(t, e.mem, sqlUsersSchema, `{"id":0,"name":"ann"}`, `{"id":1,"name":"bob"}`, `{"id":2,"name":"cy"}`)
	defer us.Release()
	e.mustPut(pathDesc("users"), us)
	return e
}

func jsonBatch(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows ...string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader("["+strings.Join(rows, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func sqlClient(t testing.TB, e *env) *flightsql.Client {
	t.Helper()
	c, err := flightsql.NewClient(e.srv.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c.Alloc = e.mem
	t.Cleanup(func() { c.Close() })
	return c
}

// fetch reads every endpoint of info into one batch.
func fetch(t *testing.T, e *env, c *flightsql.Client, info *flight.FlightInfo, err error) arrow.RecordBatch {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var recs []arrow.RecordBatch
	var schema *arrow.Schema
	for _, ep := range info.Endpoint {
		r, err := c.DoGet(context.Background(), ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		schema = r.Schema()
		for r.Next() {
			rec := r.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	return oneRecord(t, e, schema, recs)
}

// oneRecord concatenates recs (releasing them) into one batch released at
// the end of the test.
func oneRecord(t *testing.T, e *env, schema *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	if len(recs) == 1 {
		t.Cleanup(recs[0].Release)
		return recs[0]
	}
	tbl := array.NewTableFromRecords(schema, recs)
	for _, r := range recs {
		r.Release()
	}
	defer tbl.Release()
	out := concatTable(e.mem, tbl)
	t.Cleanup(out.Release)
	return out
}

// rowsOf renders rec's rows as "v1|v2|..." strings.
func rowsOf(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	for i := range out {
		var vals []string
		for _, c := range rec.Columns() {
			vals = append(vals, c.ValueStr(i))
		}
		out[i] = strings.Join(vals, "|")
	}
	return out
}

func wantRows(t *testing.T, what string, rec arrow.RecordBatch, want ...string) {
	t.Helper()
	if got := rowsOf(rec); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func TestFlightSQLMetadata(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	ctx := context.Background()

	info, err := c.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName, flightsql.SqlInfoFlightSqlServerTransaction, flightsql.SqlInfoFlightSqlServerSql})
	rec := fetch(t, e, c, info, err)
	got := map[uint32]string{}
	for i := 0; i < int(rec.NumRows()); i++ {
		got[rec.Column(0).(*array.Uint32).Value(i)] = rec.Column(1).ValueStr(i)
	}
	if len(got) != 3 || !strings.Contains(got[uint32(flightsql.SqlInfoFlightSqlServerName)], "flightwal") ||
		!strings.Contains(got[uint32(flightsql.SqlInfoFlightSqlServerSql)], "true") ||
		!strings.Contains(got[uint32(flightsql.SqlInfoFlightSqlServerTransaction)], fmt.Sprint(int32(flightsql.SqlTransactionNone))) {
		t.Fatalf("GetSqlInfo: %v", got)
	}

	info, err = c.GetCatalogs(ctx)
	wantRows(t, "catalogs", fetch(t, e, c, info, err), "flightwal")
	info, err = c.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{})
	wantRows(t, "schemas", fetch(t, e, c, info, err), "flightwal|main")
	info, err = c.GetTableTypes(ctx)
	wantRows(t, "table types", fetch(t, e, c, info, err), "TABLE")

	info, err = c.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
	rec = fetch(t, e, c, info, err)
	if rec.NumRows() != 2 || rec.Column(2).ValueStr(0) != "events" || rec.Column(2).ValueStr(1) != "users" || rec.Column(3).ValueStr(0) != "TABLE" {
		t.Fatalf("GetTables: %v", rowsOf(rec))
	}
	sc, err := flight.DeserializeSchema(rec.Column(4).(*array.Binary).Value(0), e.mem)
	if err != nil || !sc.HasField("amount") || sc.NumFields() != 4 {
		t.Fatalf("GetTables schema of events: %v %v", sc, err)
	}
	pat := "us%"
	info, err = c.GetTables(ctx, &flightsql.GetTablesOpts{TableNameFilterPattern: &pat})
	if r := fetch(t, e, c, info, err); r.NumRows() != 1 || r.Column(2).ValueStr(0) != "users" || r.NumCols() != 4 {
		t.Fatalf("GetTables us%%: %v", rowsOf(r))
	}
	other := "other"
	info, err = c.GetTables(ctx, &flightsql.GetTablesOpts{Catalog: &other})
	if r := fetch(t, e, c, info, err); r.NumRows() != 0 {
		t.Fatalf("GetTables of catalog other: %v", rowsOf(r))
	}

	info, err = c.GetPrimaryKeys(ctx, flightsql.TableRef{Table: "events"})
	rec = fetch(t, e, c, info, err)
	if rec.NumRows() != 1 || rec.Column(2).ValueStr(0) != "events" || rec.Column(3).ValueStr(0) != "id" || rec.Column(4).ValueStr(0) != "1" {
		t.Fatalf("GetPrimaryKeys: %v", rowsOf(rec))
	}
	_, err = c.GetPrimaryKeys(ctx, flightsql.TableRef{Table: "nope"})
	if err == nil {
		info, _ = c.GetPrimaryKeys(ctx, flightsql.TableRef{Table: "nope"})
		_, err = c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err == nil {
			r, _ := c.DoGet(ctx, info.Endpoint[0].Ticket)
			for r.Next() {
			}
			err = r.Err()
			r.Release()
		}
	}
	wantCode(t, err, codes.NotFound, "nope")

	info, err = c.GetXdbcTypeInfo(ctx, nil)
	rec = fetch(t, e, c, info, err)
	if rec.NumRows() < 8 || !strings.Contains(fmt.Sprint(rowsOf(rec)), "BIGINT") {
		t.Fatalf("GetXdbcTypeInfo: %d rows", rec.NumRows())
	}

	// ListActions lists both contracts.
	stream, err := e.client.ListActions(ctx, &flight.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for {
		a, err := stream.Recv()
		if err != nil {
			break
		}
		types[a.Type] = true
	}
	if !types["create_table"] || !types["CreatePreparedStatement"] || !types["ClosePreparedStatement"] {
		t.Fatalf("ListActions: %v", types)
	}
}

func TestFlightSQLQueries(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	ctx := context.Background()
	q := func(sql string) arrow.RecordBatch {
		t.Helper()
		info, err := c.Execute(ctx, sql)
		return fetch(t, e, c, info, err)
	}
	rec := q("SELECT * FROM events WHERE id < 10 ORDER BY id")
	if rec.NumRows() != 10 || rec.NumCols() != 4 || rec.Schema().Field(3).Name != "amount" {
		t.Fatalf("SELECT * WHERE id < 10: %v", rowsOf(rec))
	}
	wantRows(t, "first row", rec.NewSlice(0, 1), "0|0|a|0")

	wantRows(t, "join + group by", q(`SELECT u.name, count(*) AS n, sum(e.amount) AS total
		FROM flightwal.main.events e JOIN main.users u ON e.user_id = u.id
		GROUP BY u.name ORDER BY u.name`),
		"ann|7|94.5", "bob|7|105", "cy|6|85.5")
	wantRows(t, "cte", q(`WITH big AS (SELECT * FROM events WHERE amount > 20) SELECT count(*), min(id) FROM big`), "6|14")
	wantRows(t, "window", q(`SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS rn,
		sum(amount) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s
		FROM events WHERE id IN (3, 4, 6) ORDER BY id`), "3|1|4.5", "4|1|10.5", "6|2|15")
	// Inner joins push each table's own conjuncts (WHERE and ON) into its
	// scan, point lookups included; the answer is the engine's either way.
	wantRows(t, "join with pushed conjuncts", q(`SELECT u.name, count(*), sum(e.amount)
		FROM events e JOIN users u ON e.user_id = u.id AND u.name <> 'bob'
		WHERE e.id < 14 AND u.id IN (1, 2) AND e.kind = 'a' GROUP BY u.name ORDER BY u.name`),
		"cy|2|15")
	wantRows(t, "self join (a table read once, scanned twice)", q(`SELECT count(*) FROM events a JOIN events b ON a.id = b.id + 1`), "19")
	wantRows(t, "quoted and mixed case", q(`SELECT count(*) FROM "events" WHERE KIND = 'b'`), "10")

	// Freshness: a row acknowledged a moment ago is in the next query; a
	// deleted key is not.
	row := jsonBatch(t, e.mem, sqlEventsSchema, `{"id":100,"user_id":1,"kind":"new","amount":1}`)
	defer row.Release()
	e.mustPut(pathDesc("events"), row)
	wantRows(t, "fresh row", q("SELECT kind FROM events WHERE id = 100"), "new")
	del := keyBatch(e.mem, []int64{5})
	defer del.Release()
	e.mustPut(cmdDesc(map[string]any{"table": "events", "op": "delete"}), del)
	wantRows(t, "deleted key", q("SELECT count(*) FROM events WHERE id = 5"), "0")
	wantRows(t, "count after", q("SELECT count(*) FROM events"), "20")

	// A ticket stays good: DoGet it again, and it reads a fresh snapshot.
	info, err := c.Execute(ctx, "SELECT count(*) FROM events")
	wantRows(t, "ticket", fetch(t, e, c, info, err), "20")
	row2 := jsonBatch(t, e.mem, sqlEventsSchema, `{"id":101}`)
	defer row2.Release()
	e.mustPut(pathDesc("events"), row2)
	wantRows(t, "ticket again", fetch(t, e, c, info, nil), "21")

	// Prepared statements.
	st, err := c.Prepare(ctx, "SELECT name FROM users WHERE id >= 1 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if f := st.DatasetSchema(); f == nil || f.NumFields() != 1 || f.Field(0).Name != "name" {
		t.Fatalf("prepared dataset schema: %v", f)
	}
	info, err = st.Execute(ctx)
	wantRows(t, "prepared", fetch(t, e, c, info, err), "bob", "cy")
	info, err = st.Execute(ctx)
	wantRows(t, "prepared again", fetch(t, e, c, info, err), "bob", "cy")
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// With a parameter.
	ps, err := c.Prepare(ctx, "SELECT name FROM users WHERE id = ? OR name = $2 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if p := ps.ParameterSchema(); p == nil || p.NumFields() != 2 || !arrow.TypeEqual(p.Field(0).Type, arrow.PrimitiveTypes.Int64) || !arrow.TypeEqual(p.Field(1).Type, arrow.BinaryTypes.String) {
		t.Fatalf("parameter schema: %v", p)
	}
	paramSchema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.BinaryTypes.String}}, nil)
	params := jsonBatch(t, e.mem, paramSchema, `{"a":2,"b":"ann"}`)
	defer params.Release()
	ps.SetParameters(params)
	info, err = ps.Execute(ctx)
	wantRows(t, "prepared with parameters", fetch(t, e, c, info, err), "ann", "cy")
	params2 := jsonBatch(t, e.mem, paramSchema, `{"a":1,"b":null}`)
	defer params2.Release()
	ps.SetParameters(params2)
	info, err = ps.Execute(ctx)
	wantRows(t, "rebound", fetch(t, e, c, info, err), "bob")
	if err := ps.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A large result comes in messages under 4 MiB.
	wantRows(t, "large", q("SELECT count(*), sum(length(s)) FROM (SELECT repeat('x', 1000) AS s FROM range(20000))"), "20000|20000000")
	big := q("SELECT repeat('x', 1000) AS s FROM range(20000)")
	if big.NumRows() != 20000 {
		t.Fatalf("large result: %d rows", big.NumRows())
	}

	// The native contract still works beside it.
	if n := e.mustGet(map[string]any{"table": "events"}).NumRows(); n != 21 {
		t.Fatalf("native DoGet: %d rows", n)
	}
}

func TestFlightSQLErrors(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	ctx := context.Background()
	run := func(sql string) error {
		info, err := c.Execute(ctx, sql)
		if err != nil {
			return err
		}
		r, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			return err
		}
		defer r.Release()
		for r.Next() {
		}
		return r.Err()
	}
	noJSON := func(err error) {
		t.Helper()
		if err != nil && strings.Contains(err.Error(), "JSON") {
			t.Fatalf("a Flight SQL error talks of JSON: %v", err)
		}
	}
	err := run("SELEC * FROM events")
	wantCode(t, err, codes.InvalidArgument, "syntax error")
	noJSON(err)
	err = run("SELECT * FROM nope")
	wantCode(t, err, codes.NotFound, "nope")
	noJSON(err)
	err = run("SELECT nocolumn FROM events")
	wantCode(t, err, codes.InvalidArgument, "nocolumn")
	err = run("SELECT 'a' + 1 FROM events")
	wantCode(t, err, codes.InvalidArgument, "")
	err = run("UPDATE events SET kind = 'u'")
	wantCode(t, err, codes.Unimplemented, "")
	_, err = c.BeginTransaction(ctx)
	wantCode(t, err, codes.Unimplemented, "")
	_, err = c.Prepare(ctx, "SELEC 1")
	wantCode(t, err, codes.InvalidArgument, "syntax error")
	noJSON(err)
	// No reading the server's files through the engine.
	for _, q := range []string{"SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM '/etc/passwd'", "SELECT * FROM read_text('/etc/hostname')"} {
		err = run(q)
		if err == nil || !strings.Contains(err.Error(), "disabled by configuration") && !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = c.ExecuteUpdate(ctx, "UPDATE events SET kind = 'u' WHERE id = 1")
	wantCode(t, err, codes.Unimplemented, "")
	// The next statement still works.
	if err := run("SELECT count(*) FROM events"); err != nil {
		t.Fatal(err)
	}
	// The native contract keeps its own messages.
	_, err = e.get(map[string]any{"table": "nope"})
	wantCode(t, err, codes.NotFound, "nope")
	r, err := e.client.DoGet(ctx, &flight.Ticket{Ticket: []byte("not json")})
	if err == nil {
		_, err = r.Recv()
	}
	wantCode(t, err, codes.InvalidArgument, "JSON object")
}

func TestFlightSQLADBC(t *testing.T) {
	e := sqlEnv(t)
	ctx := context.Background()
	drv := adbcflightsql.NewDriver(e.mem)
	db, err := drv.NewDatabase(map[string]string{adbc.OptionKeyURI: "grpc://" + e.srv.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cnxn, err := db.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cnxn.Close()
	read := func(r array.RecordReader, err error) arrow.RecordBatch {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		var recs []arrow.RecordBatch
		for r.Next() {
			rec := r.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return oneRecord(t, e, r.Schema(), recs)
	}

	info := read(cnxn.GetInfo(ctx, []adbc.InfoCode{adbc.InfoVendorName, adbc.InfoVendorArrowVersion}))
	if s := fmt.Sprint(rowsOf(info)); !strings.Contains(s, "flightwal") || !strings.Contains(s, arrow.PkgVersion) {
		t.Fatalf("GetInfo: %s", s)
	}
	objs := read(cnxn.GetObjects(ctx, adbc.ObjectDepthAll, nil, nil, nil, nil, nil))
	s := fmt.Sprint(rowsOf(objs))
	for _, want := range []string{"flightwal", "main", "events", "users", "amount", "user_id"} {
		if !strings.Contains(s, want) {
			t.Fatalf("GetObjects lacks %q: %s", want, s)
		}
	}

	query := func(sql string) arrow.RecordBatch {
		t.Helper()
		st, err := cnxn.NewStatement()
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.SetSqlQuery(sql); err != nil {
			t.Fatal(err)
		}
		r, _, err := st.ExecuteQuery(ctx)
		return read(r, err)
	}
	if r := query("SELECT * FROM events WHERE id < 10"); r.NumRows() != 10 {
		t.Fatalf("ADBC SELECT: %d rows", r.NumRows())
	}
	wantRows(t, "ADBC join", query(`SELECT u.name, count(*) FROM events e JOIN users u ON e.user_id = u.id WHERE u.id = 2 GROUP BY u.name`), "cy|6")
	row := jsonBatch(t, e.mem, sqlEventsSchema, `{"id":200,"user_id":2,"kind":"z","amount":2}`)
	defer row.Release()
	e.mustPut(pathDesc("events"), row)
	wantRows(t, "ADBC fresh row", query("SELECT kind FROM events WHERE id = 200"), "z")

	// A prepared statement with a bound parameter.
	ps, err := cnxn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.SetSqlQuery("SELECT kind FROM events WHERE id = ?"); err != nil {
		t.Fatal(err)
	}
	if err := ps.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	param := jsonBatch(t, e.mem, arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64}}, nil), `{"p":200}`)
	defer param.Release()
	if err := ps.Bind(ctx, param); err != nil {
		t.Fatal(err)
	}
	r, _, err := ps.ExecuteQuery(ctx)
	wantRows(t, "ADBC prepared", read(r, err), "z")

	st, err := cnxn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetSqlQuery("SELECT * FROM missing_table")
	_, _, err = st.ExecuteQuery(ctx)
	if err == nil || !strings.Contains(err.Error(), "missing_table") || !strings.Contains(fmt.Sprint(err), "NotFound") && !strings.Contains(fmt.Sprint(err), "Not Found") && !strings.Contains(fmt.Sprint(err), "NOT_FOUND") {
		t.Fatalf("ADBC unknown table: %v", err)
	}
}

func TestFlightSQLDatabaseSQLDriver(t *testing.T) {
	e := sqlEnv(t)
	db, err := sql.Open("flightsql", "flightsql://"+e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	var total float64
	if err := db.QueryRow("SELECT count(*), sum(amount) FROM events WHERE id < 10").Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if n != 10 || total != 67.5 {
		t.Fatalf("count, sum: %d %g", n, total)
	}
	var name string
	if err := db.QueryRow("SELECT name FROM users WHERE id = ?", int64(1)).Scan(&name); err != nil || name != "bob" {
		t.Fatalf("with a parameter: %q %v", name, err)
	}
	rows, err := db.Query("SELECT u.name, count(*) FROM events e JOIN users u ON e.user_id = u.id GROUP BY ALL ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		var c int64
		if err := rows.Scan(&s, &c); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%d", s, c))
	}
	rows.Close()
	if fmt.Sprint(got) != "[ann=7 bob=7 cy=6]" {
		t.Fatalf("group by: %v", got)
	}
	if err := db.QueryRow("SELECT * FROM nope").Scan(&name); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown table: %v", err)
	}
}

// A query is not disturbed by a concurrent flush or compaction: it answers
// what the JSON ticket answers.
func TestFlightSQLUnderFlushAndCompact(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		var rows []string
		for i := 0; i < 200; i++ {
			id := 1000 + round*200 + i
			rows = append(rows, fmt.Sprintf(`{"id":%d,"user_id":%d,"kind":"r%d","amount":1}`, id, id%3, round))
		}
		b := jsonBatch(t, e.mem, sqlEventsSchema, rows...)
		e.mustPut(pathDesc("events"), b)
		b.Release()
	}
	native := e.mustGet(map[string]any{"table": "events"})
	var sum int64
	for _, id := range ids(native) {
		sum += id
	}
	want := fmt.Sprintf("%d|%d", native.NumRows(), sum)
	done := make(chan error, 1)
	go func() {
		for _, a := range []string{"flush", "compact", "flush", "compact"} {
			if _, err := e.action(a, map[string]any{"table": "events"}); err != nil {
				done <- fmt.Errorf("%s: %w", a, err)
				return
			}
		}
		done <- nil
	}()
	for i := 0; ; i++ {
		info, err := c.Execute(ctx, "SELECT count(*), sum(id) FROM events")
		wantRows(t, fmt.Sprintf("query %d during flush and compaction", i), fetch(t, e, c, info, err), want)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Execute(ctx, "SELECT count(*), sum(id) FROM events")
			wantRows(t, "after", fetch(t, e, c, info, err), want)
			return
		default:
		}
	}
}
