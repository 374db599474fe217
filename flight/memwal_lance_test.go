package flight_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// The tests here share one table between flightwal and LanceDB 0.39's own
// MemWAL (interop/memwal.mjs): LanceDB sets a bucket spec and writes
// through its shard writers, flightwal serves, writes, flushes and
// compacts the same regions.

// memwalJS runs interop/memwal.mjs on dir with request req and decodes
// its answer into out.
func memwalJS(t testing.TB, nm, dir string, req map[string]any, out any) {
	t.Helper()
	lancejs.RunJSON(t, nm, "memwal.mjs", dir, req, out)
}

// skipOnMinIO: these tests share a local directory with LanceDB, so the
// MinIO pass would only repeat them.
func skipOnMinIO(t *testing.T) {
	if onMinIO() {
		t.Skip("runs once, on a local directory LanceDB shares (the MinIO pass would repeat it)")
	}
}

type jsRow = map[string]any

// shardRows groups rows {id, text} by the bucket (of n) of their id: one
// LanceDB mergeInsert may only write one bucket.
func shardRows(t testing.TB, rows []jsRow, n int) [][]jsRow {
	t.Helper()
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for _, r := range rows {
		id, _ := strconv.ParseInt(r["id"].(string), 10, 64)
		b.Append(id)
	}
	col := b.NewArray()
	defer col.Release()
	buckets, err := lsm.Buckets(col, n)
	if err != nil {
		t.Fatal(err)
	}
	groups := make([][]jsRow, n)
	for i, r := range rows {
		groups[buckets[i]] = append(groups[buckets[i]], r)
	}
	var out [][]jsRow
	for _, g := range groups {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}

func textRows(from, to int64, text string) []jsRow {
	var rows []jsRow
	for id := from; id < to; id++ {
		rows = append(rows, jsRow{"id": strconv.FormatInt(id, 10), "text": text + strconv.FormatInt(id, 10)})
	}
	return rows
}

type jsResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func mustUpsertJS(t testing.TB, nm, dir, table string, groups [][]jsRow) {
	t.Helper()
	var res []jsResult
	memwalJS(t, nm, dir, map[string]any{"op": "upsert", "table": table, "groups": groups}, &res)
	for i, r := range res {
		if !r.OK {
			t.Fatalf("LanceDB mergeInsert %d: %s", i, r.Error)
		}
	}
}

// checkTexts reads table through flightwal and checks it holds exactly
// want (id -> text).
func (e *env) checkTexts(table string, want map[int64]string, stage string) {
	e.t.Helper()
	got := e.mustGet(map[string]any{"table": table})
	if got.NumRows() != int64(len(want)) {
		e.t.Fatalf("%s: flightwal serves %d rows, want %d", stage, got.NumRows(), len(want))
	}
	ids, texts := got.Column(0).(*array.Int64), got.Column(1).(*array.String)
	for i := 0; i < ids.Len(); i++ {
		if w, ok := want[ids.Value(i)]; !ok || texts.Value(i) != w {
			e.t.Fatalf("%s: row %d has %q, want %q", stage, ids.Value(i), texts.Value(i), w)
		}
	}
}

type jsRead struct {
	Spec struct {
		SpecType   string `json:"specType"`
		Column     string `json:"column"`
		NumBuckets int    `json:"numBuckets"`
	} `json:"spec"`
	CountRows int64 `json:"countRows"`
	Rows      []struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	} `json:"rows"`
}

