package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"syscall"
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

	"github.com/flightwal/flightwal/internal/datagen"
)

// putStream is an open DoPut: write batches, count their PutResults.
type putStream struct {
	stream flight.FlightService_DoPutClient
	w      *flight.Writer
}

func openPut(t *testing.T, c flight.Client, desc *flight.FlightDescriptor, schema *arrow.Schema, mem memory.Allocator) *putStream {
	t.Helper()
	stream, err := c.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	w.SetFlightDescriptor(desc)
	return &putStream{stream: stream, w: w}
}

// put writes rec and waits for its PutResult.
func (p *putStream) put(t *testing.T, rec arrow.RecordBatch, durable bool) {
	t.Helper()
	if err := p.w.Write(rec); err != nil {
		t.Fatalf("write: %v", err)
	}
	r, err := p.stream.Recv()
	if err != nil {
		t.Fatalf("PutResult: %v", err)
	}
	var md struct {
		Rows    int64
		Durable bool
	}
	if err := json.Unmarshal(r.AppMetadata, &md); err != nil || md.Rows != rec.NumRows() || md.Durable != durable {
		t.Fatalf("PutResult %s (%v), want %d rows, durable %v", r.AppMetadata, err, rec.NumRows(), durable)
	}
}

// close ends the stream and checks it ended cleanly.
func (p *putStream) close(t *testing.T) {
	t.Helper()
	p.w.Close()
	p.stream.CloseSend()
	if _, err := p.stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of the DoPut stream: %v", err)
	}
}

// stallRead opens a DoGet on a connection with small flow-control windows
// and reads only its first message, so the server's handler blocks
// sending the rest.
func stallRead(t *testing.T, addr, ticket string) flight.FlightService_DoGetClient {
	t.Helper()
	c, err := flight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(ticket)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("stalled DoGet: %v", err)
	}
	return stream
}

// waitExit waits up to d for the server process to exit.
func (p *serverProc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("the server did not exit within %v", d)
	}
	return 0
}

// ids is the set of ids table holds.
func ids(t *testing.T, c flight.Client, mem memory.Allocator, table string) map[int64]bool {
	t.Helper()
	rec := doGet(t, c, mem, `{"table": "`+table+`", "columns": ["id"]}`)
	defer rec.Release()
	col := rec.Column(0).(*array.Int64)
	out := make(map[int64]bool, col.Len())
	for i := 0; i < col.Len(); i++ {
		out[col.Value(i)] = true
	}
	return out
}

