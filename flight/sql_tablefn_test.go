//go:build duckdb_arrow

package flight_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/internal/datagen"
)

// nearest() and search() in SQL answer what the JSON tickets answer, and
// compose with joins, aggregates and WHERE.
func TestFlightSQLTableFunctions(t *testing.T) {
	e := newEnv(t)
	searchTable(e)
	c := sqlClient(t, e)
	ctx := context.Background()
	q := make([]float32, 8)
	datagen.Vector(q, 9, 1)
	lit := make([]string, len(q))
	qj := make([]float64, len(q))
	for i, x := range q {
		lit[i] = fmt.Sprint(x)
		qj[i] = float64(x)
	}
	vec := "[" + strings.Join(lit, ", ") + "]"

	native := e.mustGet(map[string]any{"table": "s", "columns": []string{"id"}, "filter": "id < 1000",
		"nearest": map[string]any{"column": "vec", "vector": qj, "k": 10, "nprobes": 4, "refine_factor": 1000}})
	defer native.Release()
	// Every partition probed and every candidate re-ranked exactly: both
	// answers are exact, whatever the index builder has done between the
	// two reads (with the default refine factor, a sidecar built in
	// between changed the approximate answer twice).
	got := fetchSQL(t, e, c, "SELECT id, _distance FROM nearest('s', 'vec', "+vec+", 10, filter := 'id < 1000', nprobes := 4, refine_factor := 1000)")
	if fmt.Sprint(rowsOf(got)) != fmt.Sprint(rowsOf(native)) {
		t.Fatalf("nearest: SQL %v, ticket %v", rowsOf(got), rowsOf(native))
	}
	// Composed: an aggregate, a join with another table, a WHERE after.
	if _, err := c.ExecuteUpdate(ctx, "CREATE TABLE tags (id BIGINT PRIMARY KEY, tag VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	ids := ids(native)
	if _, err := c.ExecuteUpdate(ctx, fmt.Sprintf("INSERT INTO tags VALUES (%d, 'first'), (%d, 'second')", ids[0], ids[1])); err != nil {
		t.Fatal(err)
	}
	wantRows(t, "nearest joined", fetchSQL(t, e, c, "SELECT g.tag FROM nearest('s', 'vec', "+vec+", 10, filter := 'id < 1000', nprobes := 4) n JOIN tags g ON g.id = n.id ORDER BY n._distance"), "first", "second")
	wantRows(t, "nearest counted", fetchSQL(t, e, c, "SELECT count(*), bool_and(_distance >= 0) FROM NEAREST('s', 'vec', "+vec+", 7, nprobes := 4) WHERE id >= 0"), "7|true")

	// search: BM25 rows and scores as the ticket's.
	word := strings.Fields(datagen.Text(1, 1600))[0]
	nativeS := e.mustGet(map[string]any{"table": "s", "columns": []string{"id"}, "search": map[string]any{"query": word, "k": 5}})
	defer nativeS.Release()
	gotS := fetchSQL(t, e, c, "SELECT id, _score FROM search('s', '"+word+"', 5, columns := 'text')")
	if gotS.NumRows() == 0 || fmt.Sprint(rowsOf(gotS)) != fmt.Sprint(rowsOf(nativeS)) {
		t.Fatalf("search %q: SQL %v, ticket %v", word, rowsOf(gotS), rowsOf(nativeS))
	}
	wantRows(t, "search in a subquery", fetchSQL(t, e, c, "SELECT count(*) FROM s WHERE id IN (SELECT id FROM search('s', '"+word+"', 5))"), fmt.Sprint(gotS.NumRows()))

	// Fresh: a row acked a moment ago at the query's vector comes first.
	row := datagen.Batch(e.mem, 8, 9, 1, 1) // id 1's vector for seed 9 is q
	defer row.Release()
	e.mustPut(pathDesc("s"), row)
	wantRows(t, "fresh nearest", fetchSQL(t, e, c, "SELECT id FROM nearest('s', 'vec', "+vec+", 1, nprobes := 4)"), "1")

	for _, tc := range []struct {
		sql  string
		code codes.Code
		msg  string
	}{
		{"SELECT * FROM nearest('nope', 'vec', [1], 3)", codes.NotFound, "nope"},
		{"SELECT * FROM nearest('s', 'text', " + vec + ", 3)", codes.InvalidArgument, "ivf_pq"},
		{"SELECT * FROM nearest('s', 'vec', [1, 2], 3)", codes.InvalidArgument, "dimension"},
		{"SELECT * FROM nearest('s', 'vec', " + vec + ")", codes.InvalidArgument, "positional"},
		{"SELECT * FROM nearest('s', 'vec', " + vec + ", 3, nprobe := 2)", codes.InvalidArgument, "nprobe"},
		{"SELECT * FROM nearest('s', 'vec', " + vec + ", 3, filter := 'nocolumn = 1')", codes.NotFound, "nocolumn"},
		{"SELECT * FROM search('s', 'fox', 3, columns := 'vec')", codes.InvalidArgument, "fts"},
		{"SELECT * FROM search('s', 'fox', k)", codes.InvalidArgument, "literal"},
	} {
		info, err := c.Execute(ctx, tc.sql)
		if err == nil {
			err = drainInfo(ctx, c, info, nil)
		}
		wantCode(t, err, tc.code, tc.msg)
	}
}
