//go:build duckdb_arrow

package sqlexec

import (
	"fmt"
	"testing"

	"github.com/flightwal/flightwal/lsm/filter"
)

func TestParseSimpleSelect(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT * FROM t": "[t] [] | <nil>",
		"select id, text from Main.Events where id = 5;":                 "[Events events] [id text] id = 5 | <nil>",
		`SELECT "Id" FROM flightwal.main."T" WHERE a IN (1, 2) LIMIT 10`: `[T] [Id] a IN (1, 2) | 10`,
		"SELECT * FROM t LIMIT 3":                                        "[t] [] | 3",
	} {
		s, ok := parseSimpleSelect(sql)
		if !ok {
			t.Errorf("%s: not simple", sql)
			continue
		}
		lim := "<nil>"
		if s.limit != nil {
			lim = fmt.Sprint(*s.limit)
		}
		if got := fmt.Sprintf("%v %v %s | %s", s.table, s.columns, s.where, lim); got != want && !(s.columns == nil && got == fmt.Sprintf("%v [] %s | %s", s.table, s.where, lim)) {
			t.Errorf("%s: got %s, want %s", sql, got, want)
		}
	}
	for _, sql := range []string{
		"SELECT id AS x FROM t", "SELECT DISTINCT id FROM t", "SELECT count(*) FROM t", "SELECT * FROM t ORDER BY id",
		"SELECT * FROM t, u", "SELECT * FROM t JOIN u ON t.id = u.id", "SELECT * FROM t LIMIT 3 OFFSET 2",
		"SELECT * FROM t WHERE name LIKE 'a\\_b'", "SELECT * FROM other.t", "SELECT * FROM t GROUP BY id",
		"SELECT * FROM t WHERE", "SELECT * FROM nearest('t', 'v', [1], 3)", "SELECT t.* FROM t",
	} {
		if _, ok := parseSimpleSelect(sql); ok {
			t.Errorf("%s: taken as simple", sql)
		}
	}
	keys := func(f string) string {
		e, err := filter.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(filterKeys(e, "id"))
	}
	for f, want := range map[string]string{
		"id = 5": "[5]", "5 = ID": "[5]", "id IN (1, 2)": "[1 2]", "a = 1 AND id = 'x'": "[x]",
		"id = 5 OR a = 1": "[]", "id != 5": "[]", "id NOT IN (1)": "[]", "a = 5": "[]",
	} {
		if got := keys(f); got != want {
			t.Errorf("keys of %s: %s, want %s", f, got, want)
		}
	}
	for _, tc := range []struct {
		sql  string
		args []any
		want string
	}{
		{"SELECT * FROM t WHERE id = ?", []any{int64(5)}, "SELECT * FROM t WHERE id = 5"},
		{"SELECT * FROM t WHERE name = ? AND '?' = x AND v > ?", []any{"it's", 1.5}, "SELECT * FROM t WHERE name = 'it''s' AND '?' = x AND v > 1.5"},
		{"SELECT * FROM t WHERE id = ?", nil, ""},
		{"SELECT * FROM t WHERE id = ?", []any{1, 2}, ""},
		{"SELECT * FROM t WHERE id = $1", []any{1}, ""},
		{"SELECT * FROM t WHERE b = ?", []any{[]byte("x")}, ""},
	} {
		got, ok := bindLiterals(tc.sql, tc.args)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("bindLiterals(%q, %v) = %q, want %q", tc.sql, tc.args, got, tc.want)
		}
	}
}
