//go:build duckdb_arrow

package sqlexec

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"
)

func TestPushdownAnalyze(t *testing.T) {
	ctx := context.Background()
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dc, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	ar, err := duckdb.NewArrowFromConn(dc)
	if err != nil {
		t.Fatal(err)
	}
	tree := func(q string) []byte {
		rr, err := ar.QueryContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)", q)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		rr.Next()
		return []byte(rr.RecordBatch().Column(0).(*array.String).Value(0))
	}
	events := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "kind", Type: arrow.BinaryTypes.String}, {Name: "Amount", Type: arrow.PrimitiveTypes.Float64}, {Name: "vec", Type: arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32)}}, nil)
	users := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	tables := map[string]tableInfo{"events": {events, "id"}, "users": {users, "id"}}
	known := func(s string) string {
		if _, ok := tables[s]; ok {
			return s
		}
		return ""
	}
	show := func(p *pushdownPlan, table string) string {
		r := p.scans[table]
		cols := r.columns
		if p.direct == table {
			cols = p.directColumns
		}
		s := fmt.Sprintf("cols=%v filter=%s pk=%v", cols, filterText(r.filter), r.pk)
		if p.direct == table {
			s += " direct"
			if p.directLimit != nil {
				s += fmt.Sprintf(" limit=%d", *p.directLimit)
			}
		}
		return s
	}
	for _, tc := range []struct{ sql, table, want string }{
		{"SELECT * FROM events WHERE id = 5", "events", `cols=[] filter="id" = 5 pk=[5] direct`},
		{"SELECT id, kind FROM events WHERE id IN (1, 2) AND kind LIKE 'a%' LIMIT 3", "events", `cols=[id kind] filter=("id" IN (1, 2)) AND ("kind" LIKE 'a%') pk=[1 2] direct limit=3`},
		{"SELECT id FROM events WHERE amount >= 1.5 OR kind IS NULL", "events", `cols=[id] filter=("Amount" >= 1.5) OR ("kind" IS NULL) pk=[] direct`},
		{"SELECT id AS x FROM events WHERE id < 10", "events", `cols=[id] filter="id" < 10 pk=[]`},
		{"SELECT count(*) FROM events", "events", `cols=[id] filter= pk=[]`},
		{"SELECT kind, count(*) FROM events WHERE id BETWEEN 1 AND 9 AND NOT (kind = 'b') GROUP BY kind", "events", `cols=[id kind] filter=("id" BETWEEN 1 AND 9) AND ("kind" != 'b') pk=[]`},
		// Not pushed: a function, a cast, a backslash in LIKE, a parameter.
		{"SELECT id FROM events WHERE lower(kind) = 'a' AND id::VARCHAR = '1' AND kind LIKE 'a\\_b' AND id = ?", "events", `cols=[id kind] filter= pk=[]`},
		// Inner joins: each table gets the conjuncts (WHERE and ON) over
		// its own columns, point lookups included; a conjunct over both
		// stays with the engine.
		{"SELECT u.name, sum(e.amount) FROM events e JOIN users u ON e.id = u.id WHERE u.id = 2 GROUP BY 1", "events", `cols=[id Amount] filter= pk=[]`},
		{"SELECT u.name, sum(e.amount) FROM events e JOIN users u ON e.id = u.id WHERE u.id = 2 GROUP BY 1", "users", `cols=[id name] filter="id" = 2 pk=[2]`},
		{"SELECT u.name FROM events e JOIN users u ON e.id = u.id AND e.kind = 'a' WHERE e.amount > 1 AND u.name < e.kind", "events", `cols=[id kind Amount] filter=("Amount" > 1) AND ("kind" = 'a') pk=[]`},
		{"SELECT u.name FROM events e JOIN users u USING (id)", "users", `cols=[id name] filter= pk=[]`},
		{"SELECT u.name FROM events e JOIN users u USING (id) WHERE id = 7", "events", `cols=[id] filter="id" = 7 pk=[7]`},
		{"SELECT u.name FROM events e, users u WHERE e.id = u.id AND kind = 'x'", "events", `cols=[id kind] filter="kind" = 'x' pk=[]`},
		// A self-join reads the table twice: nothing pushed.
		{"SELECT a.id FROM events a JOIN events b ON a.id = b.id WHERE a.kind = 'x'", "events", `cols=[id kind] filter= pk=[]`},
		// Outer joins: nothing pushed (a filter under the null-supplying
		// side would change which rows are null-extended).
		{"SELECT u.name FROM users u LEFT JOIN events e ON e.id = u.id WHERE e.kind IS NULL", "events", `cols=[id kind] filter= pk=[]`},
		{"SELECT u.name FROM users u LEFT JOIN events e ON e.id = u.id WHERE u.id = 3", "users", `cols=[id name] filter= pk=[]`},
		// A table read twice: no filter, whatever either read says.
		{"SELECT * FROM events WHERE id = 1 UNION ALL SELECT * FROM events WHERE id = 2", "events", `cols=[] filter= pk=[]`},
		// A subquery reading the table alone gets its conjuncts.
		// (A * anywhere reads every column of every table.)
		{"SELECT * FROM users WHERE id IN (SELECT id FROM events WHERE kind = 'a')", "events", `cols=[] filter="kind" = 'a' pk=[]`},
		{"SELECT * FROM users WHERE id IN (SELECT id FROM events WHERE kind = 'a')", "users", `cols=[] filter= pk=[]`},
		// Qualified and recased references; an outer reference stays.
		{"SELECT e.ID FROM events e WHERE e.amount > 2 AND events.id = 1", "events", `cols=[id Amount] filter="Amount" > 2 pk=[]`},
		{"SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM events WHERE events.id = u.id AND kind = 'x')", "events", `cols=[] filter="kind" = 'x' pk=[]`},
		// Window functions run after WHERE: pushing it is safe.
		{"SELECT id, row_number() OVER (ORDER BY amount) FROM events WHERE kind = 'a'", "events", `cols=[id kind Amount] filter="kind" = 'a' pk=[]`},
		{"SELECT vec FROM events NATURAL JOIN users", "events", `cols=[] filter= pk=[]`},
		{"WITH events AS (SELECT 1 AS id) SELECT * FROM events WHERE id = 1", "events", `cols=[] filter= pk=[]`},
		{"SELECT * FROM events WHERE kind = 'it''s'", "events", `cols=[] filter="kind" = 'it''s' pk=[] direct`},
		{"SELECT * FROM events WHERE id = NULL", "events", `cols=[] filter= pk=[]`},
	} {
		got := show(analyze(tree(tc.sql), tables, known), tc.table)
		got = strings.Replace(got, "cols=[id kind Amount vec]", "cols=[]", 1)
		if got != tc.want {
			t.Errorf("%s\n  %s: got  %s\n  want %s", tc.sql, tc.table, got, tc.want)
		}
	}
	// A DELETE is planned as the SELECT of the keys it deletes.
	for _, tc := range []struct{ sql, want string }{
		{"DELETE FROM events WHERE id = 3", `cols=[id] filter="id" = 3 pk=[3] direct`},
		{"DELETE FROM main.events e WHERE e.kind = 'a' AND amount > 1", `cols=[id] filter=("kind" = 'a') AND ("Amount" > 1) pk=[] direct`},
		{"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE kind = 'a')", `cols=[id kind] filter= pk=[]`},
		{"DELETE FROM events USING users WHERE events.id = users.id", `cols=[] filter= pk=[]`},
	} {
		q := deleteAsSelect(tc.sql, tables, known)
		q, _ = tableRefs(q, known)
		p := analyze(tree(q), tables, known)
		got := show(p, "events")
		got = strings.Replace(got, "cols=[id kind Amount vec]", "cols=[]", 1)
		if got != tc.want {
			t.Errorf("%s\n  got  %s\n  want %s", tc.sql, got, tc.want)
		}
		// Not answered directly (the engine runs the DELETE): its scan
		// reads the key and every column the WHERE names.
		if p.direct != "" && fmt.Sprint(p.scans["events"].columns) != map[bool]string{true: "[id]", false: "[id kind Amount]"}[strings.Contains(tc.sql, "id = 3")] {
			t.Errorf("%s: the engine's scan reads %v", tc.sql, p.scans["events"].columns)
		}
	}
	// Not a SELECT, or not parsed: every column, nothing pushed.
	if got := show(analyze([]byte(`{"error":true}`), tables, known), "events"); got != "cols=[] filter= pk=[]" {
		t.Fatalf("no tree: %s", got)
	}
}
