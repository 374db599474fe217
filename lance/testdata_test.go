package lance

// Datasets the real Lance engine wrote, committed under testdata/lance
// (testdata/lance/make.mjs, README.md there): LanceDB 0.31 and 0.39, each
// data storage version they write, each with two fragments, the rows with
// id < 3 deleted and a BTREE index on id. These tests read them without
// node. Data storage version 2.0 is read in full; the others (legacy, 2.1,
// 2.2) are not implemented yet: for them the tests pin that the manifest
// opens and reading data fails with ErrUnsupported naming the version, so
// the future reader has its fixtures ready.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/protobuf/encoding/protowire"
)

// testdataLance is the committed datasets' directory, from package lance.
const testdataLance = "../testdata/lance"

// lanceFixture is one committed dataset and what LanceDB read back from it
// (<name>.json beside <name>.lance).
type lanceFixture struct {
	dir  string // testdata/lance/lancedb-<version>: the LanceDB database
	name string // the table: <name>.lance under dir

	LanceDB            string `json:"lancedb"`
	DataStorageVersion string `json:"data_storage_version"`
	Version            uint64 `json:"version"`
	CountRows          int64  `json:"countRows"`
	Schema             []struct {
		Name     string `json:"name"`
		Type     string `json:"type"` // apache-arrow JS's name
		Nullable bool   `json:"nullable"`
	} `json:"schema"`
	Indices []struct {
		Name    string   `json:"name"`
		Columns []string `json:"columns"`
	} `json:"indices"`
	// Rows are the live rows in id order, as apache-arrow JS reads them:
	// int64 as decimal strings, dates and timestamps as epoch milliseconds.
	Rows []map[string]any `json:"rows"`
}

// basic reports whether f is one of the first tables of make.mjs (the
// seven simple columns, four versions, a BTREE index), not a "types" table.
func (f *lanceFixture) basic() bool { return !strings.HasPrefix(f.name, "types_") }

func (f *lanceFixture) String() string {
	return fmt.Sprintf("lancedb-%s/%s.lance", f.LanceDB, f.name)
}

// lanceFixtures loads every testdata/lance/lancedb-*/<name>.json.
func lanceFixtures(t testing.TB) []*lanceFixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testdataLance, "lancedb-*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no datasets under %s", testdataLance)
	}
	var out []*lanceFixture
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := &lanceFixture{dir: filepath.Dir(p), name: strings.TrimSuffix(filepath.Base(p), ".json")}
		if err := json.Unmarshal(raw, f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, f)
	}
	return out
}

// open opens the fixture's latest version through the local store.
func (f *lanceFixture) open(t *testing.T) *Dataset {
	t.Helper()
	d, err := OpenDataset(context.Background(), newLocalStore(t, f.dir), f.name+".lance")
	if err != nil {
		t.Fatalf("%s: open: %v", f, err)
	}
	return d
}

// checkManifest checks what every fixture's manifest must give, whatever
// its data storage version: version, schema, fragments and deletions.
func (f *lanceFixture) checkManifest(t *testing.T, d *Dataset) {
	t.Helper()
	ctx := context.Background()
	if d.Version() != f.Version {
		t.Errorf("version %d, LanceDB saw %d", d.Version(), f.Version)
	}
	if d.CountRows() != f.CountRows || int(f.CountRows) != len(f.Rows) {
		t.Errorf("CountRows %d, LanceDB counted %d and read %d rows", d.CountRows(), f.CountRows, len(f.Rows))
	}
	// apache-arrow JS's type names of make.mjs's columns, in arrow-go's.
	goType := map[string]string{"Int64": "int64", "Int32": "int32", "Float64": "float64", "Bool": "bool",
		"Utf8": "utf8", "Date32<DAY>": "date32", "Timestamp<MICROSECOND, UTC>": "timestamp[us, tz=UTC]"}
	var names, want []string
	for _, fl := range d.Schema().Fields() {
		names = append(names, fmt.Sprintf("%s %s nullable=%v", fl.Name, fl.Type, fl.Nullable))
	}
	for _, fl := range f.Schema {
		want = append(want, fmt.Sprintf("%s %s nullable=%v", fl.Name, goType[fl.Type], fl.Nullable))
	}
	if !slices.Equal(names, want) {
		t.Errorf("schema %v, LanceDB's %v", names, want)
	}
	// make.mjs writes ids 0..5, then 6..9, then deletes id < 3.
	frags := d.Fragments()
	if len(frags) != 2 || frags[0].PhysicalRows != 6 || frags[1].PhysicalRows != 4 ||
		frags[0].DeletedRows != 3 || frags[1].DeletedRows != 0 {
		t.Fatalf("fragments %+v: want 6 rows (3 deleted) and 4 rows", frags)
	}
	bm, err := d.DeletionBitmap(ctx, frags[0].ID)
	if err != nil {
		t.Fatalf("deletion file: %v", err)
	}
	if got := bm.ToArray(); !slices.Equal(got, []uint32{0, 1, 2}) {
		t.Errorf("deleted rows %v, want [0 1 2]", got)
	}
	if bm, err := d.DeletionBitmap(ctx, frags[1].ID); err != nil || bm != nil {
		t.Errorf("fragment %d: deletions %v, %v; want none", frags[1].ID, bm, err)
	}
}

