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
	type ident struct {
		start, end int    // byte range in sql, quotes included
		name       string // unquoted (folded to lower case unless quoted)
		quoted     bool
	}
	var out strings.Builder
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			tables = append(tables, t)
		}
	}
	lookup := func(id ident) string {
		if id.quoted {
			return known(id.name)
		}
		return known(strings.ToLower(id.name))
	}
	copied := 0
	i := 0
	readIdent := func() (ident, bool) {
		if i >= len(sql) {
			return ident{}, false
		}
		c := sql[i]
		switch {
		case c == '"':
			start := i
			var b strings.Builder
			i++
			for i < len(sql) {
				if sql[i] == '"' {
					if i+1 < len(sql) && sql[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					return ident{start: start, end: i, name: b.String(), quoted: true}, true
				}
				b.WriteByte(sql[i])
				i++
			}
			return ident{}, false
		case isIdentStart(c):
			start := i
			for i < len(sql) && isIdentPart(sql[i]) {
				i++
			}
			return ident{start: start, end: i, name: sql[start:i]}, true
		}
		return ident{}, false
	}
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '\'':
			i++
			for i < len(sql) {
				if sql[i] == '\'' {
					if i+1 < len(sql) && sql[i+1] == '\'' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 4
			}
		case c == '"' || isIdentStart(c):
			// A dotted chain of identifiers: a.b.c.
			var chain []ident
			for {
				id, ok := readIdent()
				if !ok {
					break
				}
				chain = append(chain, id)
				if i < len(sql) && sql[i] == '.' && i+1 < len(sql) && (sql[i+1] == '"' || isIdentStart(sql[i+1])) {
					i++
					continue
				}
				break
			}
			if len(chain) == 0 {
				i++ // an unterminated quote: leave the rest to the engine
				continue
			}
			// Strip a flightwal.main. or main. qualifier in front of a table.
			strip := 0
			if len(chain) >= 3 && strings.EqualFold(chain[0].name, Catalog) && strings.EqualFold(chain[1].name, Schema) && lookup(chain[2]) != "" {
				strip = 2
			} else if len(chain) >= 2 && strings.EqualFold(chain[0].name, Schema) && lookup(chain[1]) != "" {
				strip = 1
			}
			if strip > 0 {
				out.WriteString(sql[copied:chain[0].start])
				copied = chain[strip].start
			}
			for _, id := range chain[strip:] {
				if t := lookup(id); t != "" {
					add(t)
				}
			}
		default:
			i++
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
