package filter

import "strings"

// Parse parses filter text into an expression. Failures are *SyntaxError
// (wrapping ErrSyntax) naming the byte offset and what was expected.
func Parse(src string) (Expr, error) {
	p := &parser{lex: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.lex.errorf(p.tok.pos, "empty filter; expected an expression")
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.expected("AND, OR or end of input")
	}
	return e, nil
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lex      lexer
	tok      token
	depth    int
	operands int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// counted consumes the current token as one more operand (a column or a
// literal), within maxOperands.
func (p *parser) counted() error {
	p.operands++
	if p.operands > maxOperands {
		return p.lex.errorf(p.tok.pos, "filter has more than %d columns and literals", maxOperands)
	}
	return p.advance()
}

func (p *parser) expected(what string) error {
	return p.lex.errorf(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
}

// accept consumes the current token if it is of kind k.
func (p *parser) accept(k tokKind) (bool, error) {
	if p.tok.kind != k {
		return false, nil
	}
	return true, p.advance()
}

func (p *parser) expect(k tokKind, what string) error {
	if p.tok.kind != k {
		return p.expected(what)
	}
	return p.advance()
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.lex.errorf(p.tok.pos, "expression nested deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) or() (Expr, error) {
	return p.logic(OpOr, tokOr, p.and)
}

func (p *parser) and() (Expr, error) {
	return p.logic(OpAnd, tokAnd, p.not)
}

// logic parses sub { kw sub }, left-associative.
func (p *parser) logic(op LogicOp, kw tokKind, sub func() (Expr, error)) (Expr, error) {
	l, err := sub()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == kw {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := sub()
		if err != nil {
			return nil, err
		}
		l = &Logic{Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) not() (Expr, error) {
	if p.tok.kind != tokNot {
		return p.predicate()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &Not{X: x}, nil
}

func (p *parser) predicate() (Expr, error) {
	if p.tok.kind == tokLParen {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokRParen, "')'"); err != nil {
			return nil, err
		}
		return e, nil
	}
	x, err := p.operand("a column, literal, NOT or '('")
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokCmp:
		op := p.tok.cmp
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.operand("a column or literal after " + op.String())
		if err != nil {
			return nil, err
		}
		return &Compare{Op: op, L: x, R: r}, nil
	case tokIs:
		if err := p.advance(); err != nil {
			return nil, err
		}
		not, err := p.accept(tokNot)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokNull, "NULL or NOT NULL after IS"); err != nil {
			return nil, err
		}
		return &IsNull{X: x, Not: not}, nil
	}
	not, err := p.accept(tokNot)
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokIn:
		return p.in(x, not)
	case tokBetween:
		return p.between(x, not)
	case tokLike:
		return p.like(x, not)
	}
	if not {
		return nil, p.expected("IN, BETWEEN or LIKE after NOT")
	}
	return x, nil
}

func (p *parser) in(x Operand, not bool) (Expr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tokLParen, "'(' after IN"); err != nil {
		return nil, err
	}
	e := &In{X: x, Not: not}
	for {
		l, err := p.literal()
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, p.expected("a literal in the IN list")
		}
		e.List = append(e.List, l)
		if ok, err := p.accept(tokComma); err != nil {
			return nil, err
		} else if !ok {
			break
		}
	}
	if err := p.expect(tokRParen, "',' or ')' in the IN list"); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) between(x Operand, not bool) (Expr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	lo, err := p.operand("a column or literal after BETWEEN")
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokAnd, "AND in BETWEEN ... AND ..."); err != nil {
		return nil, err
	}
	hi, err := p.operand("a column or literal after BETWEEN ... AND")
	if err != nil {
		return nil, err
	}
	return &Between{X: x, Lo: lo, Hi: hi, Not: not}, nil
}

func (p *parser) like(x Operand, not bool) (Expr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokString {
		return nil, p.expected("a 'pattern' string after LIKE")
	}
	pat := p.tok
	if err := checkPattern(pat.text); err != nil {
		return nil, p.lex.errorf(pat.pos, "LIKE pattern %s: %v", abbreviate(quoteString(pat.text)), err)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return &Like{X: x, Pattern: pat.text, Not: not}, nil
}

// operand parses a column or literal; what describes it for errors.
func (p *parser) operand(what string) (Operand, error) {
	switch p.tok.kind {
	case tokIdent, tokQuotedIdent:
		c := &Column{Name: p.tok.text, Quoted: p.tok.kind == tokQuotedIdent}
		if err := p.counted(); err != nil {
			return nil, err
		}
		// A struct field: column.field[.field...].
		for p.tok.kind == tokDot {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tokIdent && p.tok.kind != tokQuotedIdent {
				return nil, p.expected("a field name after '.'")
			}
			c.Path = append(c.Path, p.tok.text)
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	l, err := p.literal()
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, p.expected(what)
	}
	return l, nil
}

// literal parses a literal, or returns nil without consuming anything if
// the current token cannot start one.
func (p *parser) literal() (*Literal, error) {
	var l *Literal
	switch p.tok.kind {
	case tokNull:
		l = &Literal{Kind: LitNull}
	case tokTrue, tokFalse:
		l = &Literal{Kind: LitBool, Bool: p.tok.kind == tokTrue}
	case tokString:
		l = &Literal{Kind: LitString, Str: p.tok.text}
	case tokNumber:
		l = &Literal{Kind: LitNumber, Num: p.tok.text}
	case tokMinus, tokPlus:
		neg := p.tok.kind == tokMinus
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokNumber {
			return nil, p.expected("a number after the sign")
		}
		l = &Literal{Kind: LitNumber, Num: p.tok.text}
		if neg {
			l.Num = "-" + l.Num
		}
	default:
		return nil, nil
	}
	return l, p.counted()
}

// checkPattern rejects a LIKE pattern ending in a lone escape character.
func checkPattern(pat string) error {
	n := len(pat) - len(strings.TrimRight(pat, `\`))
	if n%2 == 1 {
		return errDanglingEscape
	}
	return nil
}
