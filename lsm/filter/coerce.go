package filter

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// class groups column types by how they compare.
type class uint8

const (
	clsOther class = iota // cannot be compared (vectors, lists, ...)
	clsBool
	clsInt
	clsFloat
	clsString // utf8, large_utf8
	clsBinary // binary, large_binary
	clsDate   // date32
	clsTime   // timestamp
	clsDecimal
)

func classOf(t arrow.DataType) class {
	switch t.ID() {
	case arrow.BOOL:
		return clsBool
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return clsInt
	case arrow.FLOAT32, arrow.FLOAT64:
		return clsFloat
	case arrow.STRING, arrow.LARGE_STRING:
		return clsString
	case arrow.BINARY, arrow.LARGE_BINARY:
		return clsBinary
	case arrow.DATE32:
		return clsDate
	case arrow.TIMESTAMP:
		return clsTime
	case arrow.DECIMAL128, arrow.DECIMAL256:
		return clsDecimal
	}
	return clsOther
}

// numberRat reads a number literal exactly.
func numberRat(num string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, fmt.Errorf("%w: bad number %q", ErrType, num)
	}
	return r, nil
}

// intRange is the value range of an integer-valued column type (integers,
// date32 days, timestamp units).
func intRange(t arrow.DataType) (lo, hi *big.Int) {
	switch t.ID() {
	case arrow.INT8:
		return big.NewInt(math.MinInt8), big.NewInt(math.MaxInt8)
	case arrow.INT16:
		return big.NewInt(math.MinInt16), big.NewInt(math.MaxInt16)
	case arrow.INT32, arrow.DATE32:
		return big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32)
	case arrow.UINT8:
		return big.NewInt(0), big.NewInt(math.MaxUint8)
	case arrow.UINT16:
		return big.NewInt(0), big.NewInt(math.MaxUint16)
	case arrow.UINT32:
		return big.NewInt(0), big.NewInt(math.MaxUint32)
	case arrow.UINT64:
		return big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64)
	}
	return big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
}

// intCmp rewrites x op v, for an integer-valued x of range [lo, hi] and an
// exact v, as x op2 k with an integer k in range, or reports the constant
// result it has for every non-null x.
func intCmp(op CmpOp, v *big.Rat, lo, hi *big.Int) (op2 CmpOp, k *big.Int, constant, isConst bool) {
	k = new(big.Int).Div(v.Num(), v.Denom()) // Euclidean: floor for a positive divisor
	if !v.IsInt() {
		switch op {
		case OpEq:
			return op, nil, false, true
		case OpNe:
			return op, nil, true, true
		case OpLt: // x < 2.5 ⇔ x <= 2
			op = OpLe
		case OpGe: // x >= 2.5 ⇔ x > 2
			op = OpGt
		}
	}
	below, above := k.Cmp(lo) < 0, k.Cmp(hi) > 0
	if !below && !above {
		return op, k, false, false
	}
	switch op {
	case OpEq:
		return op, nil, false, true
	case OpNe:
		return op, nil, true, true
	case OpLt, OpLe:
		return op, nil, above, true
	}
	return op, nil, below, true
}

// intScalar makes a scalar of integer-valued type t holding k (in range).
func intScalar(t arrow.DataType, k *big.Int) scalar.Scalar {
	switch t.ID() {
	case arrow.INT8:
		return scalar.NewInt8Scalar(int8(k.Int64()))
	case arrow.INT16:
		return scalar.NewInt16Scalar(int16(k.Int64()))
	case arrow.INT32:
		return scalar.NewInt32Scalar(int32(k.Int64()))
	case arrow.INT64:
		return scalar.NewInt64Scalar(k.Int64())
	case arrow.UINT8:
		return scalar.NewUint8Scalar(uint8(k.Uint64()))
	case arrow.UINT16:
		return scalar.NewUint16Scalar(uint16(k.Uint64()))
	case arrow.UINT32:
		return scalar.NewUint32Scalar(uint32(k.Uint64()))
	case arrow.UINT64:
		return scalar.NewUint64Scalar(k.Uint64())
	case arrow.DATE32:
		return scalar.NewDate32Scalar(arrow.Date32(k.Int64()))
	}
	return scalar.NewTimestampScalar(arrow.Timestamp(k.Int64()), t)
}

