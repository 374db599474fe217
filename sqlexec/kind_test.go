package sqlexec

import (
	"errors"
	"testing"
)

func TestClassify(t *testing.T) {
	for sql, want := range map[string]Kind{
		"SELECT 1":                                           KindQuery,
		"  -- c\n/* x */ (SELECT 1)":                         KindQuery,
		"WITH a AS (SELECT 1) SELECT * FROM a":               KindQuery,
		"WITH a AS (DELETE FROM t) SELECT 1":                 KindQuery, // the verb outside parentheses decides
		"with a as (select 1) insert into t select * from a": KindInsert,
		"insert into t values (1)":                           KindInsert,
		"DELETE FROM t WHERE 'INSERT' = ''":                  KindDelete,
		"CREATE TABLE t (a INT)":                             KindCreate,
		"drop table t":                                       KindDrop,
		"BEGIN":                                              KindTransaction,
		"UPDATE t SET a = 1":                                 KindOther,
		"SET memory_limit = '1TB'":                           KindOther,
		`"SELECT"`:                                           KindOther,
		"":                                                   KindOther,
	} {
		if got := Classify(sql); got != want {
			t.Errorf("Classify(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestDDLTarget(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		kind Kind
		name string
		ifc  bool
		err  error
	}{
		{"CREATE TABLE t (a INT)", KindCreate, "t", false, nil},
		{`CREATE TABLE IF NOT EXISTS flightwal.main."My T" (a INT)`, KindCreate, "My T", true, nil},
		{"DROP TABLE IF EXISTS main.t;", KindDrop, "t", true, nil},
		{"DROP TABLE t CASCADE", KindDrop, "t", false, nil},
		{"DROP TABLE a, b", KindDrop, "", false, ErrUnimplemented},
		{"CREATE TEMP TABLE t (a INT)", KindCreate, "", false, ErrUnimplemented},
		{"CREATE VIEW v AS SELECT 1", KindCreate, "", false, ErrUnimplemented},
		{"DROP TABLE other.t", KindDrop, "", false, errInvalid},
	} {
		name, ifc, _, err := ddlTarget(tc.sql, tc.kind)
		if name != tc.name || ifc != tc.ifc || !errors.Is(err, tc.err) && (err != nil || tc.err != nil) {
			t.Errorf("ddlTarget(%q) = %q %v %v", tc.sql, name, ifc, err)
		}
	}
	if err := oneStatement("SELECT 1; SELECT 2"); !errors.Is(err, errInvalid) {
		t.Fatalf("two statements: %v", err)
	}
	if err := oneStatement("SELECT ';'; -- done"); err != nil {
		t.Fatalf("one statement: %v", err)
	}
}
