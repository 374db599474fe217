package filter

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestParsePrint(t *testing.T) {
	cases := []struct{ src, want string }{
		{"category = 'a' AND price >= 10", "category = 'a' AND price >= 10"},
		{"a=1 and b<>2 Or NOT c", "a = 1 AND b != 2 OR NOT c"},
		{"a = 1 OR b = 2 AND c = 3", "a = 1 OR b = 2 AND c = 3"},
		{"(a = 1 OR b = 2) AND c = 3", "(a = 1 OR b = 2) AND c = 3"},
		{"a = 1 OR (b = 2 OR c = 3)", "a = 1 OR (b = 2 OR c = 3)"},
		{"((a = 1))", "a = 1"},
		{"NOT a = 1 AND b", "NOT a = 1 AND b"},
		{"NOT (a AND b)", "NOT (a AND b)"},
		{"not not a", "NOT NOT a"},
		{"x in (1, -2, 3.5, 'a', null, true)", "x IN (1, -2, 3.5, 'a', NULL, TRUE)"},
		{"x NOT IN (1)", "x NOT IN (1)"},
		{"x between - 1 and +2", "x BETWEEN -1 AND 2"},
		{"x not between lo and hi", "x NOT BETWEEN lo AND hi"},
		{"x is null or y IS NOT NULL", "x IS NULL OR y IS NOT NULL"},
		{`s like 'a\%b%' or s not like '_'`, `s LIKE 'a\%b%' OR s NOT LIKE '_'`},
		{"s = 'it''s'", "s = 'it''s'"},
		{`"Mixed Case" = 1`, `"Mixed Case" = 1`},
		{`"a""b" = 1`, `"a""b" = 1`},
		{`"and" = 1`, `"and" = 1`},
		{`"plain" = 1`, `"plain" = 1`},
		{"1.5e3 < x", "1.5e3 < x"},
		{"x > .5 AND x < 7.", "x > .5 AND x < 7."},
		{"x>=-1E-3", "x >= -1E-3"},
		{"x<=y", "x <= y"},
		{"TRUE", "TRUE"},
		{"null", "NULL"},
		{"_x1 = été", "_x1 = été"},
		{"a\t=\n1", "a = 1"},
	}
	for _, c := range cases {
		e, err := Parse(c.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.src, got, c.want)
		}
		e2, err := Parse(e.String())
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Errorf("%q does not round-trip: %v, %v", c.src, e2, err)
		}
	}
}

