package flight_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// lanceRoot is a storage root holding copies of testdata/lance datasets
// (LanceDB wrote them; see the README there): name -> "lancedb-<v>/<t>".
func lanceRoot(t *testing.T, tables map[string]string) (string, *objstore.Local) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range tables {
		if err := os.CopyFS(filepath.Join(dir, name+".lance"), os.DirFS(filepath.Join("..", "testdata", "lance", src+".lance"))); err != nil {
			t.Fatal(err)
		}
	}
	st, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, st
}

// listFlights returns ListFlights' FlightInfos by table name.
func (e *env) listFlights() map[string]*flight.FlightInfo {
	e.t.Helper()
	stream, err := e.client.ListFlights(context.Background(), &flight.Criteria{})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*flight.FlightInfo{}
	for {
		info, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			e.t.Fatal(err)
		}
		out[info.FlightDescriptor.Path[0]] = info
	}
}

func appError(t testing.TB, info *flight.FlightInfo) string {
	t.Helper()
	if len(info.AppMetadata) == 0 {
		return ""
	}
	var st struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(info.AppMetadata, &st); err != nil {
		t.Fatalf("app_metadata %q: %v", info.AppMetadata, err)
	}
	return st.Error
}

// fixtureRows is a batch of n rows of the fixtures' schema, ids first...
func fixtureRows(mem memory.Allocator, schema *arrow.Schema, first, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := first; i < first+n; i++ {
		for c, f := range schema.Fields() {
			switch x := b.Field(c).(type) {
			case *array.Int64Builder:
				x.Append(i)
			case *array.Int32Builder:
				x.Append(int32(i * 10))
			case *array.Float64Builder:
				x.Append(float64(i) / 2)
			case *array.BooleanBuilder:
				x.Append(i%2 == 0)
			case *array.StringBuilder:
				x.Append("flightwal-" + f.Name)
			case *array.Date32Builder:
				x.Append(arrow.Date32(19000 + i))
			case *array.TimestampBuilder:
				x.Append(arrow.Timestamp(1700000000000000 + i))
			default:
				panic(x)
			}
		}
	}
	return b.NewRecordBatch()
}

