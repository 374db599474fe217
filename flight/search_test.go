package flight_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/vector"
)

// searchTable makes table "s" (datagen schema, dim 8) with an ivf_pq index
// trained after 300 rows and an fts index, holding ids 0..1999 spread over
// the base table, a flushed generation and the active memtable, with ids
// 0..99 rewritten (new vectors and text, seed 2) and 100..149 deleted.
// It returns the live rows' seeds by id.
func searchTable(e *env) map[int64]uint64 {
	e.t.Helper()
	e.createTable("s", datagen.Schema(8), map[string]any{"indexes": []map[string]any{
		{"name": "v", "column": "vec", "type": "ivf_pq", "partitions": 4, "train_after": 300},
		{"name": "t", "column": "text", "type": "fts"},
	}})
	live := map[int64]uint64{}
	put := func(seed uint64, first, n int64) {
		rec := datagen.Batch(e.mem, 8, seed, first, n)
		defer rec.Release()
		e.mustPut(pathDesc("s"), rec)
		for id := first; id < first+n; id++ {
			live[id] = seed
		}
	}
	put(1, 0, 800)
	e.mustAction("flush", map[string]any{"table": "s"})
	e.mustAction("compact", map[string]any{"table": "s"})
	put(1, 800, 700)
	put(2, 0, 100)
	e.mustAction("flush", map[string]any{"table": "s"})
	put(1, 1500, 500)
	del := keyBatch(e.mem, seq(100, 150))
	defer del.Release()
	e.mustPut(cmdDesc(map[string]any{"table": "s", "op": "delete"}), del)
	for id := int64(100); id < 150; id++ {
		delete(live, id)
	}
	return live
}

func float32Col(t testing.TB, rec arrow.RecordBatch, name string) []float32 {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %s", name, rec.Schema())
	}
	return rec.Column(idx[0]).(*array.Float32).Float32Values()
}

// TestNearestTicket: nearest through the Flight client returns the exact k
// nearest live rows (nprobes over every partition) with _distance
// ascending; columns, filter and limit apply; GetFlightInfo and GetSchema
// report the result schema.
func TestNearestTicket(t *testing.T) {
	e := newEnv(t)
	live := searchTable(e)
	q := make([]float32, 8)
	datagen.Vector(q, 9, 1)
	qj := make([]float64, 8)
	for i, x := range q {
		qj[i] = float64(x)
	}
	exact := func(k int, keep func(id int64) bool) ([]int64, []float32) {
		type c struct {
			id int64
			d  float32
		}
		var all []c
		v := make([]float32, 8)
		for id, seed := range live {
			if keep == nil || keep(id) {
				datagen.Vector(v, seed, id)
				all = append(all, c{id, vector.L2.Distance(q, v)})
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].d < all[j].d })
		var ids []int64
		var ds []float32
		for _, x := range all[:k] {
			ids, ds = append(ids, x.id), append(ds, x.d)
		}
		return ids, ds
	}
	nearest := map[string]any{"column": "vec", "vector": qj, "k": 10, "nprobes": 4, "refine_factor": 200}
	got := e.mustGet(map[string]any{"table": "s", "nearest": nearest})
	wantIDs, wantD := exact(10, nil)
	if g := ids(got); !equalInts(g, wantIDs) {
		t.Fatalf("nearest ids %v, want %v", g, wantIDs)
	}
	if d := float32Col(t, got, "_distance"); !equalFloats(d, wantD) {
		t.Fatalf("distances %v, want %v", d, wantD)
	}
	if f := got.Schema().Field(int(got.NumCols()) - 1); f.Name != "_distance" || f.Type.ID() != arrow.FLOAT32 {
		t.Fatalf("last column %v", f)
	}
	// Projection, prefilter, limit.
	got = e.mustGet(map[string]any{"table": "s", "nearest": nearest, "columns": []string{"id"}, "filter": "id >= 1000", "limit": 4})
	wantIDs, _ = exact(4, func(id int64) bool { return id >= 1000 })
	if got.NumCols() != 2 || !equalInts(ids(got), wantIDs) {
		t.Fatalf("projected, filtered, limited: %v ids %v, want %v", got.Schema(), ids(got), wantIDs)
	}
	// Metric and column by default; k defaults to 10.
	got = e.mustGet(map[string]any{"table": "s", "nearest": map[string]any{"vector": qj}})
	if got.NumRows() != 10 {
		t.Fatalf("default k: %d rows", got.NumRows())
	}
	// The schema of a nearest ticket, from GetFlightInfo and GetSchema.
	desc := cmdDesc(map[string]any{"table": "s", "columns": []string{"id", "text"}, "nearest": nearest})
	info, err := e.client.GetFlightInfo(context.Background(), desc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := flight.DeserializeSchema(info.Schema, e.mem)
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFields() != 3 || s.Field(2).Name != "_distance" {
		t.Fatalf("FlightInfo schema %v", s)
	}
	sr, err := e.client.GetSchema(context.Background(), desc)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = flight.DeserializeSchema(sr.Schema, e.mem); err != nil || s.Field(2).Name != "_distance" {
		t.Fatalf("GetSchema schema %v, %v", s, err)
	}
	// The endpoint's ticket reads the same result.
	viaInfo := e.mustGet(string(info.Endpoint[0].Ticket.Ticket))
	if !equalInts(ids(viaInfo), ids(e.mustGet(map[string]any{"table": "s", "nearest": nearest}))) {
		t.Fatal("the FlightInfo endpoint ticket reads another result")
	}
	// After a restart (model and sidecars reloaded, memtable replayed).
	e.restart()
	got = e.mustGet(map[string]any{"table": "s", "nearest": nearest})
	wantIDs, _ = exact(10, nil)
	if !equalInts(ids(got), wantIDs) {
		t.Fatalf("after restart: %v, want %v", ids(got), wantIDs)
	}
}

