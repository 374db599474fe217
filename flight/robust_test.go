package flight_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// localEnv is a server on a local directory the test can look into.
func localEnv(t *testing.T, opts ...envOption) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, append([]envOption{withStore(s)}, opts...)...), dir
}

// TestIndexNameValidated: an index name is held to the table-name rule
// (it becomes part of object keys): a name that is not is InvalidArgument
// naming it, and nothing is created, not even a directory.
func TestIndexNameValidated(t *testing.T) {
	e, dir := localEnv(t)
	b64 := schemaB64(e, datagen.Schema(8))
	for _, name := range []string{"../../../tmp/pwned", "a/b", ".hidden", "x y", "-x"} {
		index := map[string]any{"name": name, "column": "vec", "type": "ivf_pq"}
		_, err := e.action("create_table", map[string]any{"name": "bad", "schema": b64, "indexes": []any{index}})
		wantCode(t, err, codes.InvalidArgument, name)
		if _, err := os.Stat(filepath.Join(dir, "bad.lance")); !os.IsNotExist(err) {
			t.Fatalf("index name %q: a rejected create_table left bad.lance behind (%v)", name, err)
		}
		err = e.getErr(map[string]any{"table": "bad"})
		wantCode(t, err, codes.NotFound, "bad")
	}
	// A default name (column + "_idx") is held to the same rule.
	odd := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})},
		{Name: "body/text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	_, err := e.action("create_table", map[string]any{"name": "bad", "schema": schemaB64(e, odd), "indexes": []any{
		map[string]any{"column": "body/text", "type": "fts"},
	}})
	wantCode(t, err, codes.InvalidArgument, `body/text`)
	if _, err := os.Stat(filepath.Join(dir, "bad.lance")); !os.IsNotExist(err) {
		t.Fatalf("a rejected create_table left bad.lance behind (%v)", err)
	}
	if _, err := os.Stat("/tmp/pwned.model"); err == nil {
		t.Fatal("/tmp/pwned.model exists")
	}
	// A valid name still works, and the table serves.
	e.mustAction("create_table", map[string]any{"name": "good", "schema": b64, "indexes": []any{
		map[string]any{"name": "Vec_idx-2", "column": "vec", "type": "ivf_pq"},
	}})
	rec := datagen.Batch(e.mem, 8, 1, 0, 10)
	defer rec.Release()
	e.mustPut(pathDesc("good"), rec)
	if got := e.mustGet(map[string]any{"table": "good"}); got.NumRows() != 10 {
		t.Fatalf("good: %d rows, want 10", got.NumRows())
	}
}

