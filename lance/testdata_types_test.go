package lance

import (
	"context"
	"encoding/hex"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// The "types" tables of make.mjs (testdata/lance/README.md): every column
// type, nulls, empty and null lists, null structs, two fragments and a
// deletion, in data storage versions 2.0, 2.1 and 2.2, written by LanceDB
// 0.31 and 0.39. Lance's 2.1/2.2 writer picks bit packing, RLE or a
// constant page, dictionary, FSST, full-zip and multi-chunk mini-blocks
// for them; the tests read every value and compare it with what LanceDB
// itself read back.

func TestTestdataLanceTypesReadEveryValue(t *testing.T) {
	seen := map[string]int{}
	for _, f := range lanceFixtures(t) {
		if f.basic() {
			continue
		}
		seen[f.DataStorageVersion]++
		t.Run(f.String(), func(t *testing.T) {
			ctx := context.Background()
			mem := checkedMem(t)
			d := f.open(t)
			if d.CountRows() != f.CountRows || int(f.CountRows) != len(f.Rows) {
				t.Fatalf("CountRows %d, LanceDB counted %d and read %d rows", d.CountRows(), f.CountRows, len(f.Rows))
			}
			var names []string
			for _, fl := range d.Schema().Fields() {
				names = append(names, fl.Name)
			}
			var want []string
			for _, fl := range f.Schema {
				want = append(want, fl.Name)
			}
			if !slices.Equal(names, want) {
				t.Fatalf("columns %v, LanceDB's %v", names, want)
			}
			if err := d.CheckReadable(ctx); err != nil {
				t.Fatalf("CheckReadable: %v", err)
			}
			var scanned []map[string]any
			err := d.Scan(ctx, mem, nil, 0, func(frag Fragment, first uint64, rec arrow.RecordBatch) error {
				del, err := d.DeletionBitmap(ctx, frag.ID)
				if err != nil {
					return err
				}
				for i := range int(rec.NumRows()) {
					if del == nil || !del.Contains(uint32(first)+uint32(i)) {
						scanned = append(scanned, typesRow(t, rec, i))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			f.compareRows(t, "scan", scanned)

			// Take every third live row of each fragment: pages read whole,
			// and only the rows' bytes (no small-page shortcut).
			for _, small := range []uint64{takeSmallPage, 0} {
				f.checkTypesTake(t, d, small)
			}
		})
	}
	for _, v := range []string{"2.0", "2.1", "2.2"} {
		if seen[v] != 2 {
			t.Errorf("%d types datasets in data storage version %s, want 2", seen[v], v)
		}
	}
}

// checkTypesTake takes every third live row of each fragment of d with
// takeSmallPage = small and compares them with LanceDB's rows.
func (f *lanceFixture) checkTypesTake(t *testing.T, d *Dataset, small uint64) {
	t.Helper()
	old := takeSmallPage
	takeSmallPage = small
	defer func() { takeSmallPage = old }()
	ctx := context.Background()
	mem := checkedMem(t)
	var taken []map[string]any
	wantTaken := map[string]bool{}
	for _, frag := range d.Fragments() {
		del, err := d.DeletionBitmap(ctx, frag.ID)
		if err != nil {
			t.Fatal(err)
		}
		var rows []uint64
		for r := uint64(0); r < frag.PhysicalRows; r += 3 {
			if del == nil || !del.Contains(uint32(r)) {
				rows = append(rows, r)
			}
		}
		rec, err := d.Take(ctx, mem, frag.ID, rows, nil)
		if err != nil {
			t.Fatalf("take: %v", err)
		}
		for i := range int(rec.NumRows()) {
			row := typesRow(t, rec, i)
			taken = append(taken, row)
			wantTaken[row["id"].(string)] = true
		}
		rec.Release()
	}
	slices.SortFunc(taken, func(a, b map[string]any) int {
		x, _ := strconv.Atoi(a["id"].(string))
		y, _ := strconv.Atoi(b["id"].(string))
		return x - y
	})
	var wantRows []map[string]any
	for _, r := range f.Rows {
		if wantTaken[r["id"].(string)] {
			wantRows = append(wantRows, r)
		}
	}
	if len(taken) != len(wantRows) || len(taken) < len(f.Rows)/4 {
		t.Errorf("take: %d rows, %d of LanceDB's match", len(taken), len(wantRows))
	}
	for i := range min(len(taken), len(wantRows)) {
		if !reflect.DeepEqual(taken[i], wantRows[i]) {
			t.Errorf("take (small pages %d): row %d\n got %v\nwant %v", small, i, taken[i], wantRows[i])
		}
	}
}

// typesRow renders row i of rec as make.mjs's typesJSON does, and checks
// the column "big" (left out of the JSON) against its formula.
func typesRow(t *testing.T, rec arrow.RecordBatch, i int) map[string]any {
	t.Helper()
	row := make(map[string]any, rec.NumCols())
	for c, col := range rec.Columns() {
		name := rec.ColumnName(c)
		if name == "big" {
			id, _ := strconv.Atoi(jsonValue(t, rec.Column(0), i).(string))
			fsl := col.(*array.FixedSizeList)
			vals := fsl.ListValues().(*array.Uint8)
			start := (fsl.Offset() + i) * 260
			for k := range 260 {
				if got, want := vals.Value(start+k), uint8((id*3+k)%256); got != want {
					t.Fatalf("big[%d] of id %d = %d, want %d", k, id, got, want)
				}
			}
			continue
		}
		row[name] = jsonValue(t, col, i)
	}
	return row
}

// jsonValue is value i of a as apache-arrow JS reads it, through JSON:
// 64-bit integers as decimal strings, other numbers as float64, binary as
// hex, decimals as the unscaled integer, lists as arrays, structs as
// objects.
func jsonValue(t *testing.T, a arrow.Array, i int) any {
	t.Helper()
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10)
	case *array.Int8:
		return float64(a.Value(i))
	case *array.Int16:
		return float64(a.Value(i))
	case *array.Int32:
		return float64(a.Value(i))
	case *array.Uint8:
		return float64(a.Value(i))
	case *array.Uint16:
		return float64(a.Value(i))
	case *array.Uint32:
		return float64(a.Value(i))
	case *array.Float16:
		return float64(a.Value(i).Float32())
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Binary:
		return hex.EncodeToString(a.Value(i))
	case *array.LargeBinary:
		return hex.EncodeToString(a.Value(i))
	case *array.Decimal128:
		return decimal128.Num(a.Value(i)).BigInt().String()
	case *array.Decimal256:
		return decimal256.Num(a.Value(i)).BigInt().String()
	case *array.Date32:
		return float64(int64(a.Value(i)) * 86_400_000)
	case *array.Date64:
		return float64(a.Value(i))
	case *array.Time32:
		return float64(a.Value(i))
	case *array.Time64:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Duration:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return float64(int64(a.Value(i)) * int64(unit.Multiplier()) / int64(arrow.Millisecond.Multiplier()))
	case *array.FixedSizeList:
		n := int(a.DataType().(*arrow.FixedSizeListType).Len())
		out := make([]any, n)
		for k := range n {
			out[k] = jsonValue(t, a.ListValues(), (a.Offset()+i)*n+k)
		}
		return out
	case array.ListLike:
		lo, hi := a.ValueOffsets(i)
		out := make([]any, 0, hi-lo)
		for k := lo; k < hi; k++ {
			out = append(out, jsonValue(t, a.ListValues(), int(k)))
		}
		return out
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		out := make(map[string]any, st.NumFields())
		for k := range st.NumFields() {
			out[st.Field(k).Name] = jsonValue(t, a.Field(k), i)
		}
		return out
	case *array.Dictionary:
		return jsonValue(t, a.Dictionary(), a.GetValueIndex(i))
	}
	t.Fatalf("jsonValue: type %s", a.DataType())
	return nil
}
