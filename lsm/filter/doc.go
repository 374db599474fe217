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
//	column    := name { '.' name }
//	name      := identifier | "quoted identifier"
//
// Keywords are case-insensitive. A bare identifier matches the schema field
// of that exact name, else the only field equal to it ignoring case; a
// double-quoted identifier ("" escapes a quote) matches exactly. In a
// 'string' a doubled single quote stands for one. A LIKE pattern has %
// (any run) and _ (one character; one byte on binary columns), and \
// escapes the next character. Comparisons do not chain (a = 1 = 2 is an
// error), and IN lists hold literals only.
//
// A dotted name reads a field of a struct column (meta.a, meta.inner.f):
// the field is null where the struct is; each name after a dot matches
// the struct's field of that exact name, else the only one equal to it
// ignoring case.
//
// Types: a column compares with literals and columns of its kind: booleans;
// numbers (any integer or float type; float16 compares as float32;
// time32, time64 and duration as integer counts of their unit); decimals
// (with number literals, exactly, and with decimals of the same type);
// strings and binary (dictionary-encoded strings by their values); date32,
// date64 and timestamps (but a timestamp with a zone not with one without;
// date64 is a timestamp in milliseconds). Other columns (vectors, lists,
// structs) allow only IS [NOT] NULL.
//
// Literals are coerced to the type of the column they meet. Integer columns
// compare exactly: x = 2.5 is never true, x < 300 is true for every non-null
// int8 x. For float columns the number is rounded to the column's type
// (float32: 0.1 means float32(0.1); overflow gives ±Inf). For date32 and
// timestamp columns a string is read as 'YYYY-MM-DD', RFC 3339, or
// 'YYYY-MM-DD hh:mm:ss[.fffffffff]' (space or T) and compared exactly at the
// column's unit; without an offset it is read in the column's time zone
// (UTC if none); a date is midnight UTC. Columns of different numeric or
// temporal types compare exactly too. Floats follow IEEE 754: NaN compares
// unequal and unordered to everything, -0 equals 0.
//
// Evaluation uses arrow-go compute kernels (comparisons, is_in, Kleene
// AND/OR, not) and tight loops where none fits: LIKE, IS NULL, exact mixed
// numeric/temporal comparisons and literals out of a column's range.
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
