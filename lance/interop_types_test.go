package lance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
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
func writeTypes(t *testing.T, dir string, v DataStorageVersion, pageRows int) *lanceFixture {
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
	d, err := WriteDatasetWith(ctx, st, "types.lance", schema, recs, CreateOptions{DataStorageVersion: v})
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
				writeTypes(t, t.TempDir(), v, pageRows)
			})
		}
	}
}

func TestInteropLanceReadsEveryTypeWeWrite(t *testing.T) {
	for _, variant := range []string{"", "v039"} {
		nm := nodeModules(t, variant)
		for _, v := range []DataStorageVersion{Version20, Version21, Version22} {
			for _, pageRows := range []int{0, 37} {
				t.Run(fmt.Sprintf("lancedb%s/%s/pages%d", variant, v, pageRows), func(t *testing.T) {
					dir := t.TempDir()
					src := writeTypes(t, dir, v, pageRows)
					out := runNode(t, nm, "read_types.mjs", dir, "types")
					var got struct {
						CountRows int64            `json:"countRows"`
						Rows      []map[string]any `json:"rows"`
					}
					if err := json.Unmarshal(out, &got); err != nil {
						t.Fatalf("node output: %v\n%s", err, out)
					}
					if got.CountRows != src.CountRows || len(got.Rows) != len(src.Rows) {
						t.Fatalf("LanceDB counted %d and read %d rows, want %d", got.CountRows, len(got.Rows), src.CountRows)
					}
					bad := 0
					for i, row := range got.Rows {
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
}

// TestInteropLanceReadsOurAppendToItsTable appends a fragment of ours to
// the types tables LanceDB wrote in 2.1 and 2.2 (in the table's own
// version), and LanceDB reads the table back: its rows twice.
func TestInteropLanceReadsOurAppendToItsTable(t *testing.T) {
	for _, variant := range []string{"", "v039"} {
		nm := nodeModules(t, variant)
		for _, v := range []DataStorageVersion{Version21, Version22} {
			t.Run(fmt.Sprintf("lancedb%s/%s", variant, v), func(t *testing.T) {
				ctx := context.Background()
				mem := checkedMem(t)
				src := typesFixture(t, "0.39.0", string(v))
				dir := t.TempDir()
				if err := os.CopyFS(dir, os.DirFS(src.dir)); err != nil {
					t.Fatal(err)
				}
				schema, recs := fixtureRecords(t, mem, src)
				defer func() {
					for _, r := range recs {
						r.Release()
					}
				}()
				st := newLocalStore(t, dir)
				d, err := OpenDataset(ctx, st, src.name+".lance")
				if err != nil {
					t.Fatal(err)
				}
				if d.DataStorageVersion() != v {
					t.Fatalf("LanceDB's table is %s, want %s", d.DataStorageVersion(), v)
				}
				nf, err := WriteFragmentVersion(ctx, st, src.name+".lance", schema, recs, d.DataStorageVersion())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := d.Commit(ctx, st, Transaction{NewFragments: []NewFragment{nf}}); err != nil {
					t.Fatal(err)
				}
				out := runNode(t, nm, "read_types.mjs", dir, src.name)
				var got struct {
					CountRows int64            `json:"countRows"`
					Rows      []map[string]any `json:"rows"`
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("node output: %v\n%s", err, out)
				}
				if got.CountRows != 2*src.CountRows || len(got.Rows) != 2*len(src.Rows) {
					t.Fatalf("LanceDB counted %d and read %d rows, want %d", got.CountRows, len(got.Rows), 2*src.CountRows)
				}
				for i, row := range got.Rows {
					delete(row, "big")
					if want := src.Rows[i/2]; !reflect.DeepEqual(row, want) {
						t.Fatalf("row %d\n got %v\nwant %v", i, row, want)
					}
				}
			})
		}
	}
}
