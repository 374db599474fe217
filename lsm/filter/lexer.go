package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokQuotedIdent
	tokNumber
	tokString
	tokCmp
	tokLParen
	tokRParen
	tokComma
	tokMinus
	tokPlus
	tokDot
	// keywords
	tokAnd
	tokOr
	tokNot
	tokIn
	tokBetween
	tokIs
	tokNull
	tokLike
	tokTrue
	tokFalse
)

var keywords = map[string]tokKind{
	"AND": tokAnd, "OR": tokOr, "NOT": tokNot, "IN": tokIn, "BETWEEN": tokBetween,
	"IS": tokIs, "NULL": tokNull, "LIKE": tokLike, "TRUE": tokTrue, "FALSE": tokFalse,
}

// keywordOf returns the keyword token s spells (any case), or tokEOF.
func keywordOf(s string) tokKind {
	if len(s) > 7 {
		return tokEOF
	}
	return keywords[strings.ToUpper(s)]
}

// token is one lexeme; text is the identifier, unescaped string, number
// text, or operator.
type token struct {
	kind tokKind
	pos  int
	text string
	cmp  CmpOp
}

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokIdent:
		return "identifier " + strconv.Quote(t.text)
	case tokQuotedIdent:
		return "quoted identifier " + strconv.Quote(t.text)
	case tokNumber:
		return "number " + t.text
	case tokString:
		return "string " + abbreviate(quoteString(t.text))
	case tokCmp, tokLParen, tokRParen, tokComma, tokMinus, tokPlus, tokDot:
		return "'" + t.text + "'"
	}
	return strings.ToUpper(t.text)
}

func abbreviate(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 37
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// SyntaxError is a parse failure at a byte offset of the filter text. It
// wraps ErrSyntax.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("filter: at offset %d: %s", e.Offset, e.Msg) }
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Limits that keep hostile input cheap.
const (
	maxNumberLen = 400     // characters of a number literal
	maxExponent  = 1000    // |e| of a number literal
	maxDepth     = 500     // nesting of parentheses and NOT
	maxOperands  = 100_000 // columns and literals in one filter
)

// lexer splits filter text into tokens on demand.
type lexer struct {
	src string
	pos int
}

func (l *lexer) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// next returns the token starting at or after l.pos.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	one := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, pos: start, text: l.src[start:l.pos]}, nil
	}
	cmp := func(op CmpOp, n int) (token, error) {
		l.pos += n
		return token{kind: tokCmp, pos: start, text: l.src[start:l.pos], cmp: op}, nil
	}
	switch {
	case c == '(':
		return one(tokLParen)
	case c == ')':
		return one(tokRParen)
	case c == ',':
		return one(tokComma)
	case c == '-':
		return one(tokMinus)
	case c == '+':
		return one(tokPlus)
	case c == '.' && !isDigit(l.peekByte(1)):
		return one(tokDot)
	case c == '=':
		if l.peekByte(1) == '=' {
			return token{}, l.errorf(start, "'==' is not an operator; use '='")
		}
		return cmp(OpEq, 1)
	case c == '!':
		if l.peekByte(1) == '=' {
			return cmp(OpNe, 2)
		}
		return token{}, l.errorf(start, "unexpected '!'; expected '!='")
	case c == '<':
		switch l.peekByte(1) {
		case '=':
			return cmp(OpLe, 2)
		case '>':
			return cmp(OpNe, 2)
		}
		return cmp(OpLt, 1)
	case c == '>':
		if l.peekByte(1) == '=' {
			return cmp(OpGe, 2)
		}
		return cmp(OpGt, 1)
	case c == '\'':
		return l.quoted('\'', tokString, "string")
	case c == '"':
		return l.quoted('"', tokQuotedIdent, "quoted identifier")
	case isDigit(c) || c == '.' && isDigit(l.peekByte(1)):
		return l.number()
	}
	r, size := utf8.DecodeRuneInString(l.src[start:])
	if !identStart(r) || r == utf8.RuneError {
		if r == utf8.RuneError && size == 1 {
			return token{}, l.errorf(start, "invalid UTF-8 byte 0x%02x", c)
		}
		return token{}, l.errorf(start, "unexpected character %q", r)
	}
	l.pos += size
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if r == utf8.RuneError || !identPart(r) {
			break
		}
		l.pos += size
	}
	text := l.src[start:l.pos]
	if k := keywordOf(text); k != tokEOF {
		return token{kind: k, pos: start, text: text}, nil
	}
	return token{kind: tokIdent, pos: start, text: text}, nil
}

func (l *lexer) peekByte(n int) byte {
	if l.pos+n < len(l.src) {
		return l.src[l.pos+n]
	}
	return 0
}

// quoted reads a q-delimited token in which qq stands for q.
func (l *lexer) quoted(q byte, kind tokKind, what string) (token, error) {
	start := l.pos
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(l.src[i:], q)
		if j < 0 {
			return token{}, l.errorf(start, "unterminated %s", what)
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == q {
			b.WriteByte(q)
			i++
			continue
		}
		break
	}
	l.pos = i
	if kind == tokQuotedIdent && b.Len() == 0 {
		return token{}, l.errorf(start, "empty quoted identifier")
	}
	return token{kind: kind, pos: start, text: b.String()}, nil
}

// number reads digits [. digits] [e [+-] digits], or . digits [...].
func (l *lexer) number() (token, error) {
	start := l.pos
	digits := func() int {
		n := 0
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
			n++
		}
		return n
	}
	digits()
	if l.peekByte(0) == '.' {
		l.pos++
		digits()
	}
	if c := l.peekByte(0); c == 'e' || c == 'E' {
		l.pos++
		if c := l.peekByte(0); c == '+' || c == '-' {
			l.pos++
		}
		expStart := l.pos
		if digits() == 0 {
			return token{}, l.errorf(l.pos, "expected digits in the exponent of a number")
		}
		if exp, err := strconv.Atoi(l.src[expStart:l.pos]); err != nil || exp > maxExponent {
			return token{}, l.errorf(start, "number exponent out of range (at most %d)", maxExponent)
		}
	}
	if l.pos < len(l.src) {
		if r, _ := utf8.DecodeRuneInString(l.src[l.pos:]); identPart(r) || r == '.' {
			return token{}, l.errorf(l.pos, "unexpected %q after number %s", r, l.src[start:l.pos])
		}
	}
	if l.pos-start > maxNumberLen {
		return token{}, l.errorf(start, "number longer than %d characters", maxNumberLen)
	}
	return token{kind: tokNumber, pos: start, text: l.src[start:l.pos]}, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