// gate stalls the store calls a test picks until it is opened; reached
// is signalled at the first stalled call.
type gate struct {
	open    chan struct{}
	once    sync.Once
	reached chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{open: make(chan struct{}), reached: make(chan struct{}, 1)}
	t.Cleanup(g.release)
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) wait(ctx context.Context) error {
	select {
	case g.reached <- struct{}{}:
	default:
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hookOn sets a Faulty store's hook to stall the calls of op on keys
// under prefix at g.
func hookOn(f *objstore.Faulty, g *gate, op objstore.Op, prefix string) {
	f.SetOptions(objstore.FaultOptions{Hook: func(ctx context.Context, o objstore.Op, key string) error {
		if o == op && strings.HasPrefix(key, prefix) {
			return g.wait(ctx)
		}
		return nil
	}})
}

// awaitReached waits until the gate stalled a call.
func (g *gate) awaitReached(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(time.Minute):
		t.Fatalf("%s never reached the store", what)
	}
}

// getErr runs a read for its error; a result is released.
func (e *env) getErr(ticket any) error {
	rec, err := e.get(ticket)
	if rec != nil {
		rec.Release()
	}
	return err
}

type getResult struct {
	rows int64
	err  error
}

func (e *env) getAsync(ticket any) <-chan getResult {
	ch := make(chan getResult, 1)
	go func() {
		rec, err := e.get(ticket)
		var n int64
		if rec != nil {
			n = rec.NumRows()
			rec.Release()
		}
		ch <- getResult{n, err}
	}()
	return ch
}

// TestSlowTableBlocksNoOther: while one table is opening (its WAL replay
// stalled in the store) or being dropped (its deletes stalled), reads of
// another table complete; the stalled table's own requests finish once
// the store lets them.
func TestSlowTableBlocksNoOther(t *testing.T) {
	faulty := objstore.NewFaulty(testStore(t), objstore.FaultOptions{})
	e := newEnv(t, withStore(faulty))
	for i, name := range []string{"slow", "fast"} {
		e.createTable(name, datagen.Schema(8), nil)
		rec := datagen.Batch(e.mem, 8, uint64(i), 0, 20)
		e.mustPut(pathDesc(name), rec)
		rec.Release()
	}
	e.restart() // neither table is open

	fastRead := func(when string, other <-chan getResult) {
		t.Helper()
		select {
		case r := <-e.getAsync(map[string]any{"table": "fast", "pk": []int64{3, 4}}):
			if r.err != nil || r.rows != 2 {
				t.Fatalf("%s: read of fast: %d rows, %v", when, r.rows, r.err)
			}
		case r := <-other:
			t.Fatalf("%s: the stalled request finished (%v) before the read of another table", when, r.err)
		case <-time.After(30 * time.Second):
			// Only a backstop: the stalled table's request cannot
			// finish before the gate opens, so a read that waits for
			// it would wait for ever.
			t.Fatalf("%s: the read of another table waits for the stalled one", when)
		}
	}

	// Open: the slow table's replay waits in the store.
	g := newGate(t)
	hookOn(faulty, g, objstore.OpList, "slow.lance/_mem_wal/")
	slow := e.getAsync(map[string]any{"table": "slow"})
	g.awaitReached(t, "the open of slow")
	fastRead("slow opening", slow)
	g.release()
	if r := <-slow; r.err != nil || r.rows != 20 {
		t.Fatalf("slow after its open: %d rows, %v", r.rows, r.err)
	}

	// Drop: the slow table's deletes wait in the store.
	e.restart()
	g = newGate(t)
	hookOn(faulty, g, objstore.OpDelete, "slow.lance/")
	dropped := make(chan getResult, 1)
	go func() {
		_, err := e.action("drop_table", map[string]any{"name": "slow"})
		dropped <- getResult{err: err}
	}()
	g.awaitReached(t, "the drop of slow")
	fastRead("slow dropping", dropped)
	g.release()
	if r := <-dropped; r.err != nil {
		t.Fatalf("drop of slow: %v", r.err)
	}
	err := e.getErr(map[string]any{"table": "slow"})
	wantCode(t, err, codes.NotFound, "slow")
}

// TestDropRemovesDirectory: on a local store drop_table leaves nothing of
// the table, not even empty directories or a killed write's temporary
// file; the name can be created again.
func TestDropRemovesDirectory(t *testing.T) {
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1}))
	e.createTable("d", datagen.Schema(8), map[string]any{"regions": 2})
	for i := int64(0); i < 3; i++ {
		rec := datagen.Batch(e.mem, 8, 1, i*10, 10)
		e.mustPut(pathDesc("d"), rec)
		rec.Release()
		e.mustAction("flush", map[string]any{"table": "d"})
	}
	e.mustAction("compact", map[string]any{"table": "d"})
	orphan := filepath.Join(dir, "d.lance", "_mem_wal", "4a388480-a25b-59a8-b058-24217f980256", "wal", ".tmp-123") // bucket 0
	if err := os.WriteFile(orphan, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustAction("drop_table", map[string]any{"name": "d"})
	if _, err := os.Stat(filepath.Join(dir, "d.lance")); !os.IsNotExist(err) {
		var left []string
		filepath.WalkDir(filepath.Join(dir, "d.lance"), func(p string, _ os.DirEntry, _ error) error {
			left = append(left, p)
			return nil
		})
		t.Fatalf("after drop_table: %v", left)
	}
	err := e.getErr(map[string]any{"table": "d"})
	wantCode(t, err, codes.NotFound, "d")
	e.createTable("d", datagen.Schema(8), nil)
	rec := datagen.Batch(e.mem, 8, 2, 0, 5)
	defer rec.Release()
	e.mustPut(pathDesc("d"), rec)
	if got := e.mustGet(map[string]any{"table": "d"}); got.NumRows() != 5 {
		t.Fatalf("d created again: %d rows, want 5", got.NumRows())
	}
}

