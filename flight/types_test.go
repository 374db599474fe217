package flight_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// extendedTypes are the column types of API.md beyond allTypesSchema's:
// each is served by every layer above the Lance files. filter is a
// predicate on the column that some but not all non-null values satisfy
// ("" when only IS NULL applies).
var extendedTypes = []struct {
	name   string
	typ    arrow.DataType
	filter string
}{
	{"float16", arrow.FixedWidthTypes.Float16, "v > 0"},
	{"decimal128", &arrow.Decimal128Type{Precision: 20, Scale: 3}, "v > 0"},
	{"decimal256", &arrow.Decimal256Type{Precision: 50, Scale: 5}, "v > 0"},
	{"date64", arrow.FixedWidthTypes.Date64, "v >= '2000-01-01'"},
	{"time32s", arrow.FixedWidthTypes.Time32s, "v > 40000"},
	{"time32ms", arrow.FixedWidthTypes.Time32ms, "v > 40000000"},
	{"time64us", arrow.FixedWidthTypes.Time64us, "v > 40000000000"},
	{"time64ns", arrow.FixedWidthTypes.Time64ns, "v > 40000000000000"},
	{"duration_s", arrow.FixedWidthTypes.Duration_s, "v > 0"},
	{"duration_ns", arrow.FixedWidthTypes.Duration_ns, "v > 0"},
	{"fixed_size_binary", &arrow.FixedSizeBinaryType{ByteWidth: 5}, ""},
	{"large_binary", arrow.BinaryTypes.LargeBinary, "v LIKE 'a%'"},
	{"dictionary_string", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, "v = 'red'"},
	{"list_int32", arrow.ListOf(arrow.PrimitiveTypes.Int32), ""},
	{"list_string", arrow.ListOf(arrow.BinaryTypes.String), ""},
	{"large_list_float64", arrow.LargeListOf(arrow.PrimitiveTypes.Float64), ""},
	{"fixed_size_list_int16", arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Int16), ""},
	{"fixed_size_list_bool", arrow.FixedSizeListOf(4, arrow.FixedWidthTypes.Boolean), ""},
	{"fixed_size_list_string", arrow.FixedSizeListOf(2, arrow.BinaryTypes.String), ""},
	{"list_of_list", arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int64)), ""},
	{"list_of_struct", arrow.ListOf(arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true})), ""},
	{"struct", arrow.StructOf(
		arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	), "v.a > 0"},
	{"struct_nested", arrow.StructOf(
		arrow.Field{Name: "inner", Type: arrow.StructOf(
			arrow.Field{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
			arrow.Field{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		), Nullable: true},
		arrow.Field{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	), "v.inner.f > 0"},
}

// appendRandom appends one seeded value of b's type (children included);
// about 1 in 7 values at every nesting level is null (structs only with
// nullStructs).
func appendRandom(r *rand.Rand, b array.Builder, id int64, nullStructs bool) {
	appendValue(r, b, id, nullStructs, true)
}

// appendValue is appendRandom, with nulls only where nullable.
func appendValue(r *rand.Rand, b array.Builder, id int64, nullStructs, nullable bool) {
	_, isStruct := b.(*array.StructBuilder)
	if nullable && r.IntN(7) == 0 && (nullStructs || !isStruct) {
		b.AppendNull()
		return
	}
	switch x := b.(type) {
	case *array.Int8Builder:
		x.Append(int8(r.Uint32()))
	case *array.Uint8Builder:
		x.Append(uint8(r.Uint32()))
	case *array.Uint16Builder:
		x.Append(uint16(r.Uint32()))
	case *array.Uint32Builder:
		x.Append(r.Uint32())
	case *array.Uint64Builder:
		x.Append(r.Uint64() >> 1)
	case *array.LargeStringBuilder:
		x.Append(fmt.Sprintf("ls%d-%d", id, r.IntN(100)))
	case *array.TimestampBuilder:
		x.Append(arrow.Timestamp(r.Int64N(1 << 50)))
	case *array.Date32Builder:
		x.Append(arrow.Date32(r.IntN(40000)))
	case *array.Int16Builder:
		x.Append(int16(r.Uint32()))
	case *array.Int32Builder:
		x.Append(int32(r.Uint32()))
	case *array.Int64Builder:
		x.Append(r.Int64() - r.Int64())
	case *array.Float32Builder:
		x.Append(r.Float32()*2 - 1)
	case *array.Float64Builder:
		x.Append(r.NormFloat64())
	case *array.BooleanBuilder:
		x.Append(r.IntN(2) == 0)
	case *array.Float16Builder:
		x.Append(float16.New(r.Float32()*200 - 100))
	case *array.Decimal128Builder:
		x.Append(decimal128.FromI64(r.Int64N(1<<50) - 1<<49))
	case *array.Decimal256Builder:
		v := new(big.Int).Mul(big.NewInt(r.Int64()-r.Int64()), big.NewInt(1e15))
		x.Append(decimal256.FromBigInt(v))
	case *array.Date64Builder:
		x.Append(arrow.Date64(r.Int64N(40000) * 86400000)) // whole days, as Arrow requires
	case *array.Time32Builder:
		if x.Type().(*arrow.Time32Type).Unit == arrow.Second {
			x.Append(arrow.Time32(r.IntN(86400)))
		} else {
			x.Append(arrow.Time32(r.IntN(86400000)))
		}
	case *array.Time64Builder:
		if x.Type().(*arrow.Time64Type).Unit == arrow.Microsecond {
			x.Append(arrow.Time64(r.Int64N(86400e6)))
		} else {
			x.Append(arrow.Time64(r.Int64N(86400e9)))
		}
	case *array.DurationBuilder:
		x.Append(arrow.Duration(r.Int64N(1<<40) - 1<<39))
	case *array.FixedSizeBinaryBuilder:
		x.Append([]byte{byte(id), byte(id >> 8), 0, 0xff, byte(r.IntN(256))})
	case *array.BinaryBuilder: // binary, large_binary, string, large_string
		vals := []string{"a", "ab", "abc", "b\x00", "zé", ""}
		x.AppendString(fmt.Sprintf("%s-%d", vals[r.IntN(len(vals))], id))
	case *array.StringBuilder:
		x.Append(fmt.Sprintf("s%d-%d", id, r.IntN(100)))
	case *array.BinaryDictionaryBuilder:
		colors := []string{"red", "green", "blue", "cyan"}
		if err := x.AppendString(colors[r.IntN(len(colors))]); err != nil {
			panic(err)
		}
	case *array.ListBuilder:
		x.Append(true)
		for range r.IntN(4) {
			appendValue(r, x.ValueBuilder(), id, nullStructs, x.Type().(*arrow.ListType).ElemField().Nullable)
		}
	case *array.LargeListBuilder:
		x.Append(true)
		for range r.IntN(4) {
			appendValue(r, x.ValueBuilder(), id, nullStructs, x.Type().(*arrow.LargeListType).ElemField().Nullable)
		}
	case *array.FixedSizeListBuilder:
		x.Append(true)
		t := x.Type().(*arrow.FixedSizeListType)
		for range t.Len() {
			appendValue(r, x.ValueBuilder(), id, nullStructs, t.ElemField().Nullable)
		}
	case *array.StructBuilder:
		x.Append(true)
		t := x.Type().(*arrow.StructType)
		for i := range x.NumField() {
			appendValue(r, x.FieldBuilder(i), id, nullStructs, t.Field(i).Nullable)
		}
	default:
		panic(fmt.Sprintf("appendRandom: no generator for %T", b))
	}
}

// typedBatch is rows id first..first+n-1 of the schema {id int64 key, v T}.
func typedBatch(mem memory.Allocator, schema *arrow.Schema, seed uint64, first, n int64, nullStructs bool) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, uint64(first)))
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := first; i < first+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		appendRandom(r, b.Field(1), i, nullStructs)
	}
	return b.NewRecordBatch()
}