func TestTestdataLanceReadsEveryValueAndDeletion(t *testing.T) {
	n := map[string]int{}
	for _, f := range lanceFixtures(t) {
		if !f.basic() {
			continue
		}
		n[f.DataStorageVersion]++
		t.Run(f.String(), func(t *testing.T) {
			ctx := context.Background()
			mem := checkedMem(t)
			d := f.open(t)
			f.checkManifest(t, d)
			if err := d.CheckReadable(ctx); err != nil {
				t.Fatalf("CheckReadable: %v", err)
			}

			// Scan every column; drop deleted rows as readers must.
			var scanned []map[string]any
			err := d.Scan(ctx, mem, nil, 0, func(frag Fragment, first uint64, rec arrow.RecordBatch) error {
				del, err := d.DeletionBitmap(ctx, frag.ID)
				if err != nil {
					return err
				}
				for i := range int(rec.NumRows()) {
					if del == nil || !del.Contains(uint32(first)+uint32(i)) {
						scanned = append(scanned, fixtureRow(t, rec, i))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			f.compareRows(t, "scan", scanned)

			// Take the live rows of each fragment by offset.
			var taken []map[string]any
			for _, frag := range d.Fragments() {
				del, err := d.DeletionBitmap(ctx, frag.ID)
				if err != nil {
					t.Fatal(err)
				}
				var rows []uint64
				for r := range frag.PhysicalRows {
					if del == nil || !del.Contains(uint32(r)) {
						rows = append(rows, r)
					}
				}
				rec, err := d.Take(ctx, mem, frag.ID, rows, nil)
				if err != nil {
					t.Fatalf("take: %v", err)
				}
				for i := range int(rec.NumRows()) {
					taken = append(taken, fixtureRow(t, rec, i))
				}
				rec.Release()
			}
			f.compareRows(t, "take", taken)
		})
	}
	for _, v := range []string{"legacy", "2.0", "2.1", "2.2"} {
		if n[v] != 2 {
			t.Errorf("%d datasets in data storage version %s, want 2 (LanceDB 0.31 and 0.39)", n[v], v)
		}
	}
}

// TestTestdataLanceUnsupportedVersionFailsClearly: a data file of a
// format this package does not read (2.3, unstable) fails with
// ErrUnsupported naming the file and the version, not a panic nor wrong
// values. The file is a fixture's 2.2 file with its footer's minor
// version patched.
func TestTestdataLanceUnsupportedVersionFailsClearly(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	src := typesFixture(t, "0.39.0", "2.2")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src.dir)); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, src.name+".lance", "data", "*.lance"))
	if err != nil || len(files) == 0 {
		t.Fatalf("data files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint16(b[len(b)-6:], 3)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := OpenDataset(ctx, newLocalStore(t, dir), src.name+".lance")
	if err != nil {
		t.Fatal(err)
	}
	err = d.Scan(ctx, mem, nil, 0, func(Fragment, uint64, arrow.RecordBatch) error { return nil })
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "data file version 2.3") || !strings.Contains(err.Error(), ".lance") {
		t.Errorf("scan: %v, want ErrUnsupported naming the file and version 2.3", err)
	}
	if err := d.CheckReadable(ctx); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "data file version 2.3") {
		t.Errorf("CheckReadable: %v, want ErrUnsupported naming version 2.3", err)
	}
}