// TestSearchTicket: search through the Flight client equals BruteForce over
// the live rows' text, _score descending; operator and, phrases, filter.
func TestSearchTicket(t *testing.T) {
	e := newEnv(t)
	live := searchTable(e)
	cfg := fts.DefaultTokenizerConfig()
	var idList []int64
	for id := range live {
		idList = append(idList, id)
	}
	sort.Slice(idList, func(i, j int) bool { return idList[i] < idList[j] })
	docs := make([]string, len(idList))
	for i, id := range idList {
		docs[i] = datagen.Text(live[id], id)
	}
	for _, tc := range []struct {
		query, op string
	}{
		{"quick fox", ""}, {"lazy dog", "and"}, {`"brown fox"`, ""}, {"memtable durable region", "or"},
	} {
		op, _ := fts.ParseOperator(tc.op)
		q, err := fts.ParseQuery(tc.query, cfg, fts.WithOperator(op))
		if err != nil {
			t.Fatal(err)
		}
		want := fts.BruteForce(docs, nil, q, cfg, 10)
		search := map[string]any{"query": tc.query, "columns": []string{"text"}, "k": 10}
		if tc.op != "" {
			search["operator"] = tc.op
		}
		got := e.mustGet(map[string]any{"table": "s", "search": search})
		scores := float32Col(t, got, "_score")
		if len(scores) != len(want) {
			t.Fatalf("%q: %d results, want %d", tc.query, len(scores), len(want))
		}
		for i, r := range want {
			if scores[i] != r.Score {
				t.Fatalf("%q: result %d scores %v, want %v", tc.query, i, scores[i], r.Score)
			}
		}
		// Ids match wherever the score does not tie with a neighbour.
		gotIDs := ids(got)
		for i, r := range want {
			tied := (i > 0 && want[i-1].Score == r.Score) || (i+1 < len(want) && want[i+1].Score == r.Score)
			if !tied && gotIDs[i] != idList[r.Pos] {
				t.Fatalf("%q: result %d is id %d, want %d", tc.query, i, gotIDs[i], idList[r.Pos])
			}
		}
	}
	// A prefilter and a projection.
	got := e.mustGet(map[string]any{"table": "s", "columns": []string{"id", "text"}, "filter": "id < 500", "search": map[string]any{"query": "fox"}})
	for i, id := range ids(got) {
		text := got.Column(1).(*array.String).Value(i)
		if id >= 500 || !strings.Contains(text, "fox") {
			t.Fatalf("filtered search returned id %d %q", id, text)
		}
	}
	if got.NumRows() == 0 || got.NumCols() != 3 {
		t.Fatalf("filtered search: %d rows, schema %v", got.NumRows(), got.Schema())
	}
}

