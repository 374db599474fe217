package sqlexec

import (
	"strings"
	"testing"
)

// FuzzStatementText: the words flightwal reads from a client's SQL before
// DuckDB sees it (kind, DDL target, table references, nearest/search
// calls) never panic, and what they cut out of the statement lies inside
// it.
func FuzzStatementText(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t WHERE id = 1",
		"WITH a AS (SELECT 1) INSERT INTO main.t SELECT * FROM a",
		`DELETE FROM "T" WHERE x = 'it''s' -- c`,
		"CREATE TABLE IF NOT EXISTS flightwal.main.t (id BIGINT PRIMARY KEY, v FLOAT[4])",
		"DROP TABLE IF EXISTS t CASCADE;",
		"SELECT * FROM nearest('t', 'v', [1, -2.5e3, .5], 10, filter := 'a = ''b''', nprobes => 3) n JOIN search('t', 'q', 4, columns := ['a'])",
		"SELECT * FROM nearest('t', 'v', [1, [2]], ",
		`SELECT "unterminated`,
		"/* unterminated",
		"SELECT 1; SELECT 2",
	} {
		f.Add(s)
	}
	known := func(s string) string {
		if s == "t" || s == "T" {
			return s
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, tok := range lex(sql) {
			if tok.start < 0 || tok.end > len(sql) || tok.start >= tok.end {
				t.Fatalf("token %+v outside %q", tok, sql)
			}
		}
		kind := Classify(sql)
		_ = oneStatement(sql)
		if kind == KindCreate || kind == KindDrop {
			if _, _, tt, err := ddlTarget(sql, kind); err == nil && (tt < 0 || tt >= len(lex(trimStatement(sql)))) {
				t.Fatalf("ddlTarget: token %d of %q", tt, sql)
			}
		}
		if kind == KindInsert || kind == KindDelete {
			_, _ = dmlTarget(sql, kind)
		}
		out, refs := tableRefs(sql, known)
		if len(out) > len(sql) {
			t.Fatalf("tableRefs grew %q to %q", sql, out)
		}
		for _, r := range refs {
			if known(r) == "" {
				t.Fatalf("tableRefs found %q", r)
			}
		}
		rewritten, calls, err := tableFunctions(sql)
		if err == nil {
			for i, c := range calls {
				if c.start < 0 || c.end > len(sql) || c.start >= c.end {
					t.Fatalf("call %d at %d..%d of %q", i, c.start, c.end, sql)
				}
				if !strings.Contains(rewritten, fnTableName(i)) {
					t.Fatalf("call %d not replaced in %q", i, rewritten)
				}
			}
		}
	})
}