// TestLanceDBMemWALServed: LanceDB sets a bucket spec on id (4 buckets),
// writes pre-sharded upserts through its MemWAL (no flush) and exits;
// flightwal serves every acknowledged row, newest per key, before and
// after its own flush and compaction and a restart. Then LanceDB reads
// the spec back, counts the rows and its useLsm query returns them.
func TestLanceDBMemWALServed(t *testing.T) {
	skipOnMinIO(t)
	nm := lancejs.NodeModules(t, "v039")
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	var created map[string]any
	memwalJS(t, nm, dir, map[string]any{"op": "create", "table": "events", "key": "int", "buckets": 4}, &created)

	want := map[int64]string{}
	v1, v2 := textRows(0, 400, "v1-"), textRows(0, 100, "v2-")
	for _, rows := range [][]jsRow{v1, v2} {
		for _, r := range rows {
			id, _ := strconv.ParseInt(r["id"].(string), 10, 64)
			want[id] = r["text"].(string)
		}
	}
	mustUpsertJS(t, nm, dir, "events", shardRows(t, v1, 4))
	mustUpsertJS(t, nm, dir, "events", shardRows(t, v2, 4))

	e.checkTexts("events", want, "LanceDB's WAL replayed")
	st := e.mustAction("stats", map[string]any{"table": "events"})
	if n := len(st["regions"].([]any)); n != 4 {
		t.Fatalf("flightwal sees %d regions, want LanceDB's 4", n)
	}
	// flightwal writes too: new keys and newer versions of LanceDB's.
	rec := textBatch(e.mem, []int64{5, 6, 400, 401}, "fw")
	e.mustPut(pathDesc("events"), rec)
	rec.Release()
	for _, id := range []int64{5, 6, 400, 401} {
		want[id] = "fw"
	}
	e.checkTexts("events", want, "after flightwal's put")
	e.mustAction("flush", map[string]any{"table": "events"})
	e.checkTexts("events", want, "after flush")
	e.mustAction("compact", map[string]any{"table": "events"})
	e.checkTexts("events", want, "after compact")
	e.restart()
	e.checkTexts("events", want, "after restart")

	var rd jsRead
	memwalJS(t, nm, dir, map[string]any{"op": "read", "table": "events"}, &rd)
	if rd.Spec.SpecType != "bucket" || rd.Spec.Column != "id" || rd.Spec.NumBuckets != 4 {
		t.Fatalf("LanceDB reads the spec back as %+v", rd.Spec)
	}
	if rd.CountRows != int64(len(want)) {
		t.Fatalf("LanceDB counts %d rows, want %d", rd.CountRows, len(want))
	}
	if len(rd.Rows) != len(want) {
		t.Fatalf("LanceDB's useLsm query returns %d rows, want %d", len(rd.Rows), len(want))
	}
	for _, r := range rd.Rows {
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		if want[id] != r.Text {
			t.Fatalf("LanceDB's useLsm query: row %d has %q, want %q", id, r.Text, want[id])
		}
	}
}

// TestFlightwalTableSpecForLanceDB: a table flightwal creates with 4
// regions carries a bucket spec on its primary key in the MemWAL index:
// LanceDB reads it back and its mergeInsert writes the regions flightwal
// serves.
func TestFlightwalTableSpecForLanceDB(t *testing.T) {
	skipOnMinIO(t)
	nm := lancejs.NodeModules(t, "v039")
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	e.createTable("t", textSchema, map[string]any{"regions": 4})
	rec := textBatch(e.mem, []int64{1, 2, 3, 4, 5, 6, 7, 8}, "fw")
	e.mustPut(pathDesc("t"), rec)
	rec.Release()
	var rd jsRead
	memwalJS(t, nm, dir, map[string]any{"op": "read", "table": "t"}, &rd)
	if rd.Spec.SpecType != "bucket" || rd.Spec.Column != "id" || rd.Spec.NumBuckets != 4 {
		t.Fatalf("LanceDB reads flightwal's spec as %+v", rd.Spec)
	}
	e.stop()
	mustUpsertJS(t, nm, dir, "t", shardRows(t, textRows(5, 12, "lance-"), 4))
	e.start()
	want := map[int64]string{1: "fw", 2: "fw", 3: "fw", 4: "fw"}
	for id := int64(5); id < 12; id++ {
		want[id] = "lance-" + strconv.FormatInt(id, 10)
	}
	e.checkTexts("t", want, "after LanceDB's mergeInsert")
}

// TestMemWALFencesAcrossEngines: flightwal and LanceDB write the same
// region in turns. LanceDB's shard writer, open across flightwal's claim,
// fails its next put on the epoch; flightwal, fenced by LanceDB's next
// claim, fails its next put with FailedPrecondition; no WAL entry is
// overwritten and every acknowledged row of both survives.
func TestMemWALFencesAcrossEngines(t *testing.T) {
	skipOnMinIO(t)
	nm := lancejs.NodeModules(t, "v039")
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	var created map[string]any
	memwalJS(t, nm, dir, map[string]any{"op": "create", "table": "f", "key": "int", "buckets": 1}, &created)

	// LanceDB holds the region's writer open across flightwal's claim.
	ready, goFile := filepath.Join(t.TempDir(), "ready"), filepath.Join(t.TempDir(), "go")
	type holdResult struct{ First, Second jsResult }
	done := make(chan holdResult, 1)
	go func() {
		var hr holdResult
		memwalJS(t, nm, dir, map[string]any{"op": "hold", "table": "f", "first": textRows(0, 10, "lance1-"), "second": textRows(10, 20, "lance-late-"), "ready": ready, "go": goFile}, &hr)
		done <- hr
	}()
	for !eventually(t, 60e9, func() bool { _, err := os.Stat(ready); return err == nil }) {
		t.Fatal("LanceDB never wrote its first batch")
	}
	want := map[int64]string{}
	for id := int64(0); id < 10; id++ {
		want[id] = "lance1-" + strconv.FormatInt(id, 10)
	}
	rec := textBatch(e.mem, []int64{100, 101}, "fw1")
	e.mustPut(pathDesc("f"), rec) // claims the region: LanceDB is fenced
	rec.Release()
	want[100], want[101] = "fw1", "fw1"
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hr := <-done
	if !hr.First.OK {
		t.Fatalf("LanceDB's first put: %s", hr.First.Error)
	}
	if hr.Second.OK {
		t.Fatal("LanceDB's shard writer wrote after flightwal claimed its region")
	}
	t.Logf("LanceDB's fenced put: %s", hr.Second.Error)
	e.checkTexts("f", want, "after fencing LanceDB")

	// LanceDB claims it back: flightwal's next put fails, fenced.
	mustUpsertJS(t, nm, dir, "f", [][]jsRow{textRows(20, 25, "lance2-")})
	for id := int64(20); id < 25; id++ {
		want[id] = "lance2-" + strconv.FormatInt(id, 10)
	}
	rec = textBatch(e.mem, []int64{102}, "fw2")
	_, err := e.put(pathDesc("f"), rec)
	rec.Release()
	wantCode(t, err, codes.FailedPrecondition, "fenced")

	// Every acknowledged row of both is there: flightwal reopens (and
	// claims the region again, replaying LanceDB's entries).
	e.restart()
	e.checkTexts("f", want, "after both fenced each other")
	e.mustAction("flush", map[string]any{"table": "f"})
	e.mustAction("compact", map[string]any{"table": "f"})
	var rd jsRead
	memwalJS(t, nm, dir, map[string]any{"op": "read", "table": "f"}, &rd)
	if rd.CountRows != int64(len(want)) {
		t.Fatalf("LanceDB counts %d rows after flightwal's compaction, want %d", rd.CountRows, len(want))
	}
}