// TestSIGTERMDrains: with a reader that never reads (a stalled DoGet), a
// write stream open and async writes still buffered (wal.flush_interval
// 1h), SIGTERM makes new calls Unavailable, lets the open write stream
// go on, cuts the stalled read after shutdown.timeout (2s), writes the
// buffered async writes, and exits 0. After a restart on the same
// storage every acknowledged row is there.
func TestSIGTERMDrains(t *testing.T) {
	st := testStorage(t)
	args := append([]string{"--shutdown.timeout", "2s", "--wal.flush_interval", "1h"}, st.args...)
	srv := startServer(t, args...)
	c := dialT(t, srv.addr)
	defer c.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const dim = 16
	schema := datagen.Schema(dim)
	createTable(t, c, "big", datagen.Schema(1024))
	createTable(t, c, "dur", schema)
	createTable(t, c, "async", schema)
	bigRows := datagen.Batch(mem, 1024, 1, 0, 2000) // ~8 MiB: three messages to a reader
	big := openPut(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"big"}}, bigRows.Schema(), mem)
	big.put(t, bigRows, true)
	big.close(t)
	bigRows.Release()

	var acked []int64 // first ids of acknowledged 100-row batches, both tables
	batch := func(first int64) arrow.RecordBatch { return datagen.Batch(mem, dim, 1, first, 100) }
	dur := openPut(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"dur"}}, schema, mem)
	async := openPut(t, c, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"table": "async", "durable": false}`)}, schema, mem)
	for i := int64(0); i < 5; i++ {
		for _, s := range []struct {
			p       *putStream
			base    int64
			durable bool
		}{{dur, 0, true}, {async, 1_000_000, false}} {
			rec := batch(s.base + i*100)
			s.p.put(t, rec, s.durable)
			rec.Release()
			acked = append(acked, s.base+i*100)
		}
	}
	async.close(t)
	// The async writes are acknowledged but still buffered: only the
	// drain can make them durable.
	res, err := c.DoAction(context.Background(), &flight.Action{Type: "stats", Body: []byte(`{"table": "async"}`)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := res.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Regions []struct {
			LastSeq          uint64 `json:"last_seq"`
			DurableWatermark uint64 `json:"durable_watermark"`
		}
	}
	if err := json.Unmarshal(r.Body, &stats); err != nil || len(stats.Regions) != 1 || stats.Regions[0].DurableWatermark >= stats.Regions[0].LastSeq {
		t.Fatalf("async table before SIGTERM: %s (%v), want writes not yet durable", r.Body, err)
	}
	stalled := stallRead(t, srv.addr, `{"table": "big"}`)

	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New calls are refused with Unavailable, on this connection and on
	// a new one.
	time.Sleep(200 * time.Millisecond)
	statsCall := func(c flight.Client) error {
		stream, err := c.DoAction(context.Background(), &flight.Action{Type: "stats", Body: []byte(`{"table": "dur"}`)})
		if err == nil {
			_, err = stream.Recv()
		}
		return err
	}
	if err := statsCall(c); status.Code(err) != codes.Unavailable {
		t.Errorf("a new call while draining: %v, want Unavailable", err)
	}
	if c2, err := dial(srv.addr); err == nil {
		if err := statsCall(c2); status.Code(err) != codes.Unavailable {
			t.Errorf("a new connection's call while draining: %v, want Unavailable", err)
		}
		c2.Close()
	}
	// The write stream open before the signal goes on, and ends.
	for i := int64(5); i < 8; i++ {
		rec := batch(i * 100)
		dur.put(t, rec, true)
		rec.Release()
		acked = append(acked, i*100)
	}
	dur.close(t)

	code := srv.waitExit(t, 10*time.Second)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if took < 1900*time.Millisecond || took > 8*time.Second {
		t.Fatalf("exited %v after SIGTERM; want shutdown.timeout (2s, the stalled read) plus a little", took)
	}
	t.Logf("exited 0, %v after SIGTERM", took.Round(time.Millisecond))
	// The stalled read was cut: after what the client had buffered, its
	// stream ends Unavailable.
	for err == nil {
		_, err = stalled.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("the stalled read ended with %v, want Unavailable", err)
	}

	srv = startServer(t, st.args...)
	c2 := dialT(t, srv.addr)
	defer c2.Close()
	have := map[string]map[int64]bool{"dur": ids(t, c2, mem, "dur"), "async": ids(t, c2, mem, "async")}
	for _, first := range acked {
		table := "dur"
		if first >= 1_000_000 {
			table = "async"
		}
		for id := first; id < first+100; id++ {
			if !have[table][id] {
				t.Fatalf("acknowledged row %d of %s is missing after the restart", id, table)
			}
		}
	}
	if n := len(have["dur"]) + len(have["async"]); n != 100*len(acked) {
		t.Fatalf("%d rows after the restart, want the %d acknowledged", n, 100*len(acked))
	}
}

// TestSecondSignalExitsAtOnce: a second signal during the drain ends the
// process at once, without waiting for shutdown.timeout (30s here).
func TestSecondSignalExitsAtOnce(t *testing.T) {
	st := testStorage(t)
	srv := startServer(t, st.args...)
	c := dialT(t, srv.addr)
	defer c.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	createTable(t, c, "big", datagen.Schema(1024))
	rows := datagen.Batch(mem, 1024, 1, 0, 2000)
	p := openPut(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"big"}}, rows.Schema(), mem)
	p.put(t, rows, true)
	p.close(t)
	rows.Release()
	stallRead(t, srv.addr, `{"table": "big"}`)

	srv.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	if srv.cmd.ProcessState != nil {
		t.Fatal("the server exited at the first signal with a read running")
	}
	start := time.Now()
	srv.cmd.Process.Signal(syscall.SIGINT)
	code := srv.waitExit(t, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("exited %v after the second signal", d)
	}
	if code == 0 {
		t.Fatal("exit code 0 after a second signal cut the drain short")
	}
	// What was acknowledged durably is there after a restart.
	srv = startServer(t, st.args...)
	c2 := dialT(t, srv.addr)
	defer c2.Close()
	if n := len(ids(t, c2, mem, "big")); n != 2000 {
		t.Fatalf("%d rows after the restart, want 2000", n)
	}
}
