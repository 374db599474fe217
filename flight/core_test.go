package flight_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
)

var pkMeta = arrow.NewMetadata([]string{lsm.PrimaryKeyMetadataKey}, []string{"true"})

// allTypesSchema has every column type of API.md, nullable except the key.
func allTypesSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: pkMeta},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tsn", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
		{Name: "vec", Type: arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32), Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String},
	}, nil)
}

// randomBatch fills every column with seeded values; about 1 in 7 values of
// nullable columns is null. Row i has id first+i.
func randomBatch(mem memory.Allocator, schema *arrow.Schema, seed uint64, first, n int64) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, uint64(first)))
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for c, f := range schema.Fields() {
		fb := b.Field(c)
		for i := int64(0); i < n; i++ {
			if f.Nullable && r.IntN(7) == 0 {
				fb.AppendNull()
				continue
			}
			switch x := fb.(type) {
			case *array.Int64Builder:
				if f.Name == "id" {
					x.Append(first + i)
				} else {
					x.Append(r.Int64() - r.Int64())
				}
			case *array.BooleanBuilder:
				x.Append(r.IntN(2) == 0)
			case *array.Int8Builder:
				x.Append(int8(r.Uint32()))
			case *array.Int16Builder:
				x.Append(int16(r.Uint32()))
			case *array.Int32Builder:
				x.Append(int32(r.Uint32()))
			case *array.Uint8Builder:
				x.Append(uint8(r.Uint32()))
			case *array.Uint16Builder:
				x.Append(uint16(r.Uint32()))
			case *array.Uint32Builder:
				x.Append(r.Uint32())
			case *array.Uint64Builder:
				x.Append(r.Uint64())
			case *array.Float32Builder:
				x.Append(r.Float32()*1000 - 500)
			case *array.Float64Builder:
				x.Append(r.NormFloat64() * 1e6)
			case *array.StringBuilder:
				if f.Name == "text" {
					x.Append(datagen.Text(seed, first+i))
				} else {
					x.Append(fmt.Sprintf("s-%d-é-%d", first+i, r.IntN(1000)))
				}
			case *array.LargeStringBuilder:
				x.Append(fmt.Sprintf("large-%d", r.IntN(1<<20)))
			case *array.BinaryBuilder:
				if f.Type.ID() == arrow.LARGE_BINARY {
					x.Append([]byte{byte(i), 0, 0xff, byte(r.IntN(256))})
				} else {
					x.Append([]byte(fmt.Sprintf("bin\x00%d", r.IntN(100))))
				}
			case *array.Date32Builder:
				x.Append(arrow.Date32(r.IntN(40000)))
			case *array.TimestampBuilder:
				x.Append(arrow.Timestamp(r.Int64N(1 << 50)))
			case *array.FixedSizeListBuilder:
				x.Append(true)
				vb := x.ValueBuilder().(*array.Float32Builder)
				dim := int(f.Type.(*arrow.FixedSizeListType).Len())
				for j := 0; j < dim; j++ {
					vb.Append(r.Float32())
				}
			default:
				panic(fmt.Sprintf("randomBatch: no generator for %T", fb))
			}
		}
	}
	return b.NewRecordBatch()
}

// sortedByID returns rec's rows ordered by the int64 column "id".
func sortedByID(t testing.TB, mem memory.Allocator, rec arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	ids := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
	idx := make([]int, ids.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ids.Value(idx[a]) < ids.Value(idx[b]) })
	parts := make([]arrow.RecordBatch, len(idx))
	for i, j := range idx {
		parts[i] = rec.NewSlice(int64(j), int64(j)+1)
	}
	tbl := array.NewTableFromRecords(rec.Schema(), parts)
	for _, p := range parts {
		p.Release()
	}
	defer tbl.Release()
	out := concatTable(mem, tbl)
	t.Cleanup(out.Release)
	return out
}

func ids(rec arrow.RecordBatch) []int64 {
	col := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.Int64)
	out := make([]int64, col.Len())
	for i := range out {
		out[i] = col.Value(i)
	}
	return out
}

