package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Expr is a node of a parsed filter. String renders it back as filter text
// that parses to an equal Expr.
type Expr interface {
	String() string
	prec() int // binding strength, for minimal parenthesisation
	write(b *strings.Builder)
}

// Operand is a column or a literal: what comparisons compare.
type Operand interface {
	Expr
	operand()
}

// Binding strengths, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPredicate
)

// LogicOp is AND or OR.
type LogicOp uint8

const (
	OpAnd LogicOp = iota
	OpOr
)

func (o LogicOp) String() string {
	if o == OpAnd {
		return "AND"
	}
	return "OR"
}

// CmpOp is a comparison operator.
type CmpOp uint8

const (
	OpEq CmpOp = iota // =
	OpNe              // != (also written <>)
	OpLt              // <
	OpLe              // <=
	OpGt              // >
	OpGe              // >=
)

var cmpText = [...]string{OpEq: "=", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">="}

func (o CmpOp) String() string { return cmpText[o] }

// flip is the operator with its operands swapped: a < b is b > a.
func (o CmpOp) flip() CmpOp {
	switch o {
	case OpLt:
		return OpGt
	case OpLe:
		return OpGe
	case OpGt:
		return OpLt
	case OpGe:
		return OpLe
	}
	return o
}

// holds reports whether the operator accepts a three-way comparison result c
// (-1, 0, 1).
func (o CmpOp) holds(c int) bool {
	switch o {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	}
	return c >= 0
}

// Logic is L AND R or L OR R.
type Logic struct {
	Op   LogicOp
	L, R Expr
}

// Not is NOT X.
type Not struct{ X Expr }

// Compare is L op R.
type Compare struct {
	Op   CmpOp
	L, R Operand
}

// In is X [NOT] IN (List...).
type In struct {
	X    Operand
	List []*Literal
	Not  bool
}

// Between is X [NOT] BETWEEN Lo AND Hi.
type Between struct {
	X, Lo, Hi Operand
	Not       bool
}

// IsNull is X IS [NOT] NULL.
type IsNull struct {
	X   Operand
	Not bool
}

// Like is X [NOT] LIKE 'Pattern'; Pattern is the unescaped string literal,
// still holding its % _ and \ escapes.
type Like struct {
	X       Operand
	Pattern string
	Not     bool
}

// Column names a column. Quoted columns were written "like this" and match
// the schema exactly.
type Column struct {
	Name   string
	Quoted bool
	// Path names a field of a struct column, then of that struct, and so
	// on: meta.a is Name "meta", Path ["a"].
	Path []string
}

// LitKind says what a Literal holds.
type LitKind uint8

const (
	LitNull LitKind = iota
	LitBool
	LitNumber
	LitString
)

// Literal is a constant. Numbers keep their text (sign included, no '+'):
// Bind reads it exactly.
type Literal struct {
	Kind LitKind
	Bool bool   // LitBool
	Num  string // LitNumber, e.g. "-12.5e3"
	Str  string // LitString, unescaped
}

func (e *Logic) prec() int {
	if e.Op == OpAnd {
		return precAnd
	}
	return precOr
}

func (*Not) prec() int     { return precNot }
func (*Compare) prec() int { return precPredicate }
func (*In) prec() int      { return precPredicate }
func (*Between) prec() int { return precPredicate }
func (*IsNull) prec() int  { return precPredicate }
func (*Like) prec() int    { return precPredicate }
func (*Column) prec() int  { return precPredicate }
func (*Literal) prec() int { return precPredicate }

func (*Column) operand()  {}
func (*Literal) operand() {}

// render prints e through one builder, so printing is linear in the
// size of the text however deep the tree.
func render(e Expr) string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

// wrap writes e, parenthesised when it binds looser than min.
func wrap(b *strings.Builder, e Expr, min int) {
	if e.prec() < min {
		b.WriteByte('(')
		e.write(b)
		b.WriteByte(')')
		return
	}
	e.write(b)
}

func (e *Logic) write(b *strings.Builder) {
	p := e.prec()
	wrap(b, e.L, p)
	b.WriteString(" " + e.Op.String() + " ")
	// Left-associative: a right child of the same strength needs parentheses.
	wrap(b, e.R, p+1)
}

func (e *Not) write(b *strings.Builder) {
	b.WriteString("NOT ")
	wrap(b, e.X, precNot)
}

func (e *Compare) write(b *strings.Builder) {
	e.L.write(b)
	b.WriteString(" " + e.Op.String() + " ")
	e.R.write(b)
}

func writeNot(b *strings.Builder, not bool) {
	if not {
		b.WriteString(" NOT")
	}
}

func (e *In) write(b *strings.Builder) {
	e.X.write(b)
	writeNot(b, e.Not)
	b.WriteString(" IN (")
	for i, l := range e.List {
		if i > 0 {
			b.WriteString(", ")
		}
		l.write(b)
	}
	b.WriteByte(')')
}

func (e *Between) write(b *strings.Builder) {
	e.X.write(b)
	writeNot(b, e.Not)
	b.WriteString(" BETWEEN ")
	e.Lo.write(b)
	b.WriteString(" AND ")
	e.Hi.write(b)
}

func (e *IsNull) write(b *strings.Builder) {
	e.X.write(b)
	b.WriteString(" IS")
	writeNot(b, e.Not)
	b.WriteString(" NULL")
}

func (e *Like) write(b *strings.Builder) {
	e.X.write(b)
	writeNot(b, e.Not)
	b.WriteString(" LIKE ")
	b.WriteString(quoteString(e.Pattern))
}

func (c *Column) write(b *strings.Builder) {
	writeIdent(b, c.Name, c.Quoted)
	for _, f := range c.Path {
		b.WriteByte('.')
		writeIdent(b, f, false)
	}
}

func writeIdent(b *strings.Builder, name string, quoted bool) {
	if !quoted && isBareIdent(name) {
		b.WriteString(name)
		return
	}
	b.WriteString(`"` + strings.ReplaceAll(name, `"`, `""`) + `"`)
}

func (l *Literal) write(b *strings.Builder) {
	switch l.Kind {
	case LitBool:
		if l.Bool {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case LitNumber:
		b.WriteString(l.Num)
	case LitString:
		b.WriteString(quoteString(l.Str))
	default:
		b.WriteString("NULL")
	}
}

func (e *Logic) String() string   { return render(e) }
func (e *Not) String() string     { return render(e) }
func (e *Compare) String() string { return render(e) }
func (e *In) String() string      { return render(e) }
func (e *Between) String() string { return render(e) }
func (e *IsNull) String() string  { return render(e) }
func (e *Like) String() string    { return render(e) }
func (c *Column) String() string  { return render(c) }
func (l *Literal) String() string { return render(l) }

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// isBareIdent reports whether s can be written without quotes: an
// identifier that is not a keyword.
func isBareIdent(s string) bool {
	if s == "" || keywordOf(s) != tokEOF {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError || !(identStart(r) || i > 0 && identPart(r)) {
			return false
		}
	}
	return true
}

func identStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func identPart(r rune) bool  { return identStart(r) || unicode.IsDigit(r) }