// TestUnservableMemWALSpec: a table whose MemWAL index flightwal cannot
// serve (an index_version it does not know, an identity spec on a float
// column) answers FailedPrecondition naming what it is, on reads and
// writes; other tables are unaffected.
func TestUnservableMemWALSpec(t *testing.T) {
	skipOnMinIO(t)
	ctx := context.Background()
	e, dir := localEnv(t)
	store, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})},
		{Name: "score", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	}, nil)
	put := func(name string, det *tablepb.MemWalIndexDetails, version int32) {
		ds, err := lance.CreateDataset(ctx, store, name+".lance", schema, nil)
		if err != nil {
			t.Fatal(err)
		}
		im, err := lance.NewMemWalIndex(det, ds.Version())
		if err != nil {
			t.Fatal(err)
		}
		im.IndexVersion = &version
		var tx lance.Transaction
		tx.PutIndex(im)
		if _, err := ds.Commit(ctx, store, tx); err != nil {
			t.Fatal(err)
		}
	}
	bucket := &tablepb.MemWalIndexDetails{NumShards: 1, ShardingSpecs: []*tablepb.ShardingSpec{{SpecId: 1, Fields: []*tablepb.ShardingField{
		{FieldId: "bucket", SourceIds: []int32{0}, Transform: "bucket", ResultType: "int32", Parameters: map[string]string{"num_buckets": "1"}}}}}}
	put("future", bucket, 7)
	identity := &tablepb.MemWalIndexDetails{ShardingSpecs: []*tablepb.ShardingSpec{{SpecId: 1, Fields: []*tablepb.ShardingField{
		{FieldId: "bucket", SourceIds: []int32{1}, Transform: "identity", ResultType: "float"}}}}}
	put("ident", identity, 0)
	put("fine", bucket, 0)

	_, err = e.get(map[string]any{"table": "future"})
	wantCode(t, err, codes.FailedPrecondition, "index_version 7")
	_, err = e.get(map[string]any{"table": "ident"})
	wantCode(t, err, codes.FailedPrecondition, `transform "identity" on column "score" (float32)`)
	rec := textBatch(e.mem, []int64{1}, "x")
	defer rec.Release()
	_, err = e.put(pathDesc("ident"), rec)
	wantCode(t, err, codes.FailedPrecondition, "identity")
	if got := e.mustGet(map[string]any{"table": "fine"}); got.NumRows() != 0 {
		t.Fatalf("fine: %d rows", got.NumRows())
	}
}