func sortedIDs(rec arrow.RecordBatch) []int64 {
	out := ids(rec)
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func assertRecordsEqual(t testing.TB, want, got arrow.RecordBatch) {
	t.Helper()
	if !want.Schema().Equal(got.Schema()) {
		t.Fatalf("schema differs:\nwant %s\ngot  %s", want.Schema(), got.Schema())
	}
	if want.NumRows() != got.NumRows() {
		t.Fatalf("rows: want %d, got %d", want.NumRows(), got.NumRows())
	}
	for c := 0; c < int(want.NumCols()); c++ {
		if !array.Equal(want.Column(c), got.Column(c)) {
			t.Fatalf("column %q differs", want.ColumnName(c))
		}
	}
}

func TestRoundTripAllTypes(t *testing.T) {
	e := newEnv(t)
	schema := allTypesSchema(1024)
	e.createTable("all", schema, nil)
	b1 := randomBatch(e.mem, schema, 1, 0, 300)
	defer b1.Release()
	b2 := randomBatch(e.mem, schema, 2, 300, 700) // 700 x 4 KiB vectors: > 2.8 MiB in one message
	defer b2.Release()
	res := e.mustPut(pathDesc("all"), b1, b2)
	for i, r := range res {
		if r.Batch != i || !r.Durable || r.Regions["0"] != uint64(i+1) {
			t.Fatalf("PutResult %d = %+v", i, r)
		}
	}
	if res[0].Rows != 300 || res[1].Rows != 700 {
		t.Fatalf("rows in PutResults: %+v", res)
	}
	got := sortedByID(t, e.mem, e.mustGet(map[string]any{"table": "all"}))
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{b1, b2})
	defer tbl.Release()
	want := concatTable(e.mem, tbl)
	defer want.Release()
	// The table's schema marks the key non-nullable with Lance's metadata;
	// compare values column by column.
	if got.NumRows() != want.NumRows() {
		t.Fatalf("got %d rows, want %d", got.NumRows(), want.NumRows())
	}
	for c := 0; c < int(want.NumCols()); c++ {
		if !array.Equal(want.Column(c), got.Column(c)) {
			t.Fatalf("column %q differs after the round trip", want.ColumnName(c))
		}
		if got.Schema().Field(c).Name != want.Schema().Field(c).Name || !arrow.TypeEqual(got.Schema().Field(c).Type, want.Schema().Field(c).Type) {
			t.Fatalf("field %d: got %s, want %s", c, got.Schema().Field(c), want.Schema().Field(c))
		}
	}
	// Survives a restart: everything comes back from the WAL.
	e.restart()
	again := sortedByID(t, e.mem, e.mustGet(map[string]any{"table": "all"}))
	assertRecordsEqual(t, got, again)
	// Projection and a filter over several types.
	proj := e.mustGet(map[string]any{"table": "all", "columns": []string{"s", "id"}, "filter": "i32 >= 0 AND s IS NOT NULL AND b = TRUE", "limit": 50})
	if proj.NumCols() != 2 || proj.ColumnName(0) != "s" || proj.NumRows() == 0 || proj.NumRows() > 50 {
		t.Fatalf("projection/filter/limit: %d cols %v, %d rows", proj.NumCols(), proj.Schema(), proj.NumRows())
	}
}

