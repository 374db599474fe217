package fts

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Operator combines the clauses of a query.
type Operator uint8

const (
	// Or matches documents with at least one clause (the default).
	Or Operator = iota
	// And matches documents with every clause.
	And
)

// ParseOperator maps the ticket's "operator" value to an Operator: "" and
// "or" give Or, "and" gives And, case-insensitively; anything else is an
// error wrapping ErrInvalidQuery.
func ParseOperator(s string) (Operator, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "or":
		return Or, nil
	case "and":
		return And, nil
	}
	return Or, queryErrorf("unknown operator %q (want \"or\" or \"and\")", s)
}

func (o Operator) String() string {
	if o == And {
		return "and"
	}
	return "or"
}

// Limits on a query, so that one request cannot make a search arbitrarily
// expensive.
const (
	// MaxQueryBytes is the longest query string accepted.
	MaxQueryBytes = 16 << 10
	// MaxQueryTerms is the most terms a query may hold, counting every
	// term of every clause (phrases included) after analysis.
	MaxQueryTerms = 256
)

// Query is a parsed full-text query: clauses (single terms and phrases)
// joined by an Operator. It is immutable and safe for concurrent use.
//
// Syntax: words are terms; text in double quotes ("..." or “...”) is a
// phrase, matching documents that hold its terms at the same relative
// positions. Nothing else is special: no field names, no +/- prefixes, no
// boolean keywords (":" or "-" separate words like any punctuation).
// Clauses are deduplicated: "fox fox" is the query "fox". A phrase with
// one term left after analysis is a term; one with none is ignored.
type Query struct {
	op      Operator
	clauses []clause
}

// clause is a term (one element) or a phrase: terms[i] must occur at
// position p+offs[i] for some p; offs[0] == 0 and offs increase.
type clause struct {
	terms []string
	offs  []uint32
}

// QueryOption sets an optional parameter of ParseQuery.
type QueryOption func(*Query)

// WithOperator sets the operator joining a query's clauses (default Or).
func WithOperator(op Operator) QueryOption {
	return func(q *Query) { q.op = op }
}

// ParseQuery parses and analyzes a query string with the tokenizer
// configuration of the index it will run against. An empty query, an
// unterminated phrase, one too long, or one with no terms left after
// analysis (all stop words or punctuation) is an error wrapping
// ErrInvalidQuery.
func ParseQuery(s string, cfg TokenizerConfig, opts ...QueryOption) (Query, error) {
	var q Query
	for _, o := range opts {
		o(&q)
	}
	if q.op != Or && q.op != And {
		return Query{}, queryErrorf("unknown operator %d", q.op)
	}
	if len(s) > MaxQueryBytes {
		return Query{}, queryErrorf("query is %d bytes long, more than %d", len(s), MaxQueryBytes)
	}
	if !utf8.ValidString(s) {
		return Query{}, queryErrorf("query is not valid UTF-8")
	}
	if strings.TrimSpace(s) == "" {
		return Query{}, queryErrorf("empty query")
	}
	a := analyzer{cfg: cfg.normalized()}
	seen := make(map[string]bool)
	nterms := 0
	add := func(c clause) error {
		nterms += len(c.terms)
		if nterms > MaxQueryTerms {
			return queryErrorf("more than %d terms", MaxQueryTerms)
		}
		if k := c.key(); !seen[k] {
			seen[k] = true
			q.clauses = append(q.clauses, c)
		}
		return nil
	}
	for i, inPhrase := 0, false; ; inPhrase = !inPhrase {
		part := s[i:]
		j := indexQuote(part)
		if j >= 0 {
			part = part[:j]
			_, size := utf8.DecodeRuneInString(s[i+j:])
			i += j + size
		} else if inPhrase {
			return Query{}, queryErrorf("unterminated phrase in %q", s)
		}
		if err := addPart(&a, part, inPhrase, add); err != nil {
			return Query{}, err
		}
		if j < 0 {
			break
		}
	}
	if len(q.clauses) == 0 {
		return Query{}, queryErrorf("no searchable terms in %q after analysis", s)
	}
	return q, nil
}

// addPart analyzes part, a phrase's text or unquoted text, into clauses.
func addPart(a *analyzer, part string, phrase bool, add func(clause) error) error {
	if !phrase {
		var err error
		a.each(part, func(_ []byte, t string, _ uint32) {
			if err == nil {
				err = add(clause{terms: []string{t}, offs: []uint32{0}})
			}
		})
		return err
	}
	var c clause
	a.each(part, func(_ []byte, t string, pos uint32) {
		c.terms = append(c.terms, t)
		c.offs = append(c.offs, pos)
	})
	if len(c.terms) == 0 {
		return nil
	}
	for k := len(c.offs) - 1; k >= 0; k-- {
		c.offs[k] -= c.offs[0]
	}
	return add(c)
}

// indexQuote returns the byte index of the first phrase quote in s, or -1.
func indexQuote(s string) int {
	return strings.IndexFunc(s, func(r rune) bool { return r == '"' || r == '“' || r == '”' })
}

// key identifies a clause for deduplication.
func (c clause) key() string {
	var b strings.Builder
	for i, t := range c.terms {
		b.WriteString(strconv.FormatUint(uint64(c.offs[i]), 10))
		b.WriteByte(':')
		b.WriteString(t)
		b.WriteByte(0)
	}
	return b.String()
}

// Operator returns the operator joining q's clauses.
func (q Query) Operator() Operator { return q.op }

// Terms returns the distinct terms of q, phrases' included, sorted: the
// terms whose document frequencies scoring needs (see Index.TermStats).
func (q Query) Terms() []string {
	var ts []string
	for _, c := range q.clauses {
		ts = append(ts, c.terms...)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// String renders q in the query syntax over analyzed terms, e.g.
// `and: fox "quick brown"` (a gap in a phrase, left by a dropped word, is
// shown as "_").
func (q Query) String() string {
	var b strings.Builder
	b.WriteString(q.op.String())
	b.WriteByte(':')
	for _, c := range q.clauses {
		b.WriteByte(' ')
		if len(c.terms) == 1 {
			b.WriteString(c.terms[0])
			continue
		}
		b.WriteByte('"')
		for i, t := range c.terms {
			if i > 0 {
				b.WriteByte(' ')
				for gap := c.offs[i] - c.offs[i-1]; gap > 1; gap-- {
					b.WriteString("_ ")
				}
			}
			b.WriteString(t)
		}
		b.WriteByte('"')
	}
	return b.String()
}
