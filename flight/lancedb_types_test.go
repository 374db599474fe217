package flight_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/lancejs"
)

// lanceDBRead is what interop/read_types.mjs prints: LanceDB's read of a
// table.
type lanceDBRead struct {
	CountRows int64            `json:"countRows"`
	Rows      []map[string]any `json:"rows"`
}

func readWithLanceDB(t *testing.T, nm, dir, table string) lanceDBRead {
	t.Helper()
	var out struct {
		Tables map[string]lanceDBRead `json:"tables"`
	}
	raw := lancejs.Run(t, nm, "read_types.mjs", dir, table)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("read_types.mjs: %v\n%s", err, raw)
	}
	read, ok := out.Tables[table]
	if !ok {
		t.Fatalf("read_types.mjs did not read %s: %s", table, raw)
	}
	return read
}

// typesRows renders rec as read_types.mjs prints rows (in id order), through
// JSON so both sides hold the same Go types.
func typesRows(t *testing.T, rec arrow.RecordBatch) []map[string]any {
	t.Helper()
	rows, err := lancejs.TypesRows(rec)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rows)
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(a, b int) bool { return rowID(out[a]) < rowID(out[b]) })
	return out
}

func rowID(r map[string]any) int64 {
	n, _ := strconv.ParseInt(r["id"].(string), 10, 64)
	return n
}

func sameRows(t *testing.T, what string, got, want []map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: row %d (id %v)\n got %v\nwant %v", what, i, got[i]["id"], got[i], want[i])
		}
	}
}

// keyedRows is a batch of schema with the given ids and seeded values in
// every other column (nulls only where a field is nullable).
func keyedRows(mem memory.Allocator, schema *arrow.Schema, seed uint64, ids []int64, nullStructs bool) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 1))
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, id := range ids {
		for c, f := range schema.Fields() {
			if f.Name == "id" {
				b.Field(c).(*array.Int64Builder).Append(id)
				continue
			}
			appendValue(r, b.Field(c), id, nullStructs, f.Nullable)
		}
	}
	return b.NewRecordBatch()
}

// TestLanceDBTablesEndToEnd: a table of every type that LanceDB 0.39 wrote
// with its defaults (2.2) and one LanceDB 0.31 wrote (2.1), with deleted
// rows. flightwal reads every value as LanceDB does; it adopts "id" as the
// key, upserts (existing and new keys), deletes, flushes and compacts into
// the table in its own version; LanceDB then reads exactly what flightwal
// serves, one row per key. Before the adoption, rows appended to the
// table without a key reach it too.
func TestLanceDBTablesEndToEnd(t *testing.T) {
	for _, tc := range []struct{ variant, fixture string }{
		{"v039", "lancedb-0.39.0/types_2_2"},
		{"", "lancedb-0.31.0/types_2_1"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			nm := lancejs.NodeModules(t, tc.variant)
			dir, st := lanceRoot(t, map[string]string{"types": tc.fixture})
			e := newEnv(t, withStore(st))

			before := readWithLanceDB(t, nm, dir, "types")
			sameRows(t, "flightwal's read of LanceDB's table", typesRows(t, e.mustGet(map[string]any{"table": "types"})), before.Rows)

			// Append-only first, as LanceDB wrote it: appended rows reach
			// the table through flush and compaction.
			schema := flightSchema(t, e, e.listFlights()["types"])
			appended := keyedRows(e.mem, schema, 5, []int64{20000, 20001}, true)
			defer appended.Release()
			e.mustPut(pathDesc("types"), appended)
			e.mustAction("flush", map[string]any{"table": "types"})
			e.mustAction("compact", map[string]any{"table": "types"})
			if n := readWithLanceDB(t, nm, dir, "types").CountRows; n != int64(len(before.Rows))+2 {
				t.Fatalf("LanceDB counts %d rows after an append, want %d", n, len(before.Rows)+2)
			}

			if _, err := e.action("create_table", map[string]any{"name": "types", "primary_key": "id"}); err != nil {
				t.Fatal(err)
			}
			schema = flightSchema(t, e, e.listFlights()["types"])
			var ids []int64
			for _, r := range before.Rows[:12] { // existing keys
				ids = append(ids, rowID(r))
			}
			ids = append(ids, 3, 10000, 10001, 10002) // 3 was deleted by LanceDB; new keys
			up := keyedRows(e.mem, schema, 7, ids, true)
			defer up.Release()
			e.mustPut(pathDesc("types"), up)
			gone := []int64{rowID(before.Rows[0]), rowID(before.Rows[20]), 10001}
			del := keyBatch(e.mem, gone)
			defer del.Release()
			e.mustPut(cmdDesc(map[string]any{"table": "types", "op": "delete"}), del)

			served := typesRows(t, e.mustGet(map[string]any{"table": "types"}))
			if want := len(before.Rows) + 2 + 3 - 2; len(served) != want { // +20000, 20001; +3, 10000, 10002; -2 existing
				t.Fatalf("flightwal serves %d rows, want %d", len(served), want)
			}
			wrote := map[int64]map[string]any{}
			for _, r := range typesRows(t, up) {
				wrote[rowID(r)] = r
			}
			for _, r := range served {
				if w, ok := wrote[rowID(r)]; ok && !reflect.DeepEqual(r, w) {
					t.Fatalf("id %d: served %v, wrote %v", rowID(r), r, w)
				}
			}
			e.mustAction("flush", map[string]any{"table": "types"})
			e.mustAction("compact", map[string]any{"table": "types"})
			sameRows(t, "flightwal after compaction", typesRows(t, e.mustGet(map[string]any{"table": "types"})), served)

			after := readWithLanceDB(t, nm, dir, "types")
			sameRows(t, "LanceDB's read of flightwal's writes", after.Rows, served)
			if after.CountRows != int64(len(served)) {
				t.Fatalf("LanceDB countRows %d, want %d", after.CountRows, len(served))
			}
			for i := 1; i < len(after.Rows); i++ {
				if rowID(after.Rows[i]) == rowID(after.Rows[i-1]) {
					t.Fatalf("LanceDB reads id %d twice", rowID(after.Rows[i]))
				}
			}
		})
	}
}
