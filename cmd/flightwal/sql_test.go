//go:build duckdb_arrow

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// TestCLISQL: flightwal sql runs a statement given as an argument or a
// script on stdin against a server process, printing a table, CSV, JSON
// or an Arrow stream.
func TestCLISQL(t *testing.T) {
	srv := startServer(t, "--storage.uri", filepath.Join(t.TempDir(), "data"))
	run := func(stdin string, args ...string) (string, string, error) {
		cmd := exec.Command(binary(t), append([]string{"sql", "--addr", srv.addr}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	script := `
CREATE TABLE people (id BIGINT PRIMARY KEY, name VARCHAR, city VARCHAR); -- a comment; with a semicolon
INSERT INTO people VALUES (1, 'ann', 'oslo'), (2, 'bob; jr', 'rome'), (3, 'cid', NULL);
/* a block; comment */
SELECT city, count(*) AS n FROM people GROUP BY city ORDER BY city NULLS LAST;
`
	out, errOut, err := run(script)
	if err != nil {
		t.Fatalf("script: %v\n%s", err, errOut)
	}
	want := "city | n\n-----+--\noslo | 1\nrome | 1\nNULL | 1\n"
	if out != want {
		t.Fatalf("table:\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(errOut, "(3 rows affected)") || !strings.Contains(errOut, "(3 rows)") {
		t.Fatalf("stderr: %s", errOut)
	}
	out, _, err = run("", "--format", "csv", "SELECT id, name FROM people ORDER BY id")
	if err != nil || out != "id,name\n1,ann\n2,bob; jr\n3,cid\n" {
		t.Fatalf("csv: %q %v", out, err)
	}
	out, _, err = run("", "--format", "json", "SELECT * FROM people WHERE id = 2")
	if err != nil || out != `{"city":"rome","id":2,"name":"bob; jr"}`+"\n" {
		t.Fatalf("json: %q %v", out, err)
	}
	out, _, err = run("", "--format", "arrow", "SELECT id FROM people")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for r.Next() {
		n += r.RecordBatch().NumRows()
	}
	r.Release()
	if n != 3 {
		t.Fatalf("arrow: %d rows", n)
	}
	_, errOut, err = run("", "SELECT nocolumn FROM people")
	if err == nil || !strings.Contains(errOut, "nocolumn") || !strings.Contains(errOut, "InvalidArgument") {
		t.Fatalf("a bad statement: %v %s", err, errOut)
	}
	if _, errOut, err = run("", "DELETE FROM people WHERE city IS NULL"); err != nil || !strings.Contains(errOut, "(1 rows affected)") {
		t.Fatalf("delete: %v %s", err, errOut)
	}
	if out, _, err = run("", "--format", "csv", "SELECT count(*) AS n FROM people"); err != nil || out != "n\n2\n" {
		t.Fatalf("after delete: %q %v", out, err)
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("SELECT 'a;b'; SELECT \"x;y\" FROM t;\n-- a comment; in it\n/* c; */ SELECT 3;;\n-- the end;")
	want := []string{"SELECT 'a;b'", `SELECT "x;y" FROM t`, "-- a comment; in it\n/* c; */ SELECT 3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