// TestLanceTablesListedServedOrRefused: every dataset under the root is
// listed. One flightwal can't serve (a data file of format 2.3, a corrupt
// data file) carries the reason in app_metadata and every request on it answers
// FailedPrecondition with it, naming the file; a DoPut into it leaves
// nothing behind. The 2.0, 2.1 and 2.2 tables LanceDB wrote (no primary
// key) are served; 2.0 append-only, writes included; a legacy (v1) table
// is served read-only.
func TestLanceTablesListedServedOrRefused(t *testing.T) {
	// name -> what the reason must say (the file's directory is named too).
	unservable := map[string]string{
		"v23":     "2.3",
		"corrupt": "corrupt",
	}
	dir, st := lanceRoot(t, map[string]string{
		"v20": "lancedb-0.39.0/v2_0", "v22": "lancedb-0.39.0/v2_2", "v21": "lancedb-0.31.0/v2_1",
		"old": "lancedb-0.39.0/legacy", "corrupt": "lancedb-0.39.0/v2_0", "v23": "lancedb-0.39.0/v2_2",
	})
	// v23: a data file that says it is format 2.3 (the footer's minor
	// version, before the magic), which nothing here reads.
	v23, _ := filepath.Glob(filepath.Join(dir, "v23.lance", "data", "*.lance"))
	if len(v23) == 0 {
		t.Fatal("no data files in the v23 copy")
	}
	raw, err := os.ReadFile(v23[0])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-6] = 3
	if err := os.WriteFile(v23[0], raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// corrupt: a data file cut short (its footer is gone).
	files, _ := filepath.Glob(filepath.Join(dir, "corrupt.lance", "data", "*.lance"))
	if len(files) == 0 {
		t.Fatal("no data files in the corrupt copy")
	}
	if err := os.Truncate(files[0], 100); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withStore(st))

	infos := e.listFlights()
	if len(infos) != 6 {
		t.Fatalf("ListFlights: %d tables, want 6", len(infos))
	}
	if msg := appError(t, infos["v20"]); msg != "" || infos["v20"].TotalRecords != 7 {
		t.Fatalf("v20: app error %q, total_records %d (want none, 7)", msg, infos["v20"].TotalRecords)
	}
	for name, what := range unservable {
		msg := appError(t, infos[name])
		namesFile := func(s string) bool {
			data, _ := filepath.Glob(filepath.Join(dir, name+".lance", "data", "*.lance"))
			for _, f := range data {
				if strings.Contains(s, filepath.Base(f)) {
					return true
				}
			}
			return false
		}
		if !strings.Contains(msg, what) || !namesFile(msg) || !strings.Contains(msg, name) {
			t.Fatalf("%s: app_metadata error %q should name the table, the data file and %q", name, msg, what)
		}
		before := keysUnder(t, st, name+".lance/")
		check := func(call string, err error) {
			t.Helper()
			wantCode(t, err, codes.FailedPrecondition, what)
			if !namesFile(err.Error()) {
				t.Fatalf("%s %s: %v does not name the file", name, call, err)
			}
		}
		_, err = e.get(map[string]any{"table": name})
		check("DoGet", err)
		_, err = e.client.GetFlightInfo(context.Background(), pathDesc(name))
		check("GetFlightInfo", err)
		_, err = e.client.GetSchema(context.Background(), pathDesc(name))
		check("GetSchema", err)
		for _, a := range []string{"flush", "compact", "stats", "sync", "freeze"} {
			_, err = e.action(a, map[string]any{"table": name})
			check(a, err)
		}
		if sch := flightSchema(t, e, infos[name]); sch.NumFields() > 0 {
			rows := fixtureRows(e.mem, sch, 100, 3)
			_, err = e.put(pathDesc(name), rows)
			rows.Release()
			check("DoPut", err)
		}
		if after := keysUnder(t, st, name+".lance/"); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Fatalf("%s: requests on an unservable table changed its files:\nbefore %v\nafter  %v", name, before, after)
		}
	}

	// legacy (v1 files): served read-only. Writes are refused saying so
	// before anything is made durable; the FlightInfo carries the reason.
	if got := sortedIDs(e.mustGet(map[string]any{"table": "old"})); len(got) != 7 || got[0] != 3 {
		t.Fatalf("old: ids %v, want 3..9", got)
	}
	var ro struct {
		WritesRefused string `json:"writes_refused"`
	}
	if err := json.Unmarshal(infos["old"].AppMetadata, &ro); err != nil || !strings.Contains(ro.WritesRefused, "read-only") {
		t.Fatalf("old: app_metadata %q (%v), want writes_refused naming the legacy format", infos["old"].AppMetadata, err)
	}
	before := keysUnder(t, st, "old.lance/")
	lrows := fixtureRows(e.mem, flightSchema(t, e, infos["old"]), 100, 3)
	_, err = e.put(pathDesc("old"), lrows)
	lrows.Release()
	wantCode(t, err, codes.FailedPrecondition, "legacy 0.x datasets are read-only")
	_, err = e.action("create_table", map[string]any{"name": "old", "primary_key": "id"})
	wantCode(t, err, codes.FailedPrecondition, "read-only")
	if after := keysUnder(t, st, "old.lance/"); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("old: a refused DoPut changed files:\nbefore %v\nafter  %v", before, after)
	}

	// drop_table still removes an unservable table.
	e.mustAction("drop_table", map[string]any{"name": "corrupt"})
	if _, ok := e.listFlights()["corrupt"]; ok {
		t.Fatal("a dropped unservable table is still listed")
	}
	for _, name := range []string{"v21", "v22"} {
		if msg := appError(t, infos[name]); msg != "" || infos[name].TotalRecords != 7 {
			t.Fatalf("%s: app error %q, total_records %d (want none, 7)", name, msg, infos[name].TotalRecords)
		}
		if got := sortedIDs(e.mustGet(map[string]any{"table": name})); len(got) != 7 || got[0] != 3 || got[6] != 9 {
			t.Fatalf("%s: ids %v, want 3..9", name, got)
		}
	}

	// v20: append-only, as LanceDB wrote it.
	sch := flightSchema(t, e, infos["v20"])
	rows := fixtureRows(e.mem, sch, 100, 3)
	defer rows.Release()
	e.mustPut(pathDesc("v20"), rows)
	got := e.mustGet(map[string]any{"table": "v20"})
	if fmtIDs := sortedIDs(got); len(fmtIDs) != 10 || fmtIDs[0] != 3 || fmtIDs[9] != 102 {
		t.Fatalf("v20 after an append: ids %v", fmtIDs)
	}
	_, err = e.get(map[string]any{"table": "v20", "pk": []int{3}})
	wantCode(t, err, codes.InvalidArgument, "no primary key")
	del := keyBatch(e.mem, []int64{3})
	defer del.Release()
	_, err = e.put(cmdDesc(map[string]any{"table": "v20", "op": "delete"}), del)
	wantCode(t, err, codes.InvalidArgument, "no primary key")

	// A data file found corrupt on a later read: from then on the table
	// answers FailedPrecondition naming it, and is listed with the reason.
	data, _ := filepath.Glob(filepath.Join(dir, "v20.lance", "data", "*.lance"))
	for _, f := range data {
		if err := os.Truncate(f, 100); err != nil {
			t.Fatal(err)
		}
	}
	e.restart() // a fresh file cache; the probe at open finds it
	_, err = e.get(map[string]any{"table": "v20"})
	wantCode(t, err, codes.FailedPrecondition, "corrupt")
	if msg := appError(t, e.listFlights()["v20"]); !strings.Contains(msg, "corrupt") {
		t.Fatalf("v20 listed with %q, want the corrupt file", msg)
	}
}

