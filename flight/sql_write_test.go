//go:build duckdb_arrow

package flight_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc/codes"
)

// nativeIDs is the sorted ids a JSON ticket reads from table.
func nativeIDs(t *testing.T, e *env, table string) []int64 {
	t.Helper()
	rec := e.mustGet(map[string]any{"table": table})
	defer rec.Release()
	out := ids(rec)
	slices.Sort(out)
	return out
}

func TestFlightSQLInsertDelete(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	ctx := context.Background()

	// INSERT upserts by key: id 1 replaced, 100 added; counted 2.
	n, err := c.ExecuteUpdate(ctx, `INSERT INTO events VALUES (1, 7, 'x', 0.5), (100, 1, 'new', 2)`)
	if err != nil || n != 2 {
		t.Fatalf("INSERT: %d %v", n, err)
	}
	wantRows(t, "after INSERT", fetchSQL(t, e, c, "SELECT id, user_id, kind FROM events WHERE id IN (1, 100) ORDER BY id"), "1|7|x", "100|1|new")
	if got := nativeIDs(t, e, "events"); len(got) != 21 || got[20] != 100 {
		t.Fatalf("native read after INSERT: %v", got)
	}
	// A column list, defaults (NULL) for the others, INSERT ... SELECT from
	// the table itself, and qualified names.
	n, err = c.ExecuteUpdate(ctx, `INSERT INTO flightwal.main.events (id, kind) VALUES (101, 'partial')`)
	if err != nil || n != 1 {
		t.Fatalf("INSERT with columns: %d %v", n, err)
	}
	wantRows(t, "partial row", fetchSQL(t, e, c, "SELECT id, user_id, kind, amount FROM events WHERE id = 101"), "101|(null)|partial|(null)")
	n, err = c.ExecuteUpdate(ctx, `INSERT INTO main.events SELECT id + 1000, user_id, 'copy', amount FROM events WHERE id < 5`)
	if err != nil || n != 5 {
		t.Fatalf("INSERT ... SELECT: %d %v", n, err)
	}
	wantRows(t, "copies", fetchSQL(t, e, c, "SELECT count(*) FROM events WHERE kind = 'copy'"), "5")

	// DELETE ... WHERE deletes the matching keys, counted; the next query
	// and the native read no longer see them.
	n, err = c.ExecuteUpdate(ctx, `DELETE FROM events WHERE kind = 'copy' OR id = 100`)
	if err != nil || n != 6 {
		t.Fatalf("DELETE: %d %v", n, err)
	}
	wantRows(t, "after DELETE", fetchSQL(t, e, c, "SELECT count(*) FROM events WHERE id >= 100"), "1")
	if got := nativeIDs(t, e, "events"); len(got) != 21 || slices.Contains(got, 100) || slices.Contains(got, 1000) {
		t.Fatalf("native read after DELETE: %v", got)
	}
	n, err = c.ExecuteUpdate(ctx, `DELETE FROM events WHERE id = 123456`)
	if err != nil || n != 0 {
		t.Fatalf("DELETE of nothing: %d %v", n, err)
	}

	// Errors change nothing and leave the next statement working.
	before := nativeIDs(t, e, "events")
	for _, tc := range []struct {
		sql  string
		code codes.Code
		msg  string
	}{
		{`INSERT INTO nope VALUES (1)`, codes.NotFound, "nope"},
		{`DELETE FROM nope WHERE id = 1`, codes.NotFound, "nope"},
		{`INSERT INTO events (id, nocolumn) VALUES (5, 1)`, codes.InvalidArgument, "nocolumn"},
		{`INSERT INTO events VALUES (5, 1)`, codes.InvalidArgument, ""},
		{`INSERT INTO events (kind) VALUES ('no key')`, codes.InvalidArgument, "null"},
		{`INSERT INTO events VALUES (7, 1, 'a', 1), (7, 2, 'b', 2)`, codes.InvalidArgument, "twice"},
		{`DELETE FROM events WHERE nocolumn = 1`, codes.InvalidArgument, "nocolumn"},
		{`INSERINTO events VALUES (1)`, codes.Unimplemented, ""},
		{`UPDATE events SET kind = 'u'`, codes.Unimplemented, ""},
		{`SELECT 1; DELETE FROM events`, codes.InvalidArgument, "one statement"},
		{`BEGIN TRANSACTION`, codes.Unimplemented, "transaction"},
	} {
		_, err := c.ExecuteUpdate(ctx, tc.sql)
		wantCode(t, err, tc.code, tc.msg)
	}
	if got := nativeIDs(t, e, "events"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("failed writes changed the table: %v, was %v", got, before)
	}
	wantRows(t, "next statement", fetchSQL(t, e, c, "SELECT count(*) FROM events"), "21")
}

