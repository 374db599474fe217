//go:build duckdb_arrow

package flight_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
)

// Pushed-down WHERE conjuncts and point lookups answer what DuckDB
// answers over the whole table (a subquery in FROM defeats pushdown).
func TestFlightSQLPushdownSameAnswer(t *testing.T) {
	e := sqlEnv(t)
	c := sqlClient(t, e)
	nulls := jsonBatch(t, e.mem, sqlEventsSchema, `{"id":50,"user_id":null,"kind":null,"amount":null}`, `{"id":51,"user_id":1,"kind":"it's","amount":3}`, `{"id":52,"user_id":1,"kind":"a_b","amount":-1}`)
	defer nulls.Release()
	e.mustPut(pathDesc("events"), nulls)
	// A frozen and flushed part too: pushdown reads every layer.
	e.mustAction("flush", map[string]any{"table": "events"})
	more := jsonBatch(t, e.mem, sqlEventsSchema, `{"id":3,"user_id":2,"kind":"replaced","amount":100}`, `{"id":60,"user_id":0,"kind":"b","amount":7.5}`)
	defer more.Release()
	e.mustPut(pathDesc("events"), more)
	for _, where := range []string{
		"kind = 'a'", "kind != 'a'", "amount > 3", "amount BETWEEN 3 AND 9", "kind IN ('a', 'replaced')",
		"kind NOT IN ('a')", "kind IS NULL", "kind IS NOT NULL", "kind LIKE 'a%'", "kind NOT LIKE 'a%'", "kind LIKE 'a_b'",
		"user_id = 1 OR kind IS NULL", "NOT (kind = 'a')", "id = 3", "id IN (3, 5, 999)", "KIND = 'a'", "amount = 3",
		"id = 3.0", "id = '3'", "kind = 'it''s'", "amount >= 1.5 AND amount < 10.25", "id > 10 AND user_id IS NULL",
		"events.id < 5", "NOT (amount > 3 OR kind = 'b')", "TRUE", "kind < 'b'",
	} {
		pushed := rowsOf(fetchSQL(t, e, c, "SELECT id, kind, amount FROM events WHERE "+where+" ORDER BY id"))
		whole := rowsOf(fetchSQL(t, e, c, "SELECT id, kind, amount FROM (SELECT * FROM events) events WHERE "+where+" ORDER BY id"))
		if fmt.Sprint(pushed) != fmt.Sprint(whole) {
			t.Errorf("WHERE %s: pushed down %q, whole table %q", where, pushed, whole)
		}
		// The plain select the scan answers alone, unordered.
		direct := rowsOf(fetchSQL(t, e, c, "SELECT id, kind, amount FROM events WHERE "+where))
		slices.Sort(direct)
		slices.Sort(whole)
		if fmt.Sprint(direct) != fmt.Sprint(whole) {
			t.Errorf("WHERE %s: the direct scan %q, the engine %q", where, direct, whole)
		}
	}
	// A query is answered with the schema GetFlightInfo announced.
	for _, q := range []string{"SELECT * FROM events WHERE id = 3", "SELECT id, kind FROM events WHERE id < 10 LIMIT 4", "SELECT kind, count(*) FROM events GROUP BY kind"} {
		info, err := c.Execute(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		announced, err := flight.DeserializeSchema(info.Schema, e.mem)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.DoGet(context.Background(), info.Endpoint[0].Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			if !announced.Equal(r.RecordBatch().Schema()) {
				t.Fatalf("%s: announced %s, got %s", q, announced, r.RecordBatch().Schema())
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	wantRows(t, "pk lookup", fetchSQL(t, e, c, "SELECT * FROM events WHERE id = 3"), "3|2|replaced|100")
	// Prepared lookups take the fast path with their parameters as literals.
	db, err := sql.Open("flightsql", "flightsql://"+e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	var amount float64
	if err := db.QueryRow("SELECT id, amount FROM events WHERE kind = ? AND amount > ?", "it's", 2.5).Scan(&id, &amount); err != nil || id != 51 || amount != 3 {
		t.Fatalf("prepared lookup: %d %g %v", id, amount, err)
	}
	if err := db.QueryRow("SELECT amount FROM events WHERE id = ?", int64(60)).Scan(&amount); err != nil || amount != 7.5 {
		t.Fatalf("prepared pk lookup: %g %v", amount, err)
	}
	wantRows(t, "pk IN", fetchSQL(t, e, c, "SELECT id FROM events WHERE id IN (50, 3, 4000) ORDER BY id"), "3", "50")
	if got := fetchSQL(t, e, c, "SELECT id, kind FROM events WHERE id < 10 LIMIT 4"); got.NumRows() != 4 || got.NumCols() != 2 {
		t.Fatalf("LIMIT: %v", rowsOf(got))
	}
	// A key deleted a moment ago is not found, a key written is.
	del := jsonBatch(t, e.mem, arrow.NewSchema(sqlEventsSchema.Fields()[:1], nil), `{"id":3}`)
	defer del.Release()
	e.mustPut(cmdDesc(map[string]any{"table": "events", "op": "delete"}), del)
	if got := fetchSQL(t, e, c, "SELECT * FROM events WHERE id = 3"); got.NumRows() != 0 {
		t.Fatalf("deleted key still found: %v", rowsOf(got))
	}
}
