package lance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// LanceDB 0.31 (Lance 8) and 0.39 (Lance 12) read every type we write, in
// data storage versions 2.0, 2.1 and 2.2: the rows of the committed
// "types" fixtures (LanceDB's own tables) are written here, then read by
// LanceDB, and must equal what LanceDB read from its own tables.

// fixtureRecords reads f's live rows (deleted ones dropped) as records.
func fixtureRecords(t *testing.T, mem memory.Allocator, f *lanceFixture) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	ctx := context.Background()
	d := f.open(t)
	var recs []arrow.RecordBatch
	err := d.Scan(ctx, mem, nil, 0, func(frag Fragment, first uint64, rec arrow.RecordBatch) error {
		del, err := d.DeletionBitmap(ctx, frag.ID)
		if err != nil {
			return err
		}
		for lo := 0; lo < int(rec.NumRows()); {
			if del != nil && del.Contains(uint32(first)+uint32(lo)) {
				lo++
				continue
			}
			hi := lo + 1
			for hi < int(rec.NumRows()) && (del == nil || !del.Contains(uint32(first)+uint32(hi))) {
				hi++
			}
			recs = append(recs, rec.NewSlice(int64(lo), int64(hi)))
			lo = hi
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: scan: %v", f, err)
	}
	return d.Schema(), recs
}

// typesFixture returns the types fixture of LanceDB version lancedb and
// data storage version v.
func typesFixture(t testing.TB, lancedb, v string) *lanceFixture {
	t.Helper()
	for _, f := range lanceFixtures(t) {
		if !f.basic() && f.LanceDB == lancedb && f.DataStorageVersion == v {
			return f
		}
	}
	t.Fatalf("no types fixture of LanceDB %s version %s", lancedb, v)
	return nil
}

// bigJSON is the column "big" of row id as JSON reads it (260 bytes,
// (3 id + k) % 256).
func bigJSON(id int) []any {
	b := make([]any, 260)
	for k := range b {
		b[k] = float64((id*3 + k) % 256)
	}
	return b
}

// writeTypes writes the live rows of the types fixture of version v as a
// new dataset of that version under dir, checks that this package reads
// every value back, and returns the fixture. Small pages (pageRows > 0)
// make multi-page columns and split list pages.
func writeTypes(t *testing.T, dir, table string, v DataStorageVersion, pageRows int) *lanceFixture {
	t.Helper()
	ctx := context.Background()
	mem := checkedMem(t)
	src := typesFixture(t, "0.39.0", string(v))
	schema, recs := fixtureRecords(t, mem, src)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if pageRows > 0 {
		old := pageMaxRows
		pageMaxRows = pageRows
		defer func() { pageMaxRows = old }()
	}
	st := newLocalStore(t, dir)
	d, err := WriteDatasetWith(ctx, st, table+".lance", schema, recs, CreateOptions{DataStorageVersion: v})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if d.DataStorageVersion() != v {
		t.Fatalf("dataset version %s, want %s", d.DataStorageVersion(), v)
	}
	var got []map[string]any
	err = d.Scan(ctx, mem, nil, 0, func(_ Fragment, _ uint64, rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			got = append(got, typesRow(t, rec, i))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan ours: %v", err)
	}
	src.compareRows(t, "read back", got)
	return src
}

// TestWriteEveryTypeReadsBack writes every type in each version, in one
// page and in many, and reads it back here (no node needed).
func TestWriteEveryTypeReadsBack(t *testing.T) {
	for _, v := range []DataStorageVersion{Version20, Version21, Version22} {
		for _, pageRows := range []int{0, 37} {
			t.Run(fmt.Sprintf("%s/pages%d", v, pageRows), func(t *testing.T) {
				writeTypes(t, t.TempDir(), "types", v, pageRows)
			})
		}
	}
}

// lanceTables is read_types.mjs's output.
type lanceTables struct {
	Tables map[string]struct {
		CountRows int64            `json:"countRows"`
		Rows      []map[string]any `json:"rows"`
	} `json:"tables"`
}

// readTypes has LanceDB (node_modules nm) read tables of the database dir.
func readTypes(t *testing.T, nm, dir string, tables ...string) lanceTables {
	t.Helper()
	out := runNode(t, nm, "read_types.mjs", append([]string{dir}, tables...)...)
	var got lanceTables
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output: %v\n%s", err, out)
	}
	return got
}

func TestInteropLanceReadsEveryTypeWeWrite(t *testing.T) {
	for _, variant := range []string{"", "v039"} {
		nm := nodeModules(t, variant)
		// Every table in one database, read by one node run.
		dir := t.TempDir()
		srcs := map[string]*lanceFixture{}
		var names []string
		for _, v := range []DataStorageVersion{Version20, Version21, Version22} {
			for _, pageRows := range []int{0, 37} {
				if pageRows > 0 && variant == "" {
					continue // many small pages: LanceDB 0.39 only, to keep this short
				}
				name := fmt.Sprintf("types_%s_pages%d", strings.ReplaceAll(string(v), ".", ""), pageRows)
				srcs[name] = writeTypes(t, dir, name, v, pageRows)
				names = append(names, name)
			}
		}
		got := readTypes(t, nm, dir, names...)
		for _, name := range names {
			t.Run(fmt.Sprintf("lancedb%s/%s", variant, name), func(t *testing.T) {
				src, tbl := srcs[name], got.Tables[name]
				if tbl.CountRows != src.CountRows || len(tbl.Rows) != len(src.Rows) {
					t.Fatalf("LanceDB counted %d and read %d rows, want %d", tbl.CountRows, len(tbl.Rows), src.CountRows)
				}
				bad := 0
				for i, row := range tbl.Rows {
					id, _ := strconv.Atoi(row["id"].(string))
					if !reflect.DeepEqual(row["big"], bigJSON(id)) {
						t.Errorf("row %d: big differs", i)
						bad++
					}
					delete(row, "big")
					if !reflect.DeepEqual(row, src.Rows[i]) {
						t.Errorf("row %d\n got %v\nwant %v", i, row, src.Rows[i])
						bad++
					}
					if bad > 5 {
						t.Fatal("too many differences")
					}
				}
			})
		}
	}
}

// TestInteropLanceReadsOurAppendToItsTable appends a fragment of ours to
// the types tables LanceDB wrote in 2.1 and 2.2 (in the table's own
// version), and LanceDB reads the tables back: their rows twice.
func TestInteropLanceReadsOurAppendToItsTable(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	// LanceDB 0.39's database holds both tables: copy it once, append to
	// both, and let each LanceDB read both in one run.
	dir := t.TempDir()
	var names []string
	srcs := map[string]*lanceFixture{}
	for _, v := range []DataStorageVersion{Version21, Version22} {
		src := typesFixture(t, "0.39.0", string(v))
		if len(names) == 0 {
			if err := os.CopyFS(dir, os.DirFS(src.dir)); err != nil {
				t.Fatal(err)
			}
		}
		schema, recs := fixtureRecords(t, mem, src)
		st := newLocalStore(t, dir)
		d, err := OpenDataset(ctx, st, src.name+".lance")
		if err != nil {
			t.Fatal(err)
		}
		if d.DataStorageVersion() != v {
			t.Fatalf("LanceDB's table is %s, want %s", d.DataStorageVersion(), v)
		}
		nf, err := WriteFragmentVersion(ctx, st, src.name+".lance", schema, recs, d.DataStorageVersion())
		for _, r := range recs {
			r.Release()
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Commit(ctx, st, Transaction{NewFragments: []NewFragment{nf}}); err != nil {
			t.Fatal(err)
		}
		names = append(names, src.name)
		srcs[src.name] = src
	}
	for _, variant := range []string{"", "v039"} {
		nm := nodeModules(t, variant)
		got := readTypes(t, nm, dir, names...)
		for _, name := range names {
			src, tbl := srcs[name], got.Tables[name]
			if tbl.CountRows != 2*src.CountRows || len(tbl.Rows) != 2*len(src.Rows) {
				t.Fatalf("LanceDB%s: %s: counted %d and read %d rows, want %d", variant, name, tbl.CountRows, len(tbl.Rows), 2*src.CountRows)
			}
			for i, row := range tbl.Rows {
				delete(row, "big")
				if want := src.Rows[i/2]; !reflect.DeepEqual(row, want) {
					t.Fatalf("LanceDB%s: %s: row %d\n got %v\nwant %v", variant, name, i, row, want)
				}
			}
		}
	}
}

// edgeRecord is rows that make degenerate pages: a column all null, a
// list column of only null and empty lists, empty strings, a struct null
// in every row, an all-valid list of lists.
func edgeRecord(mem memory.Allocator, n int) arrow.RecordBatch {
	listOfStr := arrow.ListOf(arrow.BinaryTypes.String)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "nulls", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "nolists", Type: listOfStr, Nullable: true},
		{Name: "empty", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int16, Nullable: true}), Nullable: true},
		{Name: "ll", Type: arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int64))},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).AppendNull()
		if i%2 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.ListBuilder).Append(true)
		}
		b.Field(3).(*array.StringBuilder).Append("")
		b.Field(4).AppendNull()
		lb := b.Field(5).(*array.ListBuilder)
		lb.Append(true)
		inner := lb.ValueBuilder().(*array.ListBuilder)
		for j := range i % 3 {
			inner.Append(true)
			for k := range j + 1 {
				inner.ValueBuilder().(*array.Int64Builder).Append(int64(i*10 + k))
			}
		}
	}
	return b.NewRecordBatch()
}