func TestUpsertDeleteLookup(t *testing.T) {
	e := newEnv(t)
	schema := datagen.Schema(8)
	e.createTable("kv", schema, nil)
	first := datagen.Batch(e.mem, 8, 1, 0, 100)
	defer first.Release()
	e.mustPut(pathDesc("kv"), first)
	// Rewrite ids 50..149: 50..99 are updates, 100..149 new.
	second := datagen.Batch(e.mem, 8, 2, 50, 100)
	defer second.Release()
	e.mustPut(pathDesc("kv"), second)
	all := e.mustGet(map[string]any{"table": "kv"})
	if got := sortedIDs(all); len(got) != 150 || got[0] != 0 || got[149] != 149 {
		t.Fatalf("after upsert: %d rows (%v...)", len(got), got[:min(5, len(got))])
	}
	// The updated rows carry the second batch's text.
	row := e.mustGet(map[string]any{"table": "kv", "pk": []int{75}})
	if row.NumRows() != 1 || row.Column(2).(*array.String).Value(0) != datagen.Text(2, 75) {
		t.Fatalf("pk 75: want the newer text, got %v", row)
	}
	// Delete 0..9 and 140..149.
	del := keyBatch(e.mem, append(seq(0, 10), seq(140, 150)...))
	defer del.Release()
	res := e.mustPut(cmdDesc(map[string]any{"table": "kv", "op": "delete"}), del)
	if res[0].Rows != 20 {
		t.Fatalf("delete PutResult: %+v", res[0])
	}
	all = e.mustGet(map[string]any{"table": "kv"})
	if got := sortedIDs(all); len(got) != 130 || got[0] != 10 || got[129] != 139 {
		t.Fatalf("after delete: %d rows", len(got))
	}
	look := e.mustGet(map[string]any{"table": "kv", "pk": []int{5, 60, 145, 120, 9999}})
	if got := ids(look); fmt.Sprint(got) != "[60 120]" {
		t.Fatalf("pk lookup: got %v, want [60 120]", got)
	}
	// Re-insert a deleted key: it is back with the new value.
	back := datagen.Batch(e.mem, 8, 3, 5, 1)
	defer back.Release()
	e.mustPut(pathDesc("kv"), back)
	row = e.mustGet(map[string]any{"table": "kv", "pk": []int{5}})
	if row.NumRows() != 1 || row.Column(2).(*array.String).Value(0) != datagen.Text(3, 5) {
		t.Fatalf("re-inserted key 5: %v", row)
	}
	// Everything holds after freeze and restart (replay).
	e.mustAction("freeze", map[string]any{"table": "kv"})
	e.restart()
	if got := sortedIDs(e.mustGet(map[string]any{"table": "kv"})); len(got) != 131 {
		t.Fatalf("after restart: %d rows, want 131", len(got))
	}
	row = e.mustGet(map[string]any{"table": "kv", "pk": []int{75, 145}})
	if row.NumRows() != 1 || row.Column(2).(*array.String).Value(0) != datagen.Text(2, 75) {
		t.Fatalf("after restart pk 75,145: %v", row)
	}
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func keyBatch(mem memory.Allocator, keys []int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(keys, nil)
	a := b.NewArray()
	defer a.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{a}, int64(len(keys)))
}

func TestReadYourWritesAcrossConnections(t *testing.T) {
	e := newEnv(t)
	e.createTable("ryw", datagen.Schema(4), map[string]any{"regions": 4})
	other := e.newClient()
	for i := int64(0); i < 20; i++ {
		b := datagen.Batch(e.mem, 4, 1, i*10, 10)
		e.mustPut(pathDesc("ryw"), b)
		b.Release()
		got, err := getWith(other, e.mem, map[string]any{"table": "ryw"})
		if err != nil {
			t.Fatal(err)
		}
		if got.NumRows() != (i+1)*10 {
			t.Fatalf("after batch %d another connection sees %d rows, want %d", i, got.NumRows(), (i+1)*10)
		}
		got.Release()
	}
}