// TestSearchBadInput: bad nearest and search tickets get the right codes
// and clear messages; the server keeps serving.
func TestSearchBadInput(t *testing.T) {
	e := newEnv(t)
	schema := datagen.Schema(8)
	e.createTable("b", schema, map[string]any{"indexes": []map[string]any{
		{"name": "v", "column": "vec", "type": "ivf_pq", "metric": "cosine"},
		{"name": "t", "column": "text", "type": "fts"},
	}})
	e.createTable("plain", schema, nil)
	rec := datagen.Batch(e.mem, 8, 1, 0, 20)
	defer rec.Release()
	e.mustPut(pathDesc("b"), rec)
	v8 := `[1,2,3,4,5,6,7,8]`
	for _, tc := range []struct {
		name, ticket string
		code         codes.Code
		msg          string
	}{
		{"wrong dimension", `{"table":"b","nearest":{"column":"vec","vector":[1,2,3],"k":5}}`, codes.InvalidArgument, "dimension"},
		{"infinite component", `{"table":"b","nearest":{"column":"vec","vector":[1,2,3,4,5,6,7,1e39],"k":5}}`, codes.InvalidArgument, "inf"},
		{"k zero", `{"table":"b","nearest":{"column":"vec","vector":` + v8 + `,"k":0}}`, codes.InvalidArgument, "k"},
		{"k huge", `{"table":"b","nearest":{"column":"vec","vector":` + v8 + `,"k":1000000}}`, codes.InvalidArgument, "k"},
		{"k negative", `{"table":"b","search":{"query":"fox","k":-1}}`, codes.InvalidArgument, "k"},
		{"no vector", `{"table":"b","nearest":{"column":"vec","k":5}}`, codes.InvalidArgument, "vector"},
		{"unknown column", `{"table":"b","nearest":{"column":"nope","vector":` + v8 + `}}`, codes.NotFound, "nope"},
		{"column without ivf_pq", `{"table":"b","nearest":{"column":"text","vector":` + v8 + `}}`, codes.InvalidArgument, "ivf_pq"},
		{"table without ivf_pq", `{"table":"plain","nearest":{"vector":` + v8 + `}}`, codes.InvalidArgument, "ivf_pq"},
		{"other metric", `{"table":"b","nearest":{"column":"vec","vector":` + v8 + `,"metric":"dot"}}`, codes.InvalidArgument, "metric"},
		{"unknown metric", `{"table":"b","nearest":{"column":"vec","vector":` + v8 + `,"metric":"manhattan"}}`, codes.InvalidArgument, "manhattan"},
		{"unknown nearest key", `{"table":"b","nearest":{"column":"vec","vector":` + v8 + `,"nprobe":3}}`, codes.InvalidArgument, "nprobe"},
		{"nearest and search", `{"table":"b","nearest":{"vector":` + v8 + `},"search":{"query":"fox"}}`, codes.InvalidArgument, "at most one"},
		{"pk and nearest", `{"table":"b","pk":[1],"nearest":{"vector":` + v8 + `}}`, codes.InvalidArgument, "at most one"},
		{"empty query", `{"table":"b","search":{"query":"  "}}`, codes.InvalidArgument, "query"},
		{"stop words only", `{"table":"b","search":{"query":"the of and"}}`, codes.InvalidArgument, "query"},
		{"search unknown column", `{"table":"b","search":{"query":"fox","columns":["nope"]}}`, codes.NotFound, "nope"},
		{"search column without fts", `{"table":"b","search":{"query":"fox","columns":["vec"]}}`, codes.InvalidArgument, "fts"},
		{"search bad operator", `{"table":"b","search":{"query":"fox","operator":"xor"}}`, codes.InvalidArgument, "operator"},
		{"unknown search key", `{"table":"b","search":{"query":"fox","fuzzy":true}}`, codes.InvalidArgument, "fuzzy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.get(tc.ticket)
			wantCode(t, err, tc.code, tc.msg)
			_, err = e.client.GetSchema(context.Background(), &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(tc.ticket)})
			wantCode(t, err, tc.code, tc.msg)
		})
	}
	if got := e.mustGet(map[string]any{"table": "b", "nearest": map[string]any{"vector": []float64{1, 2, 3, 4, 5, 6, 7, 8}, "k": 5}}); got.NumRows() != 5 {
		t.Fatalf("after bad input: %d rows", got.NumRows())
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLanceReadsIndexedTable: the model and index sidecars next to the base
// table do not disturb the real Lance engine, which reads the live rows.
func TestLanceReadsIndexedTable(t *testing.T) {
	nm := lancejs.NodeModules(t, "")
	be := testBackend(t)
	e := newEnv(t, withStore(be.store))
	live := searchTable(e)
	e.mustAction("flush", map[string]any{"table": "s"})
	e.mustAction("compact", map[string]any{"table": "s"})
	ok := eventually(t, 60*time.Second, func() bool {
		objs, err := be.store.List(context.Background(), "s.lance/_flightwal/index/")
		if err != nil {
			return false
		}
		var model, ivf, text bool
		for _, o := range objs {
			model = model || strings.HasSuffix(o.Key, ".model")
			ivf = ivf || strings.HasSuffix(o.Key, ".ivfpq")
			text = text || strings.HasSuffix(o.Key, ".fts")
		}
		return model && ivf && text
	})
	if !ok {
		t.Fatal("no model and sidecars next to the base table")
	}
	res := be.readTable(t, nm, "s", lancejs.Query{Filters: []lancejs.Filter{{Filter: "id < 200"}}})
	if res.CountRows != int64(len(live)) || res.Filters[0].Count != 150 {
		t.Fatalf("Lance reads %d rows (%d with id < 200), want %d (150)", res.CountRows, res.Filters[0].Count, len(live))
	}
}
