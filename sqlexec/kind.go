package sqlexec

import (
	"fmt"
	"strings"
)

// Kind is what a statement does, read from its words before the engine
// sees it: authorization comes before any table is looked up (API.md,
// Authentication and TLS).
type Kind int

const (
	KindQuery       Kind = iota // SELECT, WITH, VALUES, EXPLAIN, ...
	KindInsert                  // INSERT INTO t ...
	KindDelete                  // DELETE FROM t ...
	KindCreate                  // CREATE TABLE
	KindDrop                    // DROP TABLE
	KindTransaction             // BEGIN, COMMIT, ROLLBACK, ...
	KindOther                   // anything else: not run
)

func (k Kind) String() string {
	return [...]string{"query", "INSERT", "DELETE", "CREATE TABLE", "DROP TABLE", "transaction", "statement"}[k]
}

// IsWrite reports whether k changes a table.
func (k Kind) IsWrite() bool { return k >= KindInsert && k <= KindDrop }

// IsDDL reports whether k makes or drops a table.
func (k Kind) IsDDL() bool { return k == KindCreate || k == KindDrop }

// token is one word or punctuation mark of a statement; literals and
// comments are skipped.
type token struct {
	start, end int    // byte range, quotes included
	word       string // an identifier, unquoted (as written), or ""
	quoted     bool   // a "quoted" identifier
	punct      byte   // a punctuation mark, when word is ""
}

// is reports whether tok is the keyword kw (an unquoted word, any case).
func (t token) is(kw string) bool { return !t.quoted && t.word != "" && strings.EqualFold(t.word, kw) }

// lex splits sql into tokens: identifiers (bare or "quoted") and single
// punctuation marks; string literals, numbers and comments are skipped.
func lex(sql string) []token {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
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
					break
				}
				b.WriteByte(sql[i])
				i++
			}
			i++
			out = append(out, token{start: start, end: min(i, len(sql)), word: b.String(), quoted: true})
		case isIdentStart(c):
			start := i
			for i < len(sql) && isIdentPart(sql[i]) {
				i++
			}
			out = append(out, token{start: start, end: i, word: sql[start:i]})
		case '0' <= c && c <= '9':
			for i < len(sql) && (isIdentPart(sql[i]) || sql[i] == '.') {
				i++
			}
		default:
			out = append(out, token{start: i, end: i + 1, punct: c})
			i++
		}
	}
	return out
}

// Classify tells what sql does from its first words (a WITH clause is
// looked through). It does not check the statement: the engine does.
func Classify(sql string) Kind {
	toks := lex(sql)
	for len(toks) > 0 && toks[0].punct == '(' {
		toks = toks[1:]
	}
	if len(toks) == 0 || toks[0].word == "" || toks[0].quoted {
		return KindOther
	}
	switch strings.ToUpper(toks[0].word) {
	case "SELECT", "VALUES", "FROM", "TABLE", "EXPLAIN", "DESCRIBE", "SHOW", "SUMMARIZE", "PIVOT", "UNPIVOT":
		return KindQuery
	case "WITH":
		// The statement's verb is the first one outside parentheses.
		depth := 0
		for _, t := range toks[1:] {
			switch {
			case t.punct == '(':
				depth++
			case t.punct == ')':
				depth--
			case depth == 0 && t.is("INSERT"):
				return KindInsert
			case depth == 0 && t.is("DELETE"):
				return KindDelete
			case depth == 0 && (t.is("UPDATE") || t.is("MERGE")):
				return KindOther
			}
		}
		return KindQuery
	case "INSERT":
		return KindInsert
	case "DELETE":
		return KindDelete
	case "CREATE":
		return KindCreate
	case "DROP":
		return KindDrop
	case "BEGIN", "START", "COMMIT", "ROLLBACK", "ABORT", "END", "SAVEPOINT", "RELEASE":
		return KindTransaction
	}
	return KindOther
}

// oneStatement fails if sql holds more than one statement (a ';' with
// words after it).
func oneStatement(sql string) error {
	toks := lex(sql)
	for i, t := range toks {
		if t.punct == ';' && i+1 < len(toks) {
			for _, u := range toks[i+1:] {
				if u.punct != ';' {
					return fmt.Errorf("%w: one statement per request (found more after ';')", errInvalid)
				}
			}
		}
	}
	return nil
}

// trimStatement is sql without trailing semicolons and blanks.
func trimStatement(sql string) string {
	return strings.TrimRight(sql, "; \t\r\n")
}