func typedSchema(t arrow.DataType) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pkMeta},
		{Name: "v", Type: t, Nullable: true},
	}, nil)
}

// rowsByID returns rec's rows (sorted by id) as id -> the row's slice.
func rowsByID(t testing.TB, mem memory.Allocator, rec arrow.RecordBatch) map[int64]arrow.RecordBatch {
	t.Helper()
	out := map[int64]arrow.RecordBatch{}
	for i, id := range ids(rec) {
		s := rec.NewSlice(int64(i), int64(i)+1)
		t.Cleanup(s.Release)
		out[id] = s
	}
	return out
}

// assertRows checks that got holds exactly the rows of want whose id is in
// keep, value for value.
func assertRows(t testing.TB, mem memory.Allocator, want, got arrow.RecordBatch, keep func(id int64) bool) {
	t.Helper()
	gm := rowsByID(t, mem, got)
	n := 0
	for id, w := range rowsByID(t, mem, want) {
		if !keep(id) {
			if _, ok := gm[id]; ok {
				t.Fatalf("id %d is back, want it gone", id)
			}
			continue
		}
		n++
		g, ok := gm[id]
		if !ok {
			t.Fatalf("id %d missing", id)
		}
		if !arrow.TypeEqual(w.Column(1).DataType(), g.Column(1).DataType()) {
			t.Fatalf("id %d: type %s, want %s", id, g.Column(1).DataType(), w.Column(1).DataType())
		}
		if !array.Equal(w.Column(1), g.Column(1)) {
			t.Fatalf("id %d: got %v, want %v", id, g.Column(1), w.Column(1))
		}
	}
	if int(got.NumRows()) != n {
		t.Fatalf("got %d rows, want %d", got.NumRows(), n)
	}
}

