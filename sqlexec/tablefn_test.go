package sqlexec

import (
	"errors"
	"fmt"
	"testing"
)

func TestTableFunctionsParse(t *testing.T) {
	out, calls, err := tableFunctions(`SELECT n.id, 'nearest(' FROM nearest('s', 'vec', [0.5, -1, 2e-1], 10, filter := 'id < 5 AND text = ''a''', nprobes => 3) n JOIN search('t', 'fox', 4, columns := ['a', 'b']) USING (id) -- search(`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `SELECT n.id, 'nearest(' FROM __flightwal_fn_0 n JOIN __flightwal_fn_1 USING (id) -- search(`; out != want {
		t.Fatalf("rewritten:\n %s\nwant\n %s", out, want)
	}
	n, s := calls[0].query.Nearest, calls[1].query.Search
	if calls[0].table != "s" || n.Column != "vec" || fmt.Sprint(n.Vector) != "[0.5 -1 0.2]" || n.K != 10 || n.NProbes != 3 || calls[0].query.Filter != "id < 5 AND text = 'a'" {
		t.Fatalf("nearest: %+v %+v", calls[0], n)
	}
	if calls[1].table != "t" || s.Query != "fox" || s.K != 4 || fmt.Sprint(s.Columns) != "[a b]" {
		t.Fatalf("search: %+v %+v", calls[1], s)
	}
	for _, bad := range []string{
		"SELECT * FROM nearest('s', 'vec', [1], 3",
		"SELECT * FROM nearest('s', 'vec', [1], k)",
		"SELECT * FROM nearest('s', 'vec', 'x', 3)",
		"SELECT * FROM nearest('s', 'vec', [1], 3, k := 2)",
		"SELECT * FROM search('s', 'q', 3, filter := 'a', filter := 'b')",
		"SELECT * FROM search('s', 3, 3)",
	} {
		if _, _, err := tableFunctions(bad); !errors.Is(err, errInvalid) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if out, calls, err := tableFunctions(`SELECT "nearest"(1), x.search(2) FROM t`); err != nil || len(calls) != 0 || out != `SELECT "nearest"(1), x.search(2) FROM t` {
		t.Fatalf("not calls: %q %v %v", out, calls, err)
	}
}