// ddlTarget reads `CREATE TABLE [IF NOT EXISTS] name` or `DROP TABLE [IF
// EXISTS] name [CASCADE|RESTRICT]`: the table's name (a qualifier
// flightwal.main. or main. dropped), whether IF [NOT] EXISTS was given,
// and the index of the TABLE token. A statement of another shape (CREATE
// VIEW, CREATE TEMP TABLE, DROP TABLE a, b) is Unimplemented.
func ddlTarget(sql string, kind Kind) (name string, ifClause bool, tableTok int, err error) {
	toks := lex(trimStatement(sql))
	i := 1
	if kind == KindCreate {
		if i < len(toks) && (toks[i].is("TEMP") || toks[i].is("TEMPORARY")) {
			return "", false, 0, fmt.Errorf("%w: temporary tables (every table is a flightwal table)", ErrUnimplemented)
		}
		if i+1 < len(toks) && toks[i].is("OR") && toks[i+1].is("REPLACE") {
			return "", false, 0, fmt.Errorf("%w: CREATE OR REPLACE TABLE (DROP TABLE, then CREATE TABLE)", ErrUnimplemented)
		}
	}
	if i >= len(toks) || !toks[i].is("TABLE") {
		return "", false, 0, fmt.Errorf("%w: only CREATE TABLE and DROP TABLE change the catalog", ErrUnimplemented)
	}
	tableTok = i
	i++
	if kind == KindCreate && i+2 < len(toks) && toks[i].is("IF") && toks[i+1].is("NOT") && toks[i+2].is("EXISTS") {
		ifClause, i = true, i+3
	}
	if kind == KindDrop && i+1 < len(toks) && toks[i].is("IF") && toks[i+1].is("EXISTS") {
		ifClause, i = true, i+2
	}
	var chain []string
	for i < len(toks) && toks[i].word != "" {
		chain = append(chain, toks[i].word)
		i++
		if i < len(toks) && toks[i].punct == '.' {
			i++
			continue
		}
		break
	}
	switch {
	case len(chain) == 0:
		return "", false, 0, fmt.Errorf("%w: %s without a table name", errInvalid, kind)
	case len(chain) == 3 && strings.EqualFold(chain[0], Catalog) && strings.EqualFold(chain[1], Schema),
		len(chain) == 2 && strings.EqualFold(chain[0], Schema):
		name = chain[len(chain)-1]
	case len(chain) > 1:
		return "", false, 0, fmt.Errorf("%w: table %s: tables live in %s.%s", errInvalid, strings.Join(chain, "."), Catalog, Schema)
	default:
		name = chain[0]
	}
	if kind == KindDrop {
		if i < len(toks) && (toks[i].is("CASCADE") || toks[i].is("RESTRICT")) {
			i++
		}
		if i < len(toks) {
			return "", false, 0, fmt.Errorf("%w: DROP TABLE drops one table", ErrUnimplemented)
		}
	}
	return name, ifClause, tableTok, nil
}

// dmlTarget is the table an INSERT INTO or DELETE FROM names, as written.
func dmlTarget(sql string, kind Kind) (string, error) {
	toks := lex(sql)
	verb, prep := "INSERT", "INTO"
	if kind == KindDelete {
		verb, prep = "DELETE", "FROM"
	}
	depth := 0
	for i, t := range toks {
		switch {
		case t.punct == '(':
			depth++
		case t.punct == ')':
			depth--
		case depth == 0 && t.is(verb):
			j := i + 1
			for j < len(toks) && !toks[j].is(prep) && toks[j].punct == 0 && j < i+4 {
				j++ // INSERT OR REPLACE INTO
			}
			if j >= len(toks) || !toks[j].is(prep) {
				return "", fmt.Errorf("%w: %s without %s <table>", errInvalid, verb, prep)
			}
			var chain []token
			for j++; j < len(toks) && toks[j].word != ""; j++ {
				chain = append(chain, toks[j])
				if j+1 < len(toks) && toks[j+1].punct == '.' {
					j++
					continue
				}
				break
			}
			if len(chain) == 0 {
				return "", fmt.Errorf("%w: %s %s without a table name", errInvalid, verb, prep)
			}
			last := chain[len(chain)-1]
			if last.quoted {
				return last.word, nil
			}
			return strings.ToLower(last.word), nil
		}
	}
	return "", fmt.Errorf("%w: no %s in the statement", errInvalid, verb)
}