func flightSchema(t testing.TB, e *env, info *flight.FlightInfo) *arrow.Schema {
	t.Helper()
	s, err := flight.DeserializeSchema(info.Schema, e.mem)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keysUnder(t testing.TB, st objstore.Store, prefix string) []string {
	t.Helper()
	objs, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

// TestAdoptPrimaryKey: create_table with the name of a table LanceDB wrote
// (no primary key) and "primary_key" adopts the column if its live values
// are unique and not null; the table then upserts, deletes and looks keys
// up, through flush, compaction and a restart. A duplicate or null value,
// or a type that can't be a key, is InvalidArgument naming it, and the
// table stays as it was.
func TestAdoptPrimaryKey(t *testing.T) {
	_, st := lanceRoot(t, map[string]string{"v22": "lancedb-0.39.0/v2_2", "dup": "lancedb-0.31.0/v2_1"})
	e := newEnv(t, withStore(st))
	adopt := func(name, pk string) error {
		_, err := e.action("create_table", map[string]any{"name": name, "primary_key": pk})
		return err
	}
	infos := e.listFlights()
	sch := flightSchema(t, e, infos["dup"])
	five := fixtureRows(e.mem, sch, 5, 1)
	defer five.Release()
	e.mustPut(pathDesc("dup"), five) // id 5 twice now
	before := keysUnder(t, st, "dup.lance/_versions/")
	wantCode(t, adopt("dup", "id"), codes.InvalidArgument, "the value 5 more than once")
	wantCode(t, adopt("dup", "i32"), codes.InvalidArgument, "null values")
	wantCode(t, adopt("dup", "f64"), codes.InvalidArgument, "cannot be a primary key")
	wantCode(t, adopt("dup", "nope"), codes.InvalidArgument, "not a column")
	if after := keysUnder(t, st, "dup.lance/_versions/"); len(after) != len(before) {
		t.Fatalf("a refused adoption committed: %v -> %v", before, after)
	}
	_, err := e.get(map[string]any{"table": "dup", "pk": []int{5}})
	wantCode(t, err, codes.InvalidArgument, "no primary key")
	if n := e.mustGet(map[string]any{"table": "dup"}).NumRows(); n != 8 {
		t.Fatalf("dup: %d rows after refused adoptions, want 8", n)
	}

	// Keyless rows: one merged into the base (its region records how far
	// it merged), one acknowledged only; both survive the adoption, which
	// gives the table regions of its own.
	sch22 := flightSchema(t, e, infos["v22"])
	for i, id := range []int64{12, 13} {
		r := fixtureRows(e.mem, sch22, id, 1)
		e.mustPut(pathDesc("v22"), r)
		r.Release()
		if i == 0 {
			e.mustAction("flush", map[string]any{"table": "v22"})
			e.mustAction("compact", map[string]any{"table": "v22"})
		}
	}
	if err := adopt("v22", "id"); err != nil {
		t.Fatal(err)
	}
	// Recorded as Lance records a key: the field's metadata.
	ds, err := lance.OpenDataset(context.Background(), st, "v22.lance")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := ds.Schema().FieldsByName("id"); len(f) != 1 || f[0].Metadata.FindKey(lance.PrimaryKeyMetadataKey) < 0 {
		t.Fatalf("the adopted key is not in the field's metadata: %v", f)
	}
	wantCode(t, adopt("v22", "id"), codes.AlreadyExists, "primary key is \"id\"")
	look := e.mustGet(map[string]any{"table": "v22", "pk": []int{4, 2, 9}})
	if fmt.Sprint(sortedIDs(look)) != "[4 9]" {
		t.Fatalf("pk lookup after adoption: %v", sortedIDs(look))
	}
	sch = flightSchema(t, e, e.listFlights()["v22"])
	up := fixtureRows(e.mem, sch, 4, 8) // 4..9 are updates, 10, 11 new
	defer up.Release()
	e.mustPut(pathDesc("v22"), up)
	del := keyBatch(e.mem, []int64{5, 11})
	defer del.Release()
	e.mustPut(cmdDesc(map[string]any{"table": "v22", "op": "delete"}), del)
	check := func(stage string) {
		t.Helper()
		got := e.mustGet(map[string]any{"table": "v22"})
		if fmt.Sprint(sortedIDs(got)) != "[3 4 6 7 8 9 10 12 13]" {
			t.Fatalf("%s: ids %v", stage, sortedIDs(got))
		}
		row := e.mustGet(map[string]any{"table": "v22", "pk": []int{6}, "columns": []string{"name"}})
		if row.NumRows() != 1 || row.Column(0).(*array.String).Value(0) != "flightwal-name" {
			t.Fatalf("%s: id 6 is %v, want the upserted row", stage, row)
		}
	}
	check("memtable")
	e.mustAction("flush", map[string]any{"table": "v22"})
	e.mustAction("compact", map[string]any{"table": "v22"})
	check("compacted")
	e.restart()
	check("restarted")
}
