// Package filter owns the `filter` of a DoGet ticket: the SQL boolean
// expression subset of API.md. It parses the text into an AST (Parse),
// resolves and type-checks it against a table schema (Bind), and evaluates
// the bound expression over Arrow record batches into a selection mask
// (Bound.Eval), with SQL three-valued logic: a row is selected only where the
// expression is TRUE.
//
// Grammar, loosest binding first:
//
//	expr      := and { OR and }
//	and       := not { AND not }
//	not       := NOT not | predicate
//	predicate := '(' expr ')'
//	           | operand [ cmp operand
//	                     | [NOT] IN '(' literal { ',' literal } ')'
//	                     | [NOT] BETWEEN operand AND operand
//	                     | IS [NOT] NULL
//	                     | [NOT] LIKE 'pattern' ]
//	operand   := column | literal
//	cmp       := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
//	literal   := ['-'|'+'] number | 'string' | TRUE | FALSE | NULL
//	column    := identifier | "quoted identifier"
//
// Keywords are case-insensitive. A bare identifier matches the schema field
// of that exact name, else the only field equal to it ignoring case; a
// double-quoted identifier ("" escapes a quote) matches exactly. In a 'string'
// a doubled single quote stands for one. A LIKE pattern has % (any run) and _ (one character;
// one byte on binary columns), and \ escapes the next character.
//
// Literals are coerced to the type of the column they meet: numbers to
// integer columns compare exactly (x = 2.5 is never true, x < 300 on an int8
// column is true for every non-null x); numbers are rounded to the column's
// type for float columns; strings are parsed as 'YYYY-MM-DD', RFC 3339, or
// 'YYYY-MM-DD hh:mm:ss[.fff]' for date32 and timestamp columns (a literal
// without an offset is read in the column's time zone, UTC if it has none).
// Floats follow IEEE 754: NaN compares unequal and unordered to everything.
package filter

import "errors"

// Errors returned by Parse and Bind; match them with errors.Is.
var (
	// ErrSyntax: the text is not a filter expression. The error is a
	// *SyntaxError carrying the byte offset.
	ErrSyntax = errors.New("filter: syntax error")
	// ErrUnknownColumn: a column name matches no field of the schema.
	ErrUnknownColumn = errors.New("filter: unknown column")
	// ErrAmbiguousColumn: a bare name matches several fields ignoring case
	// and none exactly.
	ErrAmbiguousColumn = errors.New("filter: ambiguous column")
	// ErrType: operands of incompatible types, a non-boolean used as a
	// condition, or a literal that cannot be read as the column's type.
	ErrType = errors.New("filter: type error")
)