// TestTestdataLanceIndexSection checks that every fixture's manifest
// carries the BTREE index LanceDB listed (name and indexed field), read
// from the index section this package does not otherwise decode.
func TestTestdataLanceIndexSection(t *testing.T) {
	for _, f := range lanceFixtures(t) {
		if !f.basic() {
			continue
		}
		t.Run(f.String(), func(t *testing.T) {
			ctx := context.Background()
			st := newLocalStore(t, f.dir)
			entries, err := listVersions(ctx, st, f.name+".lance")
			if err != nil || len(entries) == 0 {
				t.Fatalf("versions: %v, %v", entries, err)
			}
			key := entries[len(entries)-1].key
			data, err := st.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			m, err := decodeManifest(key, data)
			if err != nil {
				t.Fatal(err)
			}
			if m.IndexSection == nil {
				t.Fatal("no index section")
			}
			got, err := indexNames(data, m.GetIndexSection())
			if err != nil {
				t.Fatal(err)
			}
			idField := map[string]int32{}
			for _, fl := range m.GetFields() {
				idField[fl.GetName()] = fl.GetId()
			}
			var want []string
			for _, ix := range f.Indices {
				var ids []string
				for _, c := range ix.Columns {
					ids = append(ids, strconv.Itoa(int(idField[c])))
				}
				want = append(want, ix.Name+"("+strings.Join(ids, ",")+")")
			}
			if len(want) != 1 || !reflect.DeepEqual(got, want) {
				t.Errorf("index section holds %v, LanceDB listed %v (want one index)", got, want)
			}
		})
	}
}

// indexNames decodes the IndexSection at off in manifest file bytes
// (u32 length, then IndexSection{repeated IndexMetadata indices = 1}, with
// IndexMetadata{repeated int32 fields = 2; string name = 3}) to
// "name(field ids)" strings.
func indexNames(data []byte, off uint64) ([]string, error) {
	if off+4 > uint64(len(data)) {
		return nil, fmt.Errorf("index section at %d of %d bytes", off, len(data))
	}
	n := uint64(binary.LittleEndian.Uint32(data[off:]))
	if off+4+n > uint64(len(data)) {
		return nil, fmt.Errorf("index section of %d bytes at %d", n, off)
	}
	var out []string
	err := protoFields(data[off+4:off+4+n], func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		var name string
		var fields []string
		err := protoFields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			switch {
			case num == 3 && typ == protowire.BytesType:
				name = string(v)
			case num == 2 && typ == protowire.BytesType: // packed
				for len(v) > 0 {
					x, k := protowire.ConsumeVarint(v)
					if k < 0 {
						return protowire.ParseError(k)
					}
					fields = append(fields, strconv.Itoa(int(int32(x))))
					v = v[k:]
				}
			case num == 2 && typ == protowire.VarintType:
				x, _ := protowire.ConsumeVarint(v)
				fields = append(fields, strconv.Itoa(int(int32(x))))
			}
			return nil
		})
		out = append(out, name+"("+strings.Join(fields, ",")+")")
		return err
	})
	return out, err
}

// protoFields calls fn with each field of a protobuf message; v is the
// payload of length-delimited fields and the raw varint bytes otherwise.
func protoFields(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		v := b[:m]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(b)
		}
		if err := fn(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

// compareRows compares rows read here, sorted by id, with LanceDB's.
func (f *lanceFixture) compareRows(t *testing.T, what string, got []map[string]any) {
	t.Helper()
	slices.SortFunc(got, func(a, b map[string]any) int {
		x, _ := strconv.ParseInt(a["id"].(string), 10, 64)
		y, _ := strconv.ParseInt(b["id"].(string), 10, 64)
		return int(x - y)
	})
	if len(got) != len(f.Rows) {
		t.Errorf("%s: %d rows, LanceDB read %d", what, len(got), len(f.Rows))
	}
	for i := range min(len(got), len(f.Rows)) {
		if !reflect.DeepEqual(got[i], f.Rows[i]) {
			t.Errorf("%s: row %d\n got %v\nwant %v", what, i, got[i], f.Rows[i])
		}
	}
}

// fixtureRow renders row i of rec the way make.mjs prints LanceDB's rows.
func fixtureRow(t *testing.T, rec arrow.RecordBatch, i int) map[string]any {
	t.Helper()
	row := make(map[string]any, rec.NumCols())
	for c, col := range rec.Columns() {
		name := rec.ColumnName(c)
		if col.IsNull(i) {
			row[name] = nil
			continue
		}
		switch a := col.(type) {
		case *array.Int64:
			row[name] = strconv.FormatInt(a.Value(i), 10)
		case *array.Int32:
			row[name] = float64(a.Value(i))
		case *array.Float64:
			row[name] = a.Value(i)
		case *array.Boolean:
			row[name] = a.Value(i)
		case *array.String:
			row[name] = a.Value(i)
		case *array.Date32:
			row[name] = float64(int64(a.Value(i)) * 86_400_000)
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			row[name] = float64(int64(a.Value(i)) * int64(unit.Multiplier()) / int64(arrow.Millisecond.Multiplier()))
		default:
			t.Fatalf("column %s: unexpected type %s", name, col.DataType())
		}
	}
	return row
}