func TestParseTree(t *testing.T) {
	e := mustParse(t, "a = 1 OR NOT b < 'x' AND c IS NULL")
	want := &Logic{Op: OpOr,
		L: &Compare{Op: OpEq, L: &Column{Name: "a"}, R: &Literal{Kind: LitNumber, Num: "1"}},
		R: &Logic{Op: OpAnd,
			L: &Not{X: &Compare{Op: OpLt, L: &Column{Name: "b"}, R: &Literal{Kind: LitString, Str: "x"}}},
			R: &IsNull{X: &Column{Name: "c"}}}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %#v", e)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src    string
		offset int
		msg    string
	}{
		{"", 0, "empty filter"},
		{"   ", 3, "empty filter"},
		{"(a = 1 OR b = 2", 15, "expected ')', found end of input"},
		{"category = 'a' AND", 18, "expected a column, literal, NOT or '(', found end of input"},
		{"(a = 1 b = 2)", 7, `expected ')', found identifier "b"`},
		{"a = ", 4, "expected a column or literal after =, found end of input"},
		{"a == 1", 2, "'==' is not an operator"},
		{"a ! 1", 2, "expected '!='"},
		{"a = 'abc", 4, "unterminated string"},
		{`"abc = 1`, 0, "unterminated quoted identifier"},
		{`"" = 1`, 0, "empty quoted identifier"},
		{"a = 1 = 2", 6, "expected AND, OR or end of input, found '='"},
		{"a IN 1", 5, "expected '(' after IN"},
		{"a IN ()", 6, "expected a literal in the IN list"},
		{"a IN (1, b)", 9, `expected a literal in the IN list, found identifier "b"`},
		{"a IN (1 2)", 8, "expected ',' or ')' in the IN list"},
		{"a BETWEEN 1 OR 2", 12, "expected AND in BETWEEN"},
		{"a IS 1", 5, "expected NULL or NOT NULL after IS"},
		{"a NOT = 1", 6, "expected IN, BETWEEN or LIKE after NOT"},
		{"a LIKE b", 7, "expected a 'pattern' string after LIKE"},
		{`a LIKE 'ab\'`, 7, "ends with an escape character"},
		{"a = 1abc", 5, `unexpected 'a' after number 1`},
		{"a = 1.2.3", 7, "unexpected '.' after number 1.2"},
		{"a = 1e", 6, "expected digits in the exponent"},
		{"a = 1e99999", 4, "exponent out of range"},
		{"a = - b", 6, "expected a number after the sign"},
		{"a = 1 #", 6, "unexpected character '#'"},
		{"a = \xff", 4, "invalid UTF-8 byte 0xff"},
		{"a = 1)", 5, "expected AND, OR or end of input, found ')'"},
		{"AND", 0, "expected a column, literal, NOT or '(', found AND"},
		{strings.Repeat("(", 600) + "a", 500, "nested deeper than 500"},
		{strings.Repeat("NOT ", 600) + "a", 2000, "nested deeper than 500"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		if err == nil {
			t.Errorf("Parse(%q): no error", c.src)
			continue
		}
		var se *SyntaxError
		if !errors.Is(err, ErrSyntax) || !errors.As(err, &se) {
			t.Errorf("Parse(%q): %v is not a *SyntaxError wrapping ErrSyntax", c.src, err)
			continue
		}
		if se.Offset != c.offset || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Parse(%q) = %q (offset %d), want offset %d and %q", c.src, err, se.Offset, c.offset, c.msg)
		}
		if !strings.HasPrefix(err.Error(), "filter: at offset ") {
			t.Errorf("Parse(%q): message %q lacks the offset prefix", c.src, err)
		}
	}
}

// FuzzParse: Parse never panics, and a parsed filter prints to text that
// parses to the same AST.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"category = 'a' AND price >= 10", "a IN (1, -2.5e3, NULL)", "NOT (x BETWEEN 'a' AND 'b')",
		`"we""ird" LIKE 'a\%%'`, "x IS NOT NULL OR y <> -0", "((a))", "TRUE", "a = .5", "é = 'ü'",
		"a NOT LIKE '_' AND NOT b", "1 = 1", "x > 1e-7 OR x < +3", `meta.a > 3 OR m."we""ird".b IS NULL`, "a . b = .5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrSyntax", src, err)
			}
			return
		}
		out := e.String()
		e2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q which fails: %v", src, out, err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("Parse(%q) printed %q which parses differently: %q", src, out, e2)
		}
		if e2.String() != out {
			t.Fatalf("printing is not stable: %q vs %q", out, e2.String())
		}
	})
}

// TestLargeFilters: long filters stay linear, and the operand cap holds.
func TestLargeFilters(t *testing.T) {
	var b strings.Builder
	b.WriteString("i8 IN (")
	for i := range 5_000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i % 300))
	}
	b.WriteString(")")
	for range 2000 {
		b.WriteString(" AND i16 > -1000 OR s = 'a'")
	}
	e := mustParse(t, b.String())
	if got := e.String(); got != b.String() {
		t.Errorf("a long filter does not print back as written")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := newFixture(t, mem, 50, 5)
	defer rec.Release()
	evalAll(t, mem, rec, e)

	_, err := Parse("x IN (" + strings.Repeat("1, ", maxOperands) + "1)")
	if err == nil || !strings.Contains(err.Error(), "more than 100000 columns and literals") {
		t.Errorf("operand cap: %v", err)
	}
}