// TestLanceDBFlushedGenerationServed: a generation LanceDB's shard writer
// flushed (every row, older duplicates of a key hidden by a deletion
// vector, a _tombstone column) is served newest per key, before and after
// flightwal compacts it into the base table, and LanceDB then counts the
// same rows.
func TestLanceDBFlushedGenerationServed(t *testing.T) {
	skipOnMinIO(t)
	nm := lancejs.NodeModules(t, "v039")
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	var created map[string]any
	memwalJS(t, nm, dir, map[string]any{"op": "create", "table": "g", "key": "int", "buckets": 1}, &created)
	var res []jsResult
	memwalJS(t, nm, dir, map[string]any{"op": "upsert", "table": "g", "flush": true,
		"groups": [][]jsRow{textRows(0, 10, "old-"), textRows(3, 5, "new-")}}, &res)
	for _, r := range res {
		if !r.OK {
			t.Fatalf("LanceDB mergeInsert: %s", r.Error)
		}
	}
	want := map[int64]string{}
	for id := int64(0); id < 10; id++ {
		want[id] = "old-" + strconv.FormatInt(id, 10)
	}
	want[3], want[4] = "new-3", "new-4"
	st := e.mustAction("stats", map[string]any{"table": "g"})
	if g := st["regions"].([]any)[0].(map[string]any)["flushed_generations"].([]any); len(g) != 1 {
		t.Fatalf("LanceDB flushed generations %v, want one", g)
	}
	e.checkTexts("g", want, "LanceDB's generation")
	e.mustAction("compact", map[string]any{"table": "g"})
	e.checkTexts("g", want, "after compacting LanceDB's generation")
	var rd jsRead
	memwalJS(t, nm, dir, map[string]any{"op": "read", "table": "g"}, &rd)
	if rd.CountRows != int64(len(want)) || len(rd.Rows) != len(want) {
		t.Fatalf("LanceDB counts %d rows and its useLsm query returns %d, want %d", rd.CountRows, len(rd.Rows), len(want))
	}
}

// TestLanceDBReadsFlightwalGenerations: flushed generations flightwal
// wrote (not yet compacted) carry Lance's _pk_index and bloom filter, and
// their deletes as _tombstone rows, so LanceDB 0.39's useLsm query reads
// the table while they are there: every live key once, the newest
// generation's version winning over older ones and the base, deleted keys
// gone, across the key index's pages (5,000 keys: two pages), also with a
// filter on the key.
func TestLanceDBReadsFlightwalGenerations(t *testing.T) {
	skipOnMinIO(t)
	nm := lancejs.NodeModules(t, "v039")
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	e.createTable("t", textSchema, map[string]any{"regions": 2})
	ids := func(first, n int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = first + int64(i)
		}
		return out
	}
	want := map[int64]string{}
	put := func(keys []int64, text string) {
		rec := textBatch(e.mem, keys, text)
		e.mustPut(pathDesc("t"), rec)
		rec.Release()
		for _, k := range keys {
			want[k] = text
		}
		e.mustAction("flush", map[string]any{"table": "t"})
	}
	put(ids(0, 6000), "base")
	e.mustAction("compact", map[string]any{"table": "t"})
	put(ids(1000, 10000), "gen1") // 5,000 keys a region: two index pages
	put([]int64{5, 4500, 10999, 20000}, "gen2")
	// Deletes of keys in the base (7) and in an older generation (1500,
	// 9000), flushed as _tombstone rows.
	del := keyBatch(e.mem, []int64{7, 1500, 9000})
	e.mustPut(cmdDesc(map[string]any{"table": "t", "op": "delete"}), del)
	del.Release()
	for _, k := range []int64{7, 1500, 9000} {
		delete(want, k)
	}
	e.mustAction("flush", map[string]any{"table": "t"})
	st := e.mustAction("stats", map[string]any{"table": "t"})
	for _, r := range st["regions"].([]any) {
		if g := r.(map[string]any)["flushed_generations"].([]any); len(g) < 2 {
			t.Fatalf("flushed generations %v, want two or three per region", g)
		}
	}
	e.checkTexts("t", want, "flightwal")
	e.stop()

	var rd jsRead
	memwalJS(t, nm, dir, map[string]any{"op": "read", "table": "t"}, &rd)
	if len(rd.Rows) != len(want) {
		t.Fatalf("LanceDB's useLsm query returns %d rows, want %d", len(rd.Rows), len(want))
	}
	seen := map[string]bool{}
	for _, r := range rd.Rows {
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		if seen[r.ID] || r.Text != want[id] {
			t.Fatalf("LanceDB reads key %s as %q (seen before: %v), want %q", r.ID, r.Text, seen[r.ID], want[id])
		}
		seen[r.ID] = true
	}
	for _, id := range []int64{5, 7, 999, 1000, 1500, 4500, 9000, 10999, 20000} {
		rd = jsRead{}
		memwalJS(t, nm, dir, map[string]any{"op": "read", "table": "t", "filter": "id = " + strconv.FormatInt(id, 10)}, &rd)
		text, live := want[id]
		if live && (len(rd.Rows) != 1 || rd.Rows[0].Text != text) || !live && len(rd.Rows) != 0 {
			t.Fatalf("LanceDB's useLsm query for id %d: %+v, want %q (live %v)", id, rd.Rows, text, live)
		}
	}
	// flightwal reopens those generations and compacts them.
	e.start()
	e.checkTexts("t", want, "flightwal after a restart")
	e.mustAction("compact", map[string]any{"table": "t"})
	e.checkTexts("t", want, "flightwal after compaction")
}
