package flight_test

import (
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/lsm"
)

// waitIndexesReady polls stats until every index of table is ready.
func (e *env) waitIndexesReady(table string, want int) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := e.mustAction("stats", map[string]any{"table": table})
		list, _ := st["index_status"].([]any)
		ready := 0
		for _, x := range list {
			if x.(map[string]any)["state"] == "ready" {
				ready++
			}
		}
		if len(list) == want && ready == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("indexes of %q not ready after 60 s: %v", table, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nearestIDs runs a nearest query for row id's vector (datagen seed).
func (e *env) nearestIDs(table string, seed uint64, id int64) []int64 {
	e.t.Helper()
	v := make([]float32, 8)
	datagen.Vector(v, seed, id)
	got := e.mustGet(map[string]any{"table": table, "columns": []string{"id"},
		"nearest": map[string]any{"column": "vec", "vector": v, "k": 3, "nprobes": 4, "refine_factor": 50}})
	defer got.Release()
	ids := got.Column(0).(*array.Int64)
	out := make([]int64, ids.Len())
	for i := range out {
		out[i] = ids.Value(i)
	}
	return out
}

// TestCreateDropIndex: create_index builds an index over every layer of
// an existing table (base, generation, memtable) in the background; stats
// shows it building, then ready; nearest and search then use it.
// Bad input changes nothing: a missing column or a column of the wrong
// type is InvalidArgument, a second index of a name AlreadyExists.
// drop_index removes it (and its files), and the name can be used again.
func TestCreateDropIndex(t *testing.T) {
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	e.createTable("t", datagen.Schema(8), nil)
	m := model{}
	e.putModel(m, "t", 1, 0, 400)
	e.mustAction("flush", map[string]any{"table": "t"})
	e.mustAction("compact", map[string]any{"table": "t"})
	e.putModel(m, "t", 2, 300, 200) // a generation
	e.mustAction("flush", map[string]any{"table": "t"})
	e.putModel(m, "t", 3, 450, 100) // the memtable

	for _, tc := range []struct {
		body map[string]any
		code codes.Code
		msg  string
	}{
		{map[string]any{"table": "t", "name": "x", "column": "nope", "type": "ivf_pq"}, codes.InvalidArgument, "nope"},
		{map[string]any{"table": "t", "name": "x", "column": "text", "type": "ivf_pq"}, codes.InvalidArgument, "text"},
		{map[string]any{"table": "t", "name": "x", "column": "vec", "type": "fts"}, codes.InvalidArgument, "vec"},
		{map[string]any{"table": "t", "name": "x", "column": "vec", "type": "hnsw"}, codes.InvalidArgument, "hnsw"},
		{map[string]any{"table": "missing", "name": "x", "column": "vec", "type": "ivf_pq"}, codes.NotFound, "missing"},
	} {
		_, err := e.action("create_index", tc.body)
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Fatalf("create_index %v: %v, want %v naming %q", tc.body, err, tc.code, tc.msg)
		}
	}
	if st := e.mustAction("stats", map[string]any{"table": "t"}); st["indexes"] != nil {
		t.Fatalf("refused create_index left indexes: %v", st["indexes"])
	}
	out := e.mustAction("create_index", map[string]any{"table": "t", "name": "vi", "column": "vec", "type": "ivf_pq", "partitions": 4, "train_after": 300})
	if out["name"] != "vi" {
		t.Fatalf("create_index answered %v", out)
	}
	if out := e.mustAction("create_index", map[string]any{"table": "t", "column": "text", "type": "fts"}); out["name"] != "text_idx" {
		t.Fatalf("create_index without a name answered %v, want text_idx", out)
	}
	if _, err := e.action("create_index", map[string]any{"table": "t", "name": "vi", "column": "vec", "type": "ivf_pq"}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second create_index of vi: %v", err)
	}
	e.waitIndexesReady("t", 2)
	for _, c := range []struct {
		seed uint64
		id   int64
	}{{1, 10}, {2, 400}, {3, 520}} { // base, generation, memtable
		if got := e.nearestIDs("t", c.seed, c.id); len(got) == 0 || got[0] != c.id {
			t.Fatalf("nearest for row %d: %v", c.id, got)
		}
	}
	word := strings.Fields(datagen.Text(3, 520))[0]
	got := e.mustGet(map[string]any{"table": "t", "columns": []string{"id"}, "search": map[string]any{"query": word, "k": 1000}})
	if got.NumRows() == 0 {
		t.Fatalf("search %q found nothing", word)
	}
	got.Release()
	e.checkModel(m, "t", "after create_index")

	if _, err := e.action("drop_index", map[string]any{"table": "t", "name": "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("drop_index of a missing index: %v", err)
	}
	e.mustAction("drop_index", map[string]any{"table": "t", "name": "vi"})
	if _, err := e.get(map[string]any{"table": "t", "nearest": map[string]any{"column": "vec", "vector": make([]float32, 8), "k": 1}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("nearest after drop_index: %v", err)
	}
	if files := listFiles(t, dir, ".vi."); len(files) > 0 {
		t.Fatalf("drop_index left the index's files: %v", files)
	}
	e.mustAction("create_index", map[string]any{"table": "t", "name": "vi", "column": "vec", "type": "ivf_pq", "partitions": 2, "train_after": 300})
	e.waitIndexesReady("t", 2)
	if got := e.nearestIDs("t", 1, 10); len(got) == 0 || got[0] != 10 {
		t.Fatalf("nearest after recreating the index: %v", got)
	}
	e.checkModel(m, "t", "after drop and create")
}

// TestCreateIndexOnLanceDBTable: a table LanceDB created (no flightwal
// config, LanceDB's default data storage version) gets flightwal indexes
// with create_index, and flightwal then serves nearest and search on it;
// flightwal's upserts then compact into it, and LanceDB reads them.
func TestCreateIndexOnLanceDBTable(t *testing.T) {
	if onMinIO() {
		t.Skip("runs once, on a local directory")
	}
	nm := lancejs.NodeModules(t, "v039")
	e, dir := localEnv(t)
	var out map[string]any
	shareWriter(t, nm, dir, "ldb", "create", map[string]any{"dim": 8, "rows": 300}, &out)
	e.mustAction("create_index", map[string]any{"table": "ldb", "name": "vi", "column": "vec", "type": "ivf_pq", "partitions": 2, "train_after": 256})
	e.mustAction("create_index", map[string]any{"table": "ldb", "name": "ti", "column": "text", "type": "fts"})
	e.waitIndexesReady("ldb", 2)
	v := shareVector(77, 8)
	got := e.mustGet(map[string]any{"table": "ldb", "columns": []string{"id"},
		"nearest": map[string]any{"column": "vec", "vector": v, "k": 3, "refine_factor": 50}})
	if got.NumRows() != 3 || got.Column(0).(*array.Int64).Value(0) != 77 {
		t.Fatalf("nearest on LanceDB's table: %v", got)
	}
	got.Release()
	got = e.mustGet(map[string]any{"table": "ldb", "columns": []string{"id", "text"}, "search": map[string]any{"query": "zebra", "k": 1000}})
	defer got.Release()
	if got.NumRows() != 43 { // ids 0..299 divisible by 7
		t.Fatalf("search zebra on LanceDB's table: %d rows, want 43", got.NumRows())
	}
	st := e.mustAction("stats", map[string]any{"table": "ldb"})
	t.Logf("LanceDB's table: base version %v, %v", st["base_version"], st["index_status"])

	// flightwal writes into it (upserts of LanceDB's keys and new ones),
	// compacts in the table's data storage version, and LanceDB reads it.
	m := model{}
	e.putModel(m, "ldb", 5, 0, 5)
	e.putModel(m, "ldb", 5, 1000, 10)
	e.mustAction("flush", map[string]any{"table": "ldb"})
	e.mustAction("compact", map[string]any{"table": "ldb"})
	var chk shareCheck
	shareWriter(t, nm, dir, "ldb", "check", map[string]any{"dim": 8, "probe": 77}, &chk)
	rows := map[string]string{}
	for _, r := range chk.Rows {
		if _, dup := rows[r[0]]; dup {
			t.Fatalf("LanceDB reads key %s twice", r[0])
		}
		rows[r[0]] = r[1]
	}
	if len(rows) != 310 || rows["0"] != datagen.Text(5, 0) || rows["1009"] != datagen.Text(5, 1009) || !strings.Contains(rows["5"], "lance create") {
		t.Fatalf("LanceDB reads %d rows after flightwal's compaction (0: %q, 1009: %q, 5: %q)", len(rows), rows["0"], rows["1009"], rows["5"])
	}
}

// shareVector is share_writer.mjs's vector of row id.
func shareVector(id int64, dim int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		x := math.Sin(float64(id)*12.9898+float64(j)*78.233) * 43758.5453
		v[j] = float32((x-math.Floor(x))*2 - 1)
	}
	return v
}

// listFiles lists the files under dir whose names contain part.
func listFiles(t *testing.T, dir, part string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), part) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
