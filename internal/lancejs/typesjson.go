package lancejs

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// TypesRows renders rec's rows the way interop/read_types.mjs prints what
// LanceDB reads (and testdata/lance/make.mjs its fixtures' rows): 64-bit
// integers as decimal strings, other numbers as float64, binary as hex,
// decimals as their unscaled integer, dates and timestamps as epoch
// milliseconds, lists as arrays, structs as objects, dictionaries as their
// values.
func TypesRows(rec arrow.RecordBatch) ([]map[string]any, error) {
	out := make([]map[string]any, rec.NumRows())
	for i := range out {
		row := make(map[string]any, rec.NumCols())
		for c, col := range rec.Columns() {
			v, err := TypesValue(col, i)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", rec.ColumnName(c), err)
			}
			row[rec.ColumnName(c)] = v
		}
		out[i] = row
	}
	return out, nil
}

// TypesValue renders value i of a as TypesRows does.
func TypesValue(a arrow.Array, i int) (any, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), nil
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10), nil
	case *array.Int8:
		return float64(a.Value(i)), nil
	case *array.Int16:
		return float64(a.Value(i)), nil
	case *array.Int32:
		return float64(a.Value(i)), nil
	case *array.Uint8:
		return float64(a.Value(i)), nil
	case *array.Uint16:
		return float64(a.Value(i)), nil
	case *array.Uint32:
		return float64(a.Value(i)), nil
	case *array.Float16:
		return float64(a.Value(i).Float32()), nil
	case *array.Float32:
		return float64(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		return hex.EncodeToString(a.Value(i)), nil
	case *array.LargeBinary:
		return hex.EncodeToString(a.Value(i)), nil
	case *array.FixedSizeBinary:
		return hex.EncodeToString(a.Value(i)), nil
	case *array.Decimal128:
		return decimal128.Num(a.Value(i)).BigInt().String(), nil
	case *array.Decimal256:
		return decimal256.Num(a.Value(i)).BigInt().String(), nil
	case *array.Date32:
		return float64(int64(a.Value(i)) * 86_400_000), nil
	case *array.Date64:
		return float64(a.Value(i)), nil
	case *array.Time32:
		return float64(a.Value(i)), nil
	case *array.Time64:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Duration:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return float64(int64(a.Value(i)) * int64(unit.Multiplier()) / int64(arrow.Millisecond.Multiplier())), nil
	case *array.FixedSizeList:
		n := int(a.DataType().(*arrow.FixedSizeListType).Len())
		return listValues(a.ListValues(), (a.Offset()+i)*n, (a.Offset()+i+1)*n)
	case array.ListLike:
		lo, hi := a.ValueOffsets(i)
		return listValues(a.ListValues(), int(lo), int(hi))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		out := make(map[string]any, st.NumFields())
		for k := range st.NumFields() {
			v, err := TypesValue(a.Field(k), i)
			if err != nil {
				return nil, err
			}
			out[st.Field(k).Name] = v
		}
		return out, nil
	case *array.Dictionary:
		return TypesValue(a.Dictionary(), a.GetValueIndex(i))
	}
	return nil, fmt.Errorf("no rendering of %s", a.DataType())
}

func listValues(items arrow.Array, lo, hi int) ([]any, error) {
	out := make([]any, 0, hi-lo)
	for k := lo; k < hi; k++ {
		v, err := TypesValue(items, k)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
