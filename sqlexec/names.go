// Package sqlexec runs SQL over flightwal snapshots with an embedded
// DuckDB (ARCHITECTURE.md): each table a statement names is read once
// through an lsm snapshot, taken when the statement starts, with the
// statement's projection and filters pushed down (pushdown.go,
// fastpath.go), and given to DuckDB as Arrow; nearest() and search() are
// lsm queries over the same snapshots (tablefn.go); writes go through
// lsm's write path, never DuckDB's (write.go). It imports only lsm and
// lsm/filter of this module.
//
// The engine needs the build tag duckdb_arrow (DuckDB's Arrow interface);
// built without it, New returns an engine whose statements fail with
// ErrUnimplemented.
package sqlexec

import (
	"errors"
	"strings"

	"github.com/flightwal/flightwal/lsm"
)

// ErrUnimplemented marks what this build or this engine does not do
// (statements other than queries, an engine built without duckdb_arrow).
var ErrUnimplemented = errors.New("unimplemented")

// ErrNotQuery marks a write given where a query was expected.
var ErrNotQuery = errors.New("not a query")

// errInvalid is a statement flightwal refuses before the engine sees it.
var errInvalid = lsm.ErrInvalidArgument

// Catalog and Schema are the one catalog and schema SQL clients see.
const (
	Catalog = "flightwal"
	Schema  = "main"
)

// tableRefs finds the flightwal tables sql names and rewrites qualified
// names (main.t, flightwal.main.t) to the bare name the engine registers
// the table under. known reports whether a name is a table (as stored, or
// "" if not). Identifiers are matched case-insensitively unless quoted;
// string literals and comments are skipped. A column or alias spelled like
// a table makes that table be read too: the set is a superset, never a
// subset, of the tables the statement reads.
func tableRefs(sql string, known func(string) string) (rewritten string, tables []string) {
	seen := map[string]bool{}
	lookup := func(t token) string {
		if t.quoted {
			return known(t.word)
		}
		return known(strings.ToLower(t.word))
	}
	var out strings.Builder
	copied := 0
	toks := lex(sql)
	for i := 0; i < len(toks); i++ {
		if toks[i].word == "" {
			continue
		}
		// A dotted chain of identifiers: a.b.c, no blanks around the dots.
		chain := []token{toks[i]}
		for i+2 < len(toks) && toks[i+1].punct == '.' && toks[i+1].start == toks[i].end && toks[i+2].word != "" && toks[i+2].start == toks[i+1].end {
			chain = append(chain, toks[i+2])
			i += 2
		}
		// Strip a flightwal.main. or main. qualifier in front of a table.
		strip := 0
		if len(chain) >= 3 && strings.EqualFold(chain[0].word, Catalog) && strings.EqualFold(chain[1].word, Schema) && lookup(chain[2]) != "" {
			strip = 2
		} else if len(chain) >= 2 && strings.EqualFold(chain[0].word, Schema) && lookup(chain[1]) != "" {
			strip = 1
		}
		if strip > 0 {
			out.WriteString(sql[copied:chain[0].start])
			copied = chain[strip].start
		}
		for _, t := range chain[strip:] {
			if n := lookup(t); n != "" && !seen[n] {
				seen[n] = true
				tables = append(tables, n)
			}
		}
	}
	out.WriteString(sql[copied:])
	return out.String(), tables
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || '0' <= c && c <= '9' || c == '$'
}
