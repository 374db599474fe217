package fts

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	def := DefaultTokenizerConfig()
	for _, tc := range []struct {
		q    string
		op   Operator
		cfg  TokenizerConfig
		want string
	}{
		{"fox", Or, def, "or: fox"},
		{"Quick  FOX", And, def, "and: quick fox"},
		{"fox fox Fox", Or, def, "or: fox"},
		{`"quick brown" fox`, Or, def, `or: "quick brown" fox`},
		{`fox "quick brown"`, And, def, `and: fox "quick brown"`},
		{`“quick brown” fox`, Or, def, `or: "quick brown" fox`},
		{`"the quick"`, Or, def, "or: quick"},
		{`"quick" quick`, Or, def, "or: quick"},
		{`"" fox`, Or, def, "or: fox"},
		{`"president of the united states"`, Or, def, `or: "presid _ _ unit state"`},
		{`"president of the united states"`, Or, TokenizerConfig{}, `or: "president of the united states"`},
		{`"bang bang"`, Or, def, `or: "bang bang"`},
		{`fox:brown -dog +cat`, Or, def, "or: fox brown dog cat"},
		{`running "runs fast"`, Or, def, `or: run "run fast"`},
	} {
		q, err := ParseQuery(tc.q, tc.cfg, WithOperator(tc.op))
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", tc.q, err)
		}
		if got := q.String(); got != tc.want {
			t.Errorf("ParseQuery(%q) = %s, want %s", tc.q, got, tc.want)
		}
		if q.Operator() != tc.op {
			t.Errorf("operator %v", q.Operator())
		}
	}
	q, _ := ParseQuery(`zeta "beta alpha" beta`, TokenizerConfig{})
	if got := q.Terms(); !slices.Equal(got, []string{"alpha", "beta", "zeta"}) {
		t.Errorf("Terms() = %v", got)
	}
}

func TestParseQueryErrors(t *testing.T) {
	def := DefaultTokenizerConfig()
	for _, s := range []string{
		"",
		"   \t",
		`"unterminated phrase`,
		`fox "`,
		`fox "quick" "brown`,
		"the of and",
		`"to be" "or not"`,
		"!!! ??? ---",
		"\xff\xfe",
		strings.Repeat("x", MaxQueryBytes+1),
		strings.Repeat("w ", MaxQueryTerms) + `"a b c"`,
	} {
		if _, err := ParseQuery(s, def); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("ParseQuery(%.40q): %v, want ErrInvalidQuery", s, err)
		}
	}
	if _, err := ParseQuery("fox", def, WithOperator(Operator(7))); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("bad operator: %v", err)
	}
	// MaxQueryTerms distinct terms are fine.
	var b strings.Builder
	for i := range MaxQueryTerms {
		b.WriteString("w" + itoa(uint32(i)) + " ")
	}
	if _, err := ParseQuery(b.String(), def); err != nil {
		t.Errorf("%d terms: %v", MaxQueryTerms, err)
	}
}

func TestParseOperator(t *testing.T) {
	for s, want := range map[string]Operator{"": Or, "or": Or, "OR": Or, " and ": And, "And": And} {
		if got, err := ParseOperator(s); err != nil || got != want {
			t.Errorf("ParseOperator(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"xor", "&&", "all"} {
		if _, err := ParseOperator(s); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("ParseOperator(%q): %v", s, err)
		}
	}
}