func TestAsyncWritesVisibleOnlyWhenDurable(t *testing.T) {
	e := newEnv(t, withLSM(lsm.Options{WALFlushInterval: 300 * time.Millisecond}))
	e.createTable("async", datagen.Schema(4), nil)
	b := datagen.Batch(e.mem, 4, 1, 0, 10)
	defer b.Release()
	start := time.Now()
	res := e.mustPut(cmdDesc(map[string]any{"table": "async", "durable": false}), b)
	if res[0].Durable {
		t.Fatalf("async PutResult says durable: %+v", res[0])
	}
	// Not durable yet, so not visible (unless the interval already passed).
	got := e.mustGet(map[string]any{"table": "async"})
	if got.NumRows() != 0 && time.Since(start) < 300*time.Millisecond {
		t.Fatalf("async rows visible %v after the put, before the flush interval", time.Since(start))
	}
	if !eventually(t, 2*time.Second, func() bool {
		r, err := e.get(map[string]any{"table": "async"})
		if err != nil {
			return false
		}
		defer r.Release()
		return r.NumRows() == 10
	}) {
		t.Fatal("async rows never became visible")
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("async rows visible after %v, before the 300ms flush interval made them durable", el)
	}
	// sync waits for durability of everything acknowledged.
	b2 := datagen.Batch(e.mem, 4, 1, 10, 10)
	defer b2.Release()
	e.mustPut(cmdDesc(map[string]any{"table": "async", "durable": false}), b2)
	out := e.mustAction("sync", map[string]any{"table": "async"})
	if fmt.Sprint(out["durable"]) != "map[0:2]" {
		t.Fatalf("sync result %v", out)
	}
	if got := e.mustGet(map[string]any{"table": "async"}); got.NumRows() != 20 {
		t.Fatalf("after sync: %d rows", got.NumRows())
	}
}

// TestSnapshotUnderConcurrentWrites: scans running while writers append,
// and freezes or flushes happen, return whole batches only, each key once.
func TestSnapshotUnderConcurrentWrites(t *testing.T) {
	for _, action := range []string{"freeze", "flush"} {
		t.Run(action, func(t *testing.T) { testSnapshotUnderConcurrentWrites(t, action) })
	}
}

