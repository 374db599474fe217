package filter

import (
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// in binds X IN (list) without its NOT.
func (bd *binder) in(e *In) (node, error) {
	x, isCol := e.X.(*Column)
	if !isCol {
		// Literal IN (literals): x = a OR x = b ...
		acc := triFalse
		for _, l := range e.List {
			v, err := foldCompare(OpEq, e.X.(*Literal), l)
			if err != nil {
				return nil, err
			}
			acc = acc.or(v)
		}
		return constNode{acc}, nil
	}
	c := bd.column(x)
	if err := c.comparable(); err != nil {
		return nil, err
	}
	if c.cls == clsBool || c.cls == clsDecimal {
		// arrow's is_in mishandles booleans and has no decimals;
		// x IN (a, b) is x = a OR x = b.
		var n node = constNode{triFalse}
		for _, l := range e.List {
			eq, err := bd.colLit(OpEq, c, l)
			if err != nil {
				return nil, err
			}
			n = logicNode(OpOr, n, eq)
		}
		return n, nil
	}
	b := array.NewBuilder(bd.goMem, c.typ)
	defer b.Release()
	hasNull := false
	for _, l := range e.List {
		if l.Kind == LitNull {
			hasNull = true
			continue
		}
		if err := bd.appendMember(b, c, l); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		if hasNull {
			return constNode{triNull}, nil
		}
		return &validConstNode{col: c.slot, v: false}, nil
	}
	if hasNull {
		b.AppendNull()
	}
	return &inNode{col: c.slot, set: b.NewArray()}, nil
}

// appendMember appends literal l, coerced to c's type, to an IN set; a
// literal no value of the column can equal (300 for int8, 2.5 for an
// integer) is left out.
func (bd *binder) appendMember(b array.Builder, c col, l *Literal) error {
	switch c.cls {
	case clsInt, clsDate, clsTime:
		v, err := bd.exactValue(c, l)
		if err != nil {
			return err
		}
		lo, hi := intRange(c.typ)
		if _, k, _, isConst := intCmp(OpEq, v, lo, hi); !isConst {
			appendInt(b, k)
		}
		return nil
	case clsFloat:
		if l.Kind != LitNumber {
			break
		}
		v, err := numberRat(l.Num)
		if err != nil {
			return err
		}
		// is_in hashes bit patterns: -0 must be in the set to match 0, as
		// it does with =.
		switch fb := b.(type) {
		case *array.Float32Builder:
			f, _ := v.Float32()
			fb.Append(f)
			if f == 0 {
				fb.Append(float32(math.Copysign(0, -1)))
			}
		case *array.Float64Builder:
			f, _ := v.Float64()
			fb.Append(f)
			if f == 0 {
				fb.Append(math.Copysign(0, -1))
			}
		}
		return nil
	case clsString, clsBinary:
		if l.Kind != LitString {
			break
		}
		switch sb := b.(type) {
		case *array.StringBuilder:
			sb.Append(l.Str)
		case *array.LargeStringBuilder:
			sb.Append(l.Str)
		case *array.BinaryBuilder:
			sb.AppendString(l.Str)
		}
		return nil
	}
	return fmt.Errorf("%w: cannot compare %s with %s", ErrType, c, l)
}

// appendInt appends k (in range) to a builder of an integer-valued type.
func appendInt(b array.Builder, k *big.Int) {
	switch ib := b.(type) {
	case *array.Int8Builder:
		ib.Append(int8(k.Int64()))
	case *array.Int16Builder:
		ib.Append(int16(k.Int64()))
	case *array.Int32Builder:
		ib.Append(int32(k.Int64()))
	case *array.Int64Builder:
		ib.Append(k.Int64())
	case *array.Uint8Builder:
		ib.Append(uint8(k.Uint64()))
	case *array.Uint16Builder:
		ib.Append(uint16(k.Uint64()))
	case *array.Uint32Builder:
		ib.Append(uint32(k.Uint64()))
	case *array.Uint64Builder:
		ib.Append(k.Uint64())
	case *array.Date32Builder:
		ib.Append(arrow.Date32(k.Int64()))
	case *array.TimestampBuilder:
		ib.Append(arrow.Timestamp(k.Int64()))
	}
}