// TestEveryTypeThroughEveryLayer puts each type of API.md into its own
// table, of data storage version 2.0 and 2.2, and reads it back exactly
// from the memtable, after a restart (WAL replay), and after flush and
// compaction; pk lookups, deletes and a filter on the column run at each
// step. A 2.0 table refuses null structs (2.0 files have no struct
// validity) at DoPut.
func TestEveryTypeThroughEveryLayer(t *testing.T) {
	for _, version := range []string{"2.0", "2.2"} {
		for i, tc := range extendedTypes {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				everyLayer(t, version, i, tc.name, tc.typ, tc.filter)
			})
		}
	}
}

func everyLayer(t *testing.T, version string, i int, name string, typ arrow.DataType, filter string) {
	e := newEnv(t)
	schema := typedSchema(typ)
	if _, err := e.action("create_table", map[string]any{"name": name, "schema": schemaB64(e, schema), "data_storage_version": version}); err != nil {
		// The Lance table format must describe the type first.
		wantCode(t, err, codes.FailedPrecondition, "")
		t.Skipf("lance cannot store %s yet: %v", typ, err)
	}
	nullStructs := version != "2.0"
	if !nullStructs && strings.Contains(typ.String(), "struct<") {
		bad := typedBatch(e.mem, schema, uint64(i), 0, 120, true)
		_, err := e.put(pathDesc(name), bad)
		bad.Release()
		wantCode(t, err, codes.InvalidArgument, "null struct")
	}
	b1 := typedBatch(e.mem, schema, uint64(i), 0, 120, nullStructs)
	defer b1.Release()
	b2 := typedBatch(e.mem, schema, uint64(i)+100, 80, 120, nullStructs) // 80..119 are updates
	defer b2.Release()
	if _, err := e.put(pathDesc(name), b1); err != nil {
		// The Lance writer can't store the type yet: the table
		// serves reads, refuses writes before anything is
		// durable, and says so in its FlightInfo.
		wantCode(t, err, codes.FailedPrecondition, "can't take writes")
		info, ierr := e.client.GetFlightInfo(context.Background(), pathDesc(name))
		if ierr != nil || !strings.Contains(string(info.AppMetadata), `"writes_refused"`) || info.TotalRecords != 0 {
			t.Fatalf("FlightInfo of a table refusing writes: %v, %v", info, ierr)
		}
		t.Skipf("lance cannot write %s yet: %v", typ, err)
	}
	e.mustPut(pathDesc(name), b2)
	head := b1.NewSlice(0, 80)
	defer head.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{head, b2})
	defer tbl.Release()
	want := concatTable(e.mem, tbl)
	defer want.Release()
	del := keyBatch(e.mem, []int64{3, 90, 150})
	defer del.Release()
	e.mustPut(cmdDesc(map[string]any{"table": name, "op": "delete"}), del)
	live := func(id int64) bool { return id != 3 && id != 90 && id != 150 }

	check := func(stage string) {
		t.Helper()
		got := e.mustGet(map[string]any{"table": name})
		assertRows(t, e.mem, want, got, live)
		look := e.mustGet(map[string]any{"table": name, "pk": []int{5, 90, 100, 199, 500}})
		assertRows(t, e.mem, want, look, func(id int64) bool { return id == 5 || id == 100 || id == 199 })
		nn := e.mustGet(map[string]any{"table": name, "filter": "v IS NOT NULL", "columns": []string{"id"}})
		nonNull := 0
		for r, id := range ids(want) {
			if live(id) && want.Column(1).IsValid(r) {
				nonNull++
			}
		}
		if int(nn.NumRows()) != nonNull {
			t.Fatalf("%s: v IS NOT NULL: %d rows, want %d", stage, nn.NumRows(), nonNull)
		}
		if filter != "" {
			f := e.mustGet(map[string]any{"table": name, "filter": filter, "columns": []string{"id"}})
			if f.NumRows() == 0 || f.NumRows() >= nn.NumRows() {
				t.Fatalf("%s: %s: %d rows of %d non-null", stage, filter, f.NumRows(), nn.NumRows())
			}
		}
	}
	check("memtable")
	e.restart()
	check("replayed")
	if _, err := e.action("flush", map[string]any{"table": name}); err != nil {
		// The Lance writer does not encode the type yet: a clear
		// refusal, and nothing changed.
		wantCode(t, err, codes.FailedPrecondition, "")
		check("after a refused flush")
		t.Skipf("flush of %s: %v", typ, err)
	}
	check("flushed")
	e.mustAction("compact", map[string]any{"table": name})
	check("compacted")
	e.restart()
	check("compacted, restarted")
}