func testSnapshotUnderConcurrentWrites(t *testing.T, action string) {
	e := newEnv(t)
	e.createTable("snap", datagen.Schema(4), nil)
	const writers, batches, rows = 3, 60, 50
	var scans, actions atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := e.newClient()
			for i := 0; i < batches; i++ {
				// Writer w owns ids [w*1e6, ...); every other batch rewrites
				// the previous one's keys (upserts), the rest add new keys.
				first := int64(w*1_000_000 + (i/2)*rows)
				b := datagen.Batch(e.mem, 4, uint64(i), first, rows)
				if _, err := putWith(c, pathDesc("snap"), b); err != nil {
					t.Error(err)
				}
				b.Release()
			}
		}(w)
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Add(2)
	go func() { // freezes or flushes while everything runs
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if _, err := e.action(action, map[string]any{"table": "snap"}); err != nil {
					t.Error(err)
				}
				actions.Add(1)
			}
		}
	}()
	go func() {
		defer rg.Done()
		c := e.newClient()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := getWith(c, e.mem, map[string]any{"table": "snap"})
			if err != nil {
				t.Error(err)
				return
			}
			ks := sortedIDs(got)
			got.Release()
			scans.Add(1)
			for i := 1; i < len(ks); i++ {
				if ks[i] == ks[i-1] {
					t.Errorf("key %d returned twice in one scan", ks[i])
					return
				}
			}
			// Keys come in whole batches of 50 aligned ids.
			count := map[int64]int{}
			for _, k := range ks {
				count[k/rows]++
			}
			for blk, n := range count {
				if n != rows {
					t.Errorf("scan saw %d of the %d keys of block %d: a partial batch", n, rows, blk)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	t.Logf("%d scans and %d %s actions ran during the writes", scans.Load(), actions.Load(), action)
	if scans.Load() == 0 || actions.Load() == 0 {
		t.Fatalf("no overlap: %d scans, %d %s actions", scans.Load(), actions.Load(), action)
	}
	got := e.mustGet(map[string]any{"table": "snap"})
	if want := writers * (batches / 2) * rows; int(got.NumRows()) != want {
		t.Fatalf("final scan: %d rows, want %d", got.NumRows(), want)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	schema := datagen.Schema(8)
	e.createTable("t", schema, nil)
	good := datagen.Batch(e.mem, 8, 1, 0, 10)
	defer good.Release()
	e.mustPut(pathDesc("t"), good)

	for _, tc := range []struct {
		name   string
		ticket string
		code   codes.Code
		msg    string
	}{
		{"malformed ticket", `{"table": "t"`, codes.InvalidArgument, "ticket"},
		{"not an object", `[1,2]`, codes.InvalidArgument, "JSON object"},
		{"unknown key", `{"table": "t", "limt": 5}`, codes.InvalidArgument, "limt"},
		{"unknown table", `{"table": "nope"}`, codes.NotFound, "nope"},
		{"bad table name", `{"table": "../etc"}`, codes.InvalidArgument, "table name"},
		{"filter syntax", `{"table": "t", "filter": "id >"}`, codes.InvalidArgument, "filter"},
		{"filter unknown column", `{"table": "t", "filter": "nosuch = 1"}`, codes.NotFound, "nosuch"},
		{"unknown column", `{"table": "t", "columns": ["nosuch"]}`, codes.NotFound, "nosuch"},
		{"bad pk", `{"table": "t", "pk": ["x"]}`, codes.InvalidArgument, "pk"},
		{"negative limit", `{"table": "t", "limit": -1}`, codes.InvalidArgument, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.get(tc.ticket)
			wantCode(t, err, tc.code, tc.msg)
		})
	}

	putCases := []struct {
		name string
		desc any
		rec  func() arrow.RecordBatch
		code codes.Code
		msg  string
	}{
		{"unknown table", pathDesc("nope"), func() arrow.RecordBatch { return datagen.Batch(e.mem, 8, 1, 0, 1) }, codes.NotFound, "nope"},
		{"wrong dimension", pathDesc("t"), func() arrow.RecordBatch { return datagen.Batch(e.mem, 16, 1, 0, 1) }, codes.InvalidArgument, "dimension"},
		{"missing column", pathDesc("t"), func() arrow.RecordBatch { return keyBatch(e.mem, []int64{1}) }, codes.InvalidArgument, "missing column"},
		{"wrong type", pathDesc("t"), func() arrow.RecordBatch { return wrongTypeBatch(e.mem) }, codes.InvalidArgument, "text"},
		{"duplicate key", pathDesc("t"), func() arrow.RecordBatch { return dupKeyBatch(e.mem) }, codes.InvalidArgument, "twice"},
		{"null key", pathDesc("t"), func() arrow.RecordBatch { return nullKeyBatch(e.mem) }, codes.InvalidArgument, "null"},
		{"bad command", cmdDesc(map[string]any{"table": "t", "op": "merge"}), func() arrow.RecordBatch { return datagen.Batch(e.mem, 8, 1, 0, 1) }, codes.InvalidArgument, "op"},
		{"unknown command key", cmdDesc(map[string]any{"table": "t", "durabel": true}), func() arrow.RecordBatch { return datagen.Batch(e.mem, 8, 1, 0, 1) }, codes.InvalidArgument, "durabel"},
	}
	for _, tc := range putCases {
		t.Run("put "+tc.name, func(t *testing.T) {
			rec := tc.rec()
			defer rec.Release()
			_, err := e.put(tc.desc.(*flight.FlightDescriptor), rec)
			wantCode(t, err, tc.code, tc.msg)
		})
	}
	// Nothing of the bad requests was applied; the server still serves.
	got := e.mustGet(map[string]any{"table": "t"})
	if got.NumRows() != 10 {
		t.Fatalf("after bad input: %d rows, want the 10 good ones", got.NumRows())
	}
	_, err := e.action("create_table", map[string]any{"name": "t", "schema": "!!"})
	wantCode(t, err, codes.InvalidArgument, "base64")
	e.createTable("t2", schema, nil)
	_, err = e.action("create_table", map[string]any{"name": "t2", "schema": schemaB64(e, schema)})
	wantCode(t, err, codes.AlreadyExists, "t2")
	_, err = e.action("stats", map[string]any{"table": "t", "extra": 1})
	wantCode(t, err, codes.InvalidArgument, "extra")
	_, err = e.action("nosuch", map[string]any{})
	wantCode(t, err, codes.InvalidArgument, "unknown action")
}

func wrongTypeBatch(mem memory.Allocator) arrow.RecordBatch {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vec", Type: arrow.FixedSizeListOf(8, arrow.PrimitiveTypes.Float32), Nullable: true},
		{Name: "text", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).AppendNull()
	b.Field(2).(*array.Int32Builder).Append(1)
	return b.NewRecordBatch()
}

func dupKeyBatch(mem memory.Allocator) arrow.RecordBatch {
	a := datagen.Batch(mem, 8, 1, 7, 1)
	defer a.Release()
	tbl := array.NewTableFromRecords(a.Schema(), []arrow.RecordBatch{a, a})
	defer tbl.Release()
	return concatTable(mem, tbl)
}

func nullKeyBatch(mem memory.Allocator) arrow.RecordBatch {
	s := datagen.Schema(8)
	fields := s.Fields()
	fields[0].Nullable = true
	s = arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	b.Field(0).AppendNull()
	b.Field(1).AppendNull()
	b.Field(2).(*array.StringBuilder).Append("x")
	return b.NewRecordBatch()
}

func schemaB64(e *env, s *arrow.Schema) string {
	return base64.StdEncoding.EncodeToString(flight.SerializeSchema(s, e.mem))
}

// TestHugeBatchRejected: a message over flight.max_message_bytes gets
// ResourceExhausted and changes nothing; the server keeps serving.
func TestHugeBatchRejected(t *testing.T) {
	e := newEnv(t, withFlight(fw.Options{MaxMessageBytes: 4 << 20}))
	e.createTable("h", datagen.Schema(1024), nil)
	big := datagen.Batch(e.mem, 1024, 1, 0, 1500) // ~6 MiB
	defer big.Release()
	_, err := e.put(pathDesc("h"), big)
	wantCode(t, err, codes.ResourceExhausted, "")
	small := datagen.Batch(e.mem, 1024, 1, 0, 100)
	defer small.Release()
	e.mustPut(pathDesc("h"), small)
	if got := e.mustGet(map[string]any{"table": "h"}); got.NumRows() != 100 {
		t.Fatalf("%d rows, want only the 100 of the small batch", got.NumRows())
	}
}

func TestCreateTableIndexes(t *testing.T) {
	e := newEnv(t)
	schema := datagen.Schema(8)
	b64 := schemaB64(e, schema)
	e.mustAction("create_table", map[string]any{"name": "ix", "schema": b64, "regions": 2, "indexes": []map[string]any{
		{"name": "v", "column": "vec", "type": "ivf_pq", "metric": "cosine", "partitions": 4},
		{"column": "text", "type": "fts", "stem": false},
		{"column": "id", "type": "btree"},
	}})
	st := e.mustAction("stats", map[string]any{"table": "ix"})
	ix := st["indexes"].([]any)
	if len(ix) != 3 || ix[0].(map[string]any)["metric"] != "cosine" || ix[1].(map[string]any)["name"] != "text_idx" {
		t.Fatalf("indexes in stats: %v", ix)
	}
	if len(st["regions"].([]any)) != 2 || st["primary_key"] != "id" {
		t.Fatalf("stats: %v", st)
	}
	for _, tc := range []struct {
		index map[string]any
		code  codes.Code
		msg   string
	}{
		{map[string]any{"column": "vec", "type": "ivf_pq", "metrc": "l2"}, codes.InvalidArgument, "metrc"},
		{map[string]any{"column": "text", "type": "fts", "metric": "l2"}, codes.InvalidArgument, "another index type"},
		{map[string]any{"column": "vec", "type": "ivf_pq", "metric": "manhattan"}, codes.InvalidArgument, "manhattan"},
		{map[string]any{"column": "nope", "type": "fts"}, codes.NotFound, "nope"},
		{map[string]any{"column": "id", "type": "fts"}, codes.InvalidArgument, "string column"},
		{map[string]any{"column": "text", "type": "hnsw"}, codes.InvalidArgument, "hnsw"},
	} {
		_, err := e.action("create_table", map[string]any{"name": "bad", "schema": b64, "indexes": []map[string]any{tc.index}})
		wantCode(t, err, tc.code, tc.msg)
	}
	if _, err := e.get(map[string]any{"table": "bad"}); err == nil {
		t.Fatal("a rejected create_table left a table behind")
	}
}
