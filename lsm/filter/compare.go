package filter

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// This file binds comparisons: column op literal, column op column and
// literal op literal.

// compare binds l op r.
func (bd *binder) compare(op CmpOp, l, r Operand) (node, error) {
	lc, lIsCol := l.(*Column)
	rc, rIsCol := r.(*Column)
	switch {
	case lIsCol && rIsCol:
		return bd.colCol(op, bd.column(lc), bd.column(rc))
	case lIsCol:
		return bd.colLit(op, bd.column(lc), r.(*Literal))
	case rIsCol:
		return bd.colLit(op.flip(), bd.column(rc), l.(*Literal))
	}
	v, err := foldCompare(op, l.(*Literal), r.(*Literal))
	return constNode{v}, err
}

// foldCompare evaluates a comparison of two literals.
func foldCompare(op CmpOp, a, b *Literal) (tri, error) {
	if a.Kind == LitNull || b.Kind == LitNull {
		return triNull, nil
	}
	if a.Kind != b.Kind {
		return triNull, fmt.Errorf("%w: cannot compare %s with %s", ErrType, a, b)
	}
	var c int
	switch a.Kind {
	case LitBool:
		c = boolCmp(a.Bool, b.Bool)
	case LitString:
		c = strings.Compare(a.Str, b.Str)
	case LitNumber:
		x, err := numberRat(a.Num)
		if err != nil {
			return triNull, err
		}
		y, err := numberRat(b.Num)
		if err != nil {
			return triNull, err
		}
		c = x.Cmp(y)
	}
	return triOf(op.holds(c)), nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// colLit binds column op literal.
func (bd *binder) colLit(op CmpOp, c col, lit *Literal) (node, error) {
	if err := c.comparable(); err != nil {
		return nil, err
	}
	if lit.Kind == LitNull {
		return constNode{triNull}, nil // x op NULL is NULL
	}
	mismatch := func() error {
		return fmt.Errorf("%w: cannot compare %s with %s", ErrType, c, lit)
	}
	switch c.cls {
	case clsBool:
		if lit.Kind != LitBool {
			return nil, mismatch()
		}
		// Which of x = false, x = true satisfy x op lit?
		f, t := op.holds(boolCmp(false, lit.Bool)), op.holds(boolCmp(true, lit.Bool))
		if f == t {
			return &validConstNode{col: c.slot, v: f}, nil
		}
		return &cmpLitNode{col: c.slot, op: OpEq, lit: boolScalar(t)}, nil
	case clsInt, clsDate, clsTime:
		v, err := bd.exactValue(c, lit)
		if err != nil {
			return nil, err
		}
		lo, hi := intRange(c.typ)
		op2, k, constant, isConst := intCmp(op, v, lo, hi)
		if isConst {
			return &validConstNode{col: c.slot, v: constant}, nil
		}
		return &cmpLitNode{col: c.slot, op: op2, lit: intScalar(c.typ, k)}, nil
	case clsFloat:
		if lit.Kind != LitNumber {
			return nil, mismatch()
		}
		v, err := numberRat(lit.Num)
		if err != nil {
			return nil, err
		}
		return &cmpLitNode{col: c.slot, op: op, lit: floatScalar(c.typ, v)}, nil
	case clsString, clsBinary:
		if lit.Kind != LitString {
			return nil, mismatch()
		}
		return &cmpLitNode{col: c.slot, op: op, lit: bytesScalar(c.typ, lit.Str)}, nil
	case clsDecimal:
		if lit.Kind != LitNumber {
			return nil, mismatch()
		}
		v, err := numberRat(lit.Num)
		if err != nil {
			return nil, err
		}
		// Exactly, on the unscaled integers: x op v ⇔ unscaled(x) op v·10^scale.
		scale, lo, hi := decimalRange(c.typ)
		op2, k, constant, isConst := intCmp(op, v.Mul(v, scale), lo, hi)
		if isConst {
			return &validConstNode{col: c.slot, v: constant}, nil
		}
		return &cmpLitNode{col: c.slot, op: op2, lit: decimalScalar(c.typ, k)}, nil
	}
	return nil, mismatch()
}

// exactValue reads a literal for an integer-valued column (integers: a
// number; date32 and timestamp: a date/time string) as an exact count of
// the column's units.
func (bd *binder) exactValue(c col, lit *Literal) (*big.Rat, error) {
	if c.cls == clsInt {
		if lit.Kind != LitNumber {
			return nil, fmt.Errorf("%w: cannot compare %s with %s", ErrType, c, lit)
		}
		return numberRat(lit.Num)
	}
	if lit.Kind != LitString {
		return nil, fmt.Errorf("%w: cannot compare %s with %s; write dates and times as strings, e.g. '2024-05-01'", ErrType, c, lit)
	}
	v, err := temporalRat(c.typ, lit.Str)
	if err != nil {
		return nil, fmt.Errorf("%w (comparing %s)", err, c)
	}
	return v, nil
}

// colCol binds column op column.
func (bd *binder) colCol(op CmpOp, l, r col) (node, error) {
	if err := l.comparable(); err != nil {
		return nil, err
	}
	if err := r.comparable(); err != nil {
		return nil, err
	}
	mismatch := fmt.Errorf("%w: cannot compare %s with %s", ErrType, l, r)
	bytesLike := func(c class) bool { return c == clsString || c == clsBinary }
	temporal := func(c class) bool { return c == clsDate || c == clsTime }
	numeric := func(c class) bool { return c == clsInt || c == clsFloat }
	same := arrow.TypeEqual(l.typ, r.typ)
	switch {
	case l.cls == clsBool && r.cls == clsBool:
		if op == OpEq || op == OpNe {
			return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
		}
		return &boolOrderNode{l: l.slot, r: r.slot, op: op}, nil
	case bytesLike(l.cls) && bytesLike(r.cls):
		return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil // the kernel widens offsets
	case numeric(l.cls) && numeric(r.cls):
		if same {
			return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
		}
		if t := losslessCommon(l.typ, r.typ); t != nil {
			return &cmpColNode{l: l.slot, r: r.slot, op: op, cast: t}, nil
		}
		return &numLoopNode{l: l.slot, r: r.slot, op: op}, nil
	case l.cls == clsDecimal && r.cls == clsDecimal:
		if !same {
			return nil, fmt.Errorf("%w: cannot compare %s with %s: decimals compare with decimals of the same precision and scale", ErrType, l, r)
		}
		return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
	case temporal(l.cls) && temporal(r.cls):
		// A date is midnight UTC; timestamps must agree on having a zone,
		// as arrow requires.
		if l.cls == clsTime && r.cls == clsTime && zoned(l.typ) != zoned(r.typ) {
			return nil, fmt.Errorf("%w: cannot compare %s with %s: one has a time zone and the other not", ErrType, l, r)
		}
		if l.typ.ID() == r.typ.ID() && nanosPer(l.typ) == nanosPer(r.typ) {
			return &cmpColNode{l: l.slot, r: r.slot, op: op}, nil
		}
		return &timeLoopNode{l: l.slot, r: r.slot, op: op, lmul: nanosPer(l.typ), rmul: nanosPer(r.typ)}, nil
	}
	return nil, mismatch
}

func zoned(t arrow.DataType) bool {
	ts, ok := t.(*arrow.TimestampType)
	return ok && ts.TimeZone != ""
}

// losslessCommon is a numeric type both a and b convert to exactly, or nil
// (then the comparison runs in a loop). arrow's own promotion would compare
// int64 with float64 as float64 and uint64 with int64 as int64, losing
// values.
func losslessCommon(a, b arrow.DataType) arrow.DataType {
	type info struct {
		float    bool
		signed   bool
		bits     int
		mantissa int // exactly representable integer bits
	}
	get := func(t arrow.DataType) info {
		bits := t.(arrow.FixedWidthDataType).BitWidth()
		switch t.ID() {
		case arrow.FLOAT32:
			return info{float: true, signed: true, bits: 32, mantissa: 24}
		case arrow.FLOAT64:
			return info{float: true, signed: true, bits: 64, mantissa: 53}
		case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			return info{bits: bits, mantissa: bits}
		}
		return info{signed: true, bits: bits, mantissa: bits - 1}
	}
	x, y := get(a), get(b)
	if x.float && y.float {
		return arrow.PrimitiveTypes.Float64
	}
	if x.float || y.float {
		f, i := x, y
		if y.float {
			f, i = y, x
		}
		switch {
		case i.mantissa <= 24 && f.bits == 32:
			return arrow.PrimitiveTypes.Float32
		case i.mantissa <= 53:
			return arrow.PrimitiveTypes.Float64
		}
		return nil
	}
	// Two integer types.
	signed := x.signed || y.signed
	need := max(x.mantissa, y.mantissa) + 1 // value bits + sign
	if !signed {
		need = max(x.bits, y.bits)
	}
	switch {
	case need <= 8:
		return pick(signed, arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint8)
	case need <= 16:
		return pick(signed, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Uint16)
	case need <= 32:
		return pick(signed, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32)
	case need <= 64:
		return pick(signed, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint64)
	}
	return nil
}

func pick(signed bool, s, u arrow.DataType) arrow.DataType {
	if signed {
		return s
	}
	return u
}
