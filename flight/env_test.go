package flight_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/serverconf"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// env is a real server on 127.0.0.1:0 with a real Flight client.
type env struct {
	t      testing.TB
	store  objstore.Store
	db     *lsm.DB
	srv    *fw.Server
	client flight.Client
	mem    *memory.CheckedAllocator // the client's allocator
	smem   *memory.CheckedAllocator // the server's allocator
	opts   lsm.Options
	fopts  fw.Options
	lopts  []fw.ListenOption // auth, TLS, interceptors (listen.go)
	dial   []grpc.DialOption // e.client's, instead of plaintext
}

type envOption func(*env)

func withStore(s objstore.Store) envOption { return func(e *env) { e.store = s } }
func withLSM(o lsm.Options) envOption      { return func(e *env) { e.opts = o } }
func withFlight(o fw.Options) envOption    { return func(e *env) { e.fopts = o } }
func withListen(o ...fw.ListenOption) envOption {
	return func(e *env) { e.lopts = append(e.lopts, o...) }
}
func withDial(o ...grpc.DialOption) envOption { return func(e *env) { e.dial = o } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, mem: memory.NewCheckedAllocator(memory.NewGoAllocator()), smem: memory.NewCheckedAllocator(memory.NewGoAllocator())}
	for _, o := range opts {
		o(e)
	}
	if e.store == nil {
		e.store = testStore(t)
	}
	e.start()
	t.Cleanup(func() {
		e.stop()
		e.mem.AssertSize(t, 0)
		e.smem.AssertSize(t, 0)
	})
	return e
}

func (e *env) start() {
	e.t.Helper()
	o := e.opts
	o.Allocator = e.smem
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := lsm.Open(context.Background(), e.store, serverconf.DefaultLSM(o))
	if err != nil {
		e.t.Fatal(err)
	}
	fo := e.fopts
	fo.Allocator, fo.Logger = e.smem, o.Logger
	svc := fw.NewService(db, fo)
	srv, err := fw.Listen("127.0.0.1:0", svc, e.lopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	dial := e.dial
	if dial == nil {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	c, err := flight.NewClientWithMiddleware(srv.Addr().String(), nil, nil, dial...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db, e.srv, e.client = db, srv, c
}

func (e *env) stop() {
	if e.client != nil {
		e.client.Close()
		e.srv.Shutdown(context.Background())
		e.db.Close()
		e.client = nil
	}
}

// restart closes the server and opens a new one on the same store.
func (e *env) restart() {
	e.stop()
	e.start()
}

// newClient is a second connection (read-your-writes across connections).
func (e *env) newClient() flight.Client {
	c, err := flight.NewClientWithMiddleware(e.srv.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) action(typ string, body any) (map[string]any, error) {
	raw, err := e.rawAction(typ, body)
	if raw == nil && err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, err
}

// rawAction runs an action and returns its Result's body as sent (and an
// error that came after it).
func (e *env) rawAction(typ string, body any) ([]byte, error) {
	raw, _ := json.Marshal(body)
	stream, err := e.client.DoAction(context.Background(), &flight.Action{Type: typ, Body: raw})
	if err != nil {
		return nil, err
	}
	res, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return res.Body, nil
			}
			return res.Body, err
		}
	}
}

func (e *env) mustAction(typ string, body any) map[string]any {
	e.t.Helper()
	out, err := e.action(typ, body)
	if err != nil {
		e.t.Fatalf("action %s: %v", typ, err)
	}
	return out
}

func (e *env) createTable(name string, schema *arrow.Schema, extra map[string]any) {
	e.t.Helper()
	body := map[string]any{"name": name, "schema": base64.StdEncoding.EncodeToString(flight.SerializeSchema(schema, e.mem))}
	for k, v := range extra {
		body[k] = v
	}
	e.mustAction("create_table", body)
}

// putResult is a decoded PutResult.
type putResult struct {
	Batch   int               `json:"batch"`
	Rows    int64             `json:"rows"`
	Durable bool              `json:"durable"`
	Regions map[string]uint64 `json:"regions"`
}

// put streams recs with the given descriptor and returns the PutResults.
func (e *env) put(desc *flight.FlightDescriptor, recs ...arrow.RecordBatch) ([]putResult, error) {
	return putWith(e.client, desc, recs...)
}

func putWith(c flight.Client, desc *flight.FlightDescriptor, recs ...arrow.RecordBatch) ([]putResult, error) {
	stream, err := c.DoPut(context.Background())
	if err != nil {
		return nil, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(recs[0].Schema()))
	w.SetFlightDescriptor(desc)
	type got struct {
		res []putResult
		err error
	}
	done := make(chan got, 1)
	go func() {
		var g got
		for {
			r, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					g.err = err
				}
				done <- g
				return
			}
			var pr putResult
			if err := json.Unmarshal(r.AppMetadata, &pr); err != nil {
				g.err = err
				done <- g
				return
			}
			g.res = append(g.res, pr)
		}
	}()
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			break
		}
	}
	w.Close()
	stream.CloseSend()
	g := <-done
	return g.res, g.err
}

func (e *env) mustPut(desc *flight.FlightDescriptor, recs ...arrow.RecordBatch) []putResult {
	e.t.Helper()
	res, err := e.put(desc, recs...)
	if err != nil {
		e.t.Fatalf("put: %v", err)
	}
	if len(res) != len(recs) {
		e.t.Fatalf("put: %d PutResults for %d batches", len(res), len(recs))
	}
	return res
}

func pathDesc(table string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{table}}
}

func cmdDesc(cmd map[string]any) *flight.FlightDescriptor {
	raw, _ := json.Marshal(cmd)
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: raw}
}

// get runs a DoGet and returns the result concatenated into one batch.
func (e *env) get(ticket any) (arrow.RecordBatch, error) {
	return getWith(e.client, e.mem, ticket)
}

func getWith(c flight.Client, mem memory.Allocator, ticket any) (arrow.RecordBatch, error) {
	raw, ok := ticket.(string)
	if !ok {
		b, _ := json.Marshal(ticket)
		raw = string(b)
	}
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(raw)})
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		r := rdr.RecordBatch()
		r.Retain()
		recs = append(recs, r)
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		for _, r := range recs {
			r.Release()
		}
		return nil, err
	}
	tbl := array.NewTableFromRecords(rdr.Schema(), recs)
	defer tbl.Release()
	for _, r := range recs {
		r.Release()
	}
	return concatTable(mem, tbl), nil
}

func concatTable(mem memory.Allocator, tbl arrow.Table) arrow.RecordBatch {
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		chunks := tbl.Column(i).Data().Chunks()
		if len(chunks) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, tbl.Schema().Field(i).Type, 0)
			continue
		}
		a, err := array.Concatenate(chunks, mem)
		if err != nil {
			panic(err)
		}
		cols[i] = a
	}
	rec := array.NewRecordBatch(tbl.Schema(), cols, tbl.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func (e *env) mustGet(ticket any) arrow.RecordBatch {
	e.t.Helper()
	rec, err := e.get(ticket)
	if err != nil {
		e.t.Fatalf("get %v: %v", ticket, err)
	}
	e.t.Cleanup(rec.Release)
	return rec
}

func wantCode(t testing.TB, err error, code codes.Code, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v error containing %q, got success", code, substr)
	}
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("want code %v, got %v: %v", code, st.Code(), err)
	}
	if substr != "" && !containsFold(st.Message(), substr) {
		t.Fatalf("want message containing %q, got %q", substr, st.Message())
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func eventually(t testing.TB, within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cond()
}