// fetchSQL runs query with c and returns its one batch.
func fetchSQL(t *testing.T, e *env, c *flightsql.Client, query string) arrow.RecordBatch {
	t.Helper()
	info, err := c.Execute(context.Background(), query)
	return fetch(t, e, c, info, err)
}

func TestFlightSQLCreateDrop(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	ctx := context.Background()
	if _, err := c.ExecuteUpdate(ctx, `CREATE TABLE vecs (id BIGINT PRIMARY KEY, vec FLOAT[4], name VARCHAR NOT NULL, seen TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	tbl, err := e.db.Table(ctx, "vecs")
	if err != nil {
		t.Fatal(err)
	}
	sc := tbl.Schema()
	if tbl.PrimaryKey() != "id" || sc.NumFields() != 4 || sc.Field(0).Nullable || sc.Field(2).Nullable || !sc.Field(3).Nullable ||
		!arrow.TypeEqual(sc.Field(1).Type, arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32)) {
		t.Fatalf("CREATE TABLE made %s (pk %q)", sc, tbl.PrimaryKey())
	}
	n, err := c.ExecuteUpdate(ctx, `INSERT INTO vecs VALUES (1, [1, 0, 0, 0], 'a', TIMESTAMP '2026-01-02 03:04:05'), (2, [0, 1, 0, 0], 'b', NULL)`)
	if err != nil || n != 2 {
		t.Fatalf("INSERT into vecs: %d %v", n, err)
	}
	// The native pk ticket reads what SQL wrote.
	rec := e.mustGet(map[string]any{"table": "vecs", "pk": []int64{1}})
	if got := fmt.Sprint(rowsOf(rec)); got != "[1|[1,0,0,0]|a|2026-01-02T03:04:05]" {
		t.Fatalf("pk read after SQL INSERT: %s", got)
	}
	rec.Release()
	_, err = c.ExecuteUpdate(ctx, `INSERT INTO vecs VALUES (3, [1, 2, 3], 'c', NULL)`)
	wantCode(t, err, codes.InvalidArgument, "")

	_, err = c.ExecuteUpdate(ctx, `CREATE TABLE vecs (id BIGINT)`)
	wantCode(t, err, codes.AlreadyExists, "vecs")
	if _, err := c.ExecuteUpdate(ctx, `CREATE TABLE IF NOT EXISTS vecs (id BIGINT)`); err != nil {
		t.Fatalf("CREATE TABLE IF NOT EXISTS of an existing table: %v", err)
	}
	_, err = c.ExecuteUpdate(ctx, `CREATE TABLE two (a BIGINT, b BIGINT, PRIMARY KEY (a, b))`)
	wantCode(t, err, codes.InvalidArgument, "primary key")
	_, err = c.ExecuteUpdate(ctx, `CREATE TEMP TABLE tmp (a BIGINT)`)
	wantCode(t, err, codes.Unimplemented, "temporary")
	_, err = c.ExecuteUpdate(ctx, `CREATE VIEW v AS SELECT 1`)
	wantCode(t, err, codes.Unimplemented, "")

	// CREATE TABLE ... AS SELECT: an append-only table with the rows.
	n, err = c.ExecuteUpdate(ctx, `CREATE TABLE small AS SELECT id, kind FROM events WHERE id < 5`)
	if err != nil || n != 5 {
		t.Fatalf("CTAS: %d %v", n, err)
	}
	if got := nativeIDs(t, e, "small"); fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Fatalf("CTAS rows: %v", got)
	}
	n, err = c.ExecuteUpdate(ctx, `INSERT INTO small VALUES (1, 'again')`)
	if err != nil || n != 1 || len(nativeIDs(t, e, "small")) != 6 {
		t.Fatalf("append to a table without a key: %d %v", n, err)
	}
	_, err = c.ExecuteUpdate(ctx, `DELETE FROM small WHERE id = 1`)
	wantCode(t, err, codes.InvalidArgument, "primary key")

	for _, name := range []string{"vecs", "main.small"} {
		if _, err := c.ExecuteUpdate(ctx, "DROP TABLE "+name); err != nil {
			t.Fatalf("DROP TABLE %s: %v", name, err)
		}
	}
	_, err = c.ExecuteUpdate(ctx, `DROP TABLE vecs`)
	wantCode(t, err, codes.NotFound, "vecs")
	if _, err := c.ExecuteUpdate(ctx, `DROP TABLE IF EXISTS vecs`); err != nil {
		t.Fatal(err)
	}
	if names, _ := e.db.ListTables(ctx); fmt.Sprint(names) != "[events users]" {
		t.Fatalf("tables after DROP: %v", names)
	}
	wantRows(t, "next statement", fetchSQL(t, e, c, "SELECT count(*) FROM events"), "20")
}

// ADBC binds arrays of parameters: a prepared INSERT with three rows is
// one durable batch; ExecuteQuery of a write runs it too (what Python's
// DB-API cursor.execute does) and returns the count.
func TestFlightSQLADBCWrites(t *testing.T) {
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
	st, err := cnxn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetSqlQuery("INSERT INTO events (id, kind) VALUES (?, ?)"); err != nil {
		t.Fatal(err)
	}
	if err := st.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	params := jsonBatch(t, e.mem, arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.BinaryTypes.String}}, nil),
		`{"a":300,"b":"p"}`, `{"a":301,"b":"q"}`, `{"a":302,"b":"r"}`)
	defer params.Release()
	if err := st.Bind(ctx, params); err != nil {
		t.Fatal(err)
	}
	seqBefore := walSeq(t, e, "events")
	n, err := st.ExecuteUpdate(ctx)
	if err != nil || n != 3 {
		t.Fatalf("prepared INSERT of 3 rows: %d %v", n, err)
	}
	if d := walSeq(t, e, "events") - seqBefore; d != 1 {
		t.Fatalf("3 rows of parameters took %d WAL batches, want 1", d)
	}
	c := sqlClient(t, e)
	wantRows(t, "bound rows", fetchSQL(t, e, c, "SELECT id, kind FROM events WHERE id >= 300 ORDER BY id"), "300|p", "301|q", "302|r")

	// A prepared DELETE with an array of keys.
	del, err := cnxn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer del.Close()
	del.SetSqlQuery("DELETE FROM events WHERE id = ?")
	if err := del.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	keys := jsonBatch(t, e.mem, arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil), `{"k":300}`, `{"k":302}`, `{"k":999}`)
	defer keys.Release()
	del.Bind(ctx, keys)
	if n, err := del.ExecuteUpdate(ctx); err != nil || n != 2 {
		t.Fatalf("prepared DELETE: %d %v", n, err)
	}
	wantRows(t, "after prepared DELETE", fetchSQL(t, e, c, "SELECT id FROM events WHERE id >= 300"), "301")

	// ExecuteQuery of an INSERT: the write runs, the result is its count.
	q, err := cnxn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.SetSqlQuery("INSERT INTO users VALUES (9, 'zed')")
	r, _, err := q.ExecuteQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r.Next() {
		got = append(got, rowsOf(r.RecordBatch())...)
	}
	r.Release()
	if fmt.Sprint(got) != "[1]" {
		t.Fatalf("ExecuteQuery of INSERT: %v", got)
	}
	wantRows(t, "inserted by ExecuteQuery", fetchSQL(t, e, c, "SELECT name FROM users WHERE id = 9"), "zed")
}

// walSeq is the sum of table's regions' last WAL sequence numbers.
func walSeq(t *testing.T, e *env, table string) int64 {
	t.Helper()
	tbl, err := e.db.Table(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range tbl.Stats().Regions {
		sum += int64(r.LastSeq)
	}
	return sum
}

func TestFlightSQLDatabaseSQLWrites(t *testing.T) {
	e := sqlEnv(t)
	db, err := sql.Open("flightsql", "flightsql://"+e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec("INSERT INTO users VALUES (?, ?)", int64(5), "eve")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("rows affected: %d %v", n, err)
	}
	var name string
	if err := db.QueryRow("SELECT name FROM users WHERE id = 5").Scan(&name); err != nil || name != "eve" {
		t.Fatalf("read back: %q %v", name, err)
	}
	if res, err = db.Exec("DELETE FROM users WHERE name LIKE 'e%'"); err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("DELETE affected %d", n)
	}
	if err := db.QueryRow("SELECT count(*) FROM users").Scan(new(int64)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE viasql (id BIGINT PRIMARY KEY, v DOUBLE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DROP TABLE viasql"); err != nil {
		t.Fatal(err)
	}
}