// floatScalar rounds v to the float column type t (overflow gives ±Inf).
func floatScalar(t arrow.DataType, v *big.Rat) scalar.Scalar {
	if t.ID() == arrow.FLOAT32 {
		f, _ := v.Float32()
		return scalar.NewFloat32Scalar(f)
	}
	f, _ := v.Float64()
	return scalar.NewFloat64Scalar(f)
}

// bytesScalar makes a scalar of string/binary type t holding s.
func bytesScalar(t arrow.DataType, s string) scalar.Scalar {
	switch t.ID() {
	case arrow.STRING:
		return scalar.NewStringScalar(s)
	case arrow.LARGE_STRING:
		return scalar.NewLargeStringScalar(s)
	case arrow.LARGE_BINARY:
		return scalar.NewLargeBinaryScalar(memory.NewBufferBytes([]byte(s)))
	}
	return scalar.NewBinaryScalar(memory.NewBufferBytes([]byte(s)), arrow.BinaryTypes.Binary)
}

// Layouts accepted for date and timestamp literals, with and without an
// explicit offset.
var (
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"}
	naiveLayouts = []string{"2006-01-02", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}
)

// parseTime reads a date/timestamp literal; loc applies when it has no offset.
func parseTime(s string, loc *time.Location) (time.Time, bool) {
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// nanosPer is the length of one unit of a temporal column in nanoseconds.
func nanosPer(t arrow.DataType) int64 {
	if t.ID() == arrow.DATE32 {
		return 86400 * 1e9
	}
	switch t.(*arrow.TimestampType).Unit {
	case arrow.Second:
		return 1e9
	case arrow.Millisecond:
		return 1e6
	case arrow.Microsecond:
		return 1e3
	}
	return 1
}

// temporalRat converts a date/timestamp string literal to an exact count of
// the column's units since the epoch. Timestamps without a zone hold wall
// clock time, read as UTC.
func temporalRat(t arrow.DataType, s string) (*big.Rat, error) {
	loc := time.UTC
	if ts, ok := t.(*arrow.TimestampType); ok && ts.TimeZone != "" {
		z, err := ts.GetZone()
		if err != nil {
			return nil, fmt.Errorf("%w: column time zone %q: %v", ErrType, ts.TimeZone, err)
		}
		loc = z
	}
	tm, ok := parseTime(s, loc)
	if !ok {
		what := "a timestamp"
		if t.ID() == arrow.DATE32 {
			what = "a date"
		}
		return nil, fmt.Errorf("%w: cannot read %s as %s (want 'YYYY-MM-DD', RFC 3339 like '2024-05-01T12:00:00Z', or 'YYYY-MM-DD hh:mm:ss')",
			ErrType, quoteString(s), what)
	}
	ns := new(big.Int).Mul(big.NewInt(tm.Unix()), big.NewInt(1e9))
	ns.Add(ns, big.NewInt(int64(tm.Nanosecond())))
	return new(big.Rat).SetFrac(ns, big.NewInt(nanosPer(t))), nil
}

// decimalRange is 10^scale and the range of the unscaled values of a
// decimal column type: ±(10^precision - 1).
func decimalRange(t arrow.DataType) (scale *big.Rat, lo, hi *big.Int) {
	d := t.(arrow.DecimalType)
	ten := big.NewInt(10)
	scale = new(big.Rat).SetInt(new(big.Int).Exp(ten, big.NewInt(int64(d.GetScale())), nil))
	hi = new(big.Int).Exp(ten, big.NewInt(int64(d.GetPrecision())), nil)
	hi.Sub(hi, big.NewInt(1))
	return scale, new(big.Int).Neg(hi), hi
}

// decimalScalar makes a scalar of decimal type t with unscaled value k (in
// range).
func decimalScalar(t arrow.DataType, k *big.Int) scalar.Scalar {
	if t.ID() == arrow.DECIMAL256 {
		return scalar.NewDecimal256Scalar(decimal256.FromBigInt(k), t)
	}
	return scalar.NewDecimal128Scalar(decimal128.FromBigInt(k), t)
}