// TestRequestJSONStrict: a key given twice (at any depth, or in two
// spellings the decoder would take for one field) and text that is not
// valid Unicode are InvalidArgument naming the key or the place, in
// tickets, DoPut commands and action bodies; nothing is applied.
func TestRequestJSONStrict(t *testing.T) {
	e := newEnv(t)
	e.createTable("t", datagen.Schema(8), nil)
	rec := datagen.Batch(e.mem, 8, 1, 0, 10)
	defer rec.Release()
	e.mustPut(pathDesc("t"), rec)
	vec := `[1, 2, 3, 4, 5, 6, 7, 8]`
	for _, tc := range []struct{ ticket, msg string }{
		{`{"table": "t", "table": "u"}`, `duplicate key "table"`},
		{`{"table": "t", "Table": "u"}`, `"Table"`},
		{`{"table": "t", "nearest": {"column": "vec", "vector": ` + vec + `, "k": 1, "k": 5}}`, `duplicate key "nearest.k"`},
		{`{"table": "t", "pk": [{"a": 1, "a": 2}]}`, `duplicate key "pk[0].a"`},
		{"{\"table\": \"t\", \"filter\": \"text = '\xff'\"}", "UTF-8"},
		{"{\"table\": \"t\xc3\"}", "UTF-8"},
		{`{"table": "t", "filter": "text = '\udc00'"}`, `\udc00`},
		{`{"table": "t", "filter": "text = '\ud800x'"}`, `\ud800`},
	} {
		err := e.getErr(tc.ticket)
		wantCode(t, err, codes.InvalidArgument, tc.msg)
	}
	// A surrogate pair and non-ASCII text are fine.
	if got := e.mustGet(`{"table": "t", "filter": "text = '\ud83d\ude00 é'"}`); got.NumRows() != 0 {
		t.Fatalf("filter on an emoji: %d rows", got.NumRows())
	}
	if got := e.mustGet(`{"table": "t", "pk": [1, 2], "columns": ["id"], "nearest": null}`); got.NumRows() != 2 {
		t.Fatalf("pk [1, 2]: %d rows", got.NumRows())
	}

	put := datagen.Batch(e.mem, 8, 1, 100, 1)
	defer put.Release()
	for _, cmd := range []string{
		`{"table": "t", "op": "upsert", "op": "delete"}`,
		`{"table": "t", "create": {"regions": 2, "regions": 3}}`,
	} {
		_, err := e.put(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(cmd)}, put)
		wantCode(t, err, codes.InvalidArgument, "duplicate key")
	}
	_, err := e.put(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("{\"table\": \"t\", \"op\": \"\xfe\"}")}, put)
	wantCode(t, err, codes.InvalidArgument, "UTF-8")

	b64 := schemaB64(e, datagen.Schema(8))
	for _, tc := range []struct{ typ, body, msg string }{
		{"drop_table", `{"name": "t", "name": "nope"}`, `duplicate key "name"`},
		{"create_table", `{"name": "c", "schema": "` + b64 + `", "indexes": [{"column": "text", "type": "fts", "column": "id"}]}`, `duplicate key "indexes[0].column"`},
		{"stats", "{\"table\": \"t\xff\"}", "UTF-8"},
	} {
		stream, err := e.client.DoAction(context.Background(), &flight.Action{Type: tc.typ, Body: []byte(tc.body)})
		if err == nil {
			_, err = stream.Recv()
		}
		wantCode(t, err, codes.InvalidArgument, tc.msg)
	}
	// Nothing was applied: t has its 10 rows, c does not exist.
	if got := e.mustGet(`{"table": "t"}`); got.NumRows() != 10 {
		t.Fatalf("t: %d rows, want 10", got.NumRows())
	}
	err = e.getErr(`{"table": "c"}`)
	wantCode(t, err, codes.NotFound, "c")
}