// TestPrimaryKeyTypes: a key is an integer, date, time, timestamp,
// duration, string or binary column; every other type is refused with
// InvalidArgument naming it, before anything is created.
func TestPrimaryKeyTypes(t *testing.T) {
	e := newEnv(t)
	refused := []arrow.DataType{
		arrow.FixedWidthTypes.Boolean, arrow.PrimitiveTypes.Float32, arrow.FixedWidthTypes.Float16,
		&arrow.Decimal128Type{Precision: 10, Scale: 2},
		&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String},
		arrow.ListOf(arrow.PrimitiveTypes.Int64), arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int64),
		arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64}),
	}
	for _, typ := range refused {
		s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: typ}, {Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
		_, err := e.action("create_table", map[string]any{"name": "k", "schema": schemaB64(e, s), "primary_key": "k"})
		wantCode(t, err, codes.InvalidArgument, "cannot be a primary key")
		wantCode(t, err, codes.InvalidArgument, typ.String())
	}
	if _, err := e.get(map[string]any{"table": "k"}); codeOf(err) != codes.NotFound {
		t.Fatalf("a refused create_table left a table behind: %v", err)
	}
	// Accepted key types (those the Lance table format describes on this
	// branch; the rest are skipped by TestEveryTypeThroughEveryLayer's
	// create).
	for i, typ := range []arrow.DataType{arrow.FixedWidthTypes.Date64, arrow.FixedWidthTypes.Time32ms, arrow.FixedWidthTypes.Time64ns,
		arrow.FixedWidthTypes.Duration_us, &arrow.FixedSizeBinaryType{ByteWidth: 4}, arrow.FixedWidthTypes.Date32} {
		s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: typ}}, nil)
		_, err := e.action("create_table", map[string]any{"name": fmt.Sprintf("ok%d", i), "schema": schemaB64(e, s), "primary_key": "k"})
		if err != nil && codeOf(err) != codes.FailedPrecondition {
			t.Fatalf("key of type %s: %v", typ, err)
		}
	}
}

func codeOf(err error) codes.Code { st, _ := status.FromError(err); return st.Code() }

// TestCreateTableDataStorageVersion: "2.0", "2.1" and "2.2" are taken
// (stats and a flush show the table works), anything else is
// InvalidArgument naming it and creates nothing.
func TestCreateTableDataStorageVersion(t *testing.T) {
	e := newEnv(t)
	schema := typedSchema(arrow.BinaryTypes.String)
	for _, bad := range []string{"2.3", "legacy", "3"} {
		_, err := e.action("create_table", map[string]any{"name": "v", "schema": schemaB64(e, schema), "data_storage_version": bad})
		wantCode(t, err, codes.InvalidArgument, bad)
	}
	if _, err := e.get(map[string]any{"table": "v"}); codeOf(err) != codes.NotFound {
		t.Fatalf("a refused create_table left a table: %v", err)
	}
	for i, v := range []string{"2.0", "2.1", "2.2"} {
		name := fmt.Sprintf("v%d", i)
		e.mustAction("create_table", map[string]any{"name": name, "schema": schemaB64(e, schema), "data_storage_version": v})
		b := typedBatch(e.mem, schema, 1, 0, 10, true)
		e.mustPut(pathDesc(name), b)
		b.Release()
		e.mustAction("flush", map[string]any{"table": name})
		e.mustAction("compact", map[string]any{"table": name})
		if n := e.mustGet(map[string]any{"table": name}).NumRows(); n != 10 {
			t.Fatalf("%s table: %d rows, want 10", v, n)
		}
	}
}