func TestInteropLanceReadsEdgeCases(t *testing.T) {
	nm := nodeModules(t, "v039")
	ctx := context.Background()
	mem := checkedMem(t)
	rec := edgeRecord(mem, 50)
	defer rec.Release()
	dir := t.TempDir()
	st := newLocalStore(t, dir)
	want := map[string][]map[string]any{}
	for _, v := range []DataStorageVersion{Version21, Version22} {
		name := "edge_" + strings.ReplaceAll(string(v), ".", "")
		d, err := WriteDatasetWith(ctx, st, name+".lance", rec.Schema(), []arrow.RecordBatch{rec}, CreateOptions{DataStorageVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Scan(ctx, mem, nil, 0, func(_ Fragment, _ uint64, r arrow.RecordBatch) error {
			for i := range int(r.NumRows()) {
				want[name] = append(want[name], typesRow(t, r, i))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(rec.NumRows()) {
			if got := typesRow(t, rec, i); !reflect.DeepEqual(got, want[name][i]) {
				t.Fatalf("%s: read back row %d: %v, wrote %v", name, i, want[name][i], got)
			}
		}
	}
	got := readTypes(t, nm, dir, "edge_21", "edge_22")
	for name, rows := range want {
		tbl := got.Tables[name]
		if len(tbl.Rows) != len(rows) {
			t.Fatalf("%s: LanceDB read %d rows, want %d", name, len(tbl.Rows), len(rows))
		}
		for i := range rows {
			if !reflect.DeepEqual(tbl.Rows[i], rows[i]) {
				t.Fatalf("%s: LanceDB row %d\n got %v\nwant %v", name, i, tbl.Rows[i], rows[i])
			}
		}
	}
}

// TestCommitRefusesAnotherDataFileVersion: a 2.0 fragment is not
// committed to a 2.2 dataset; Dataset.WriteFragment writes the dataset's
// version.
func TestCommitRefusesAnotherDataFileVersion(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	rec := pkRecord(mem, 0, 10)
	defer rec.Release()
	st := newLocalStore(t, t.TempDir())
	d, err := WriteDatasetWith(ctx, st, "v.lance", rec.Schema(), []arrow.RecordBatch{rec}, CreateOptions{DataStorageVersion: Version22})
	if err != nil {
		t.Fatal(err)
	}
	nf, err := WriteFragment(ctx, st, "v.lance", rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Commit(ctx, st, Transaction{NewFragments: []NewFragment{nf}}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "2.0") {
		t.Fatalf("commit of a 2.0 fragment to a 2.2 dataset: %v", err)
	}
	if nf, err = d.WriteFragment(ctx, st, rec.Schema(), []arrow.RecordBatch{rec}); err != nil {
		t.Fatal(err)
	}
	if d, err = d.Commit(ctx, st, Transaction{NewFragments: []NewFragment{nf}}); err != nil {
		t.Fatal(err)
	}
	if d.CountRows() != 20 || d.Fragments()[1].pb.GetFiles()[0].GetFileMinorVersion() != 2 {
		t.Fatalf("%d rows, second file %v", d.CountRows(), d.Fragments()[1].pb.GetFiles()[0])
	}
}