// TestDoGetCutByDrop: a DoGet reading a table that drop_table deletes
// under it ends with NotFound naming the table, not Internal.
func TestDoGetCutByDrop(t *testing.T) {
	faulty := objstore.NewFaulty(testStore(t), objstore.FaultOptions{})
	e := newEnv(t, withStore(faulty), withLSM(lsm.Options{CompactAfterGenerations: -1}))
	e.createTable("d", datagen.Schema(8), nil)
	for i := int64(0); i < 3; i++ {
		rec := datagen.Batch(e.mem, 8, 1, i*100, 100)
		e.mustPut(pathDesc("d"), rec)
		rec.Release()
		e.mustAction("flush", map[string]any{"table": "d"})
	}
	// Three flushed generations, each its own data file, read one after
	// the other: the read of the second waits until the drop is done.
	g := newGate(t)
	var mu sync.Mutex
	first := ""
	faulty.SetOptions(objstore.FaultOptions{Hook: func(ctx context.Context, op objstore.Op, key string) error {
		if op != objstore.OpGet || !strings.HasPrefix(key, "d.lance/") || !strings.Contains(key, "/data/") {
			return nil
		}
		mu.Lock()
		if first == "" {
			first = key
		}
		stall := key != first
		mu.Unlock()
		if stall {
			return g.wait(ctx)
		}
		return nil
	}})
	stream, err := e.client.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(`{"table": "d"}`)})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(e.mem))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if !rdr.Next() || rdr.RecordBatch().NumRows() != 100 {
		t.Fatalf("first batch: %v", rdr.Err())
	}
	g.awaitReached(t, "the read of the second generation")
	e.mustAction("drop_table", map[string]any{"name": "d"})
	g.release()
	rows := int64(100)
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	if rows >= 300 {
		t.Fatalf("read all %d rows of a table dropped while they were read", rows)
	}
	wantCode(t, rdr.Err(), codes.NotFound, `"d"`)
}

// TestFencedServerRefusesReads: two servers on one store. Once the older
// has found itself fenced (its write failed), its reads of the table
// answer FailedPrecondition instead of stale rows; the newer serves.
func TestFencedServerRefusesReads(t *testing.T) {
	store := testStore(t)
	old := newEnv(t, withStore(store))
	old.createTable("f", datagen.Schema(8), nil)
	rec := datagen.Batch(old.mem, 8, 1, 0, 10)
	old.mustPut(pathDesc("f"), rec)
	rec.Release()

	newer := newEnv(t, withStore(store))
	if got := newer.mustGet(map[string]any{"table": "f"}); got.NumRows() != 10 {
		t.Fatalf("newer server: %d rows, want 10", got.NumRows())
	}
	// Reading claimed nothing; the newer server's first write claims.
	rec = datagen.Batch(newer.mem, 8, 3, 200, 10)
	newer.mustPut(pathDesc("f"), rec)
	rec.Release()
	rec = datagen.Batch(old.mem, 8, 2, 100, 10)
	_, err := old.put(pathDesc("f"), rec)
	rec.Release()
	wantCode(t, err, codes.FailedPrecondition, "fenced")

	for _, ticket := range []string{`{"table": "f"}`, `{"table": "f", "pk": [1]}`, `{"table": "f", "filter": "id < 5"}`} {
		err = old.getErr(ticket)
		wantCode(t, err, codes.FailedPrecondition, `"f"`)
	}
	_, err = old.client.GetFlightInfo(context.Background(), pathDesc("f"))
	wantCode(t, err, codes.FailedPrecondition, "fenced")

	if got := newer.mustGet(map[string]any{"table": "f"}); got.NumRows() != 20 {
		t.Fatalf("newer server: %d rows, want 20", got.NumRows())
	}
}
