package flight_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
)

// stalledGet opens a DoGet with the given ticket on a client whose
// flow-control windows are small and never reads past the first message,
// so the server's handler blocks sending. cancel ends it.
func stalledGet(t *testing.T, e *env, ticket string) (cancel func()) {
	t.Helper()
	c, err := flight.NewClientWithMiddleware(e.srv.Addr().String(), nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte(ticket)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the schema: the handler runs
		t.Fatalf("stalled DoGet: %v", err)
	}
	var once sync.Once
	cancel = func() {
		once.Do(func() {
			stop()
			c.Close()
		})
	}
	t.Cleanup(cancel)
	return cancel
}

// TestInflightBudget: with an 8 MiB budget, messages that do not fit wait
// and then get ResourceExhausted naming flight.max_inflight_bytes, while
// reads and actions are answered; refused batches leave no trace, and
// the budget is whole again once the calls are over.
func TestInflightBudget(t *testing.T) {
	e := newEnv(t, withFlight(fw.Options{MaxMessageBytes: 6 << 20, MaxInflightBytes: 8 << 20, LimitWait: 300 * time.Millisecond}))
	const dim, rows = 1024, 1100 // ~4.3 MiB a batch
	e.createTable("t", datagen.Schema(dim), nil)
	seedRows := datagen.Batch(e.mem, dim, 1, 0, 1000)
	defer seedRows.Release()
	e.mustPut(pathDesc("t"), seedRows)

	// A write stream that has sent a small batch.
	earlyStream, err := e.newClient().DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	early := flight.NewRecordWriter(earlyStream, ipc.WithSchema(seedRows.Schema()))
	early.SetFlightDescriptor(pathDesc("t"))
	small := datagen.Batch(e.mem, dim, 1, 50_000, 10) // 40 KiB
	defer small.Release()
	if err := early.Write(small); err != nil {
		t.Fatal(err)
	}
	if _, err := earlyStream.Recv(); err != nil {
		t.Fatalf("small batch: %v", err)
	}

	// A read whose 5 MiB ticket (JSON padded with spaces) is charged for
	// as long as the read runs, and the read stalls.
	ticket := `{"table": "t"` + strings.Repeat(" ", 5<<20) + `}`
	cancelGet := stalledGet(t, e, ticket)
	if got := e.srv.InflightBytes(); got < 5<<20 {
		t.Fatalf("in-flight bytes %d while a 5 MiB ticket is held", got)
	}

	// Concurrent big writes do not fit beside it: each waits, then is
	// refused, and the refusal names the bound.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := datagen.Batch(e.mem, dim, 1, int64(10_000*(i+1)), rows)
			defer b.Release()
			c := e.newClient()
			_, errs[i] = putWith(c, pathDesc("t"), b)
		}()
	}
	// Meanwhile the server answers reads and actions (the budget stays
	// full, so had they waited for it they would have been refused).
	if got := e.mustGet(map[string]any{"table": "t", "columns": []string{"id"}}); got.NumRows() != 1010 {
		t.Fatalf("read during saturation: %d rows, want 1010", got.NumRows())
	}
	e.mustAction("stats", map[string]any{"table": "t"})
	if _, err := e.client.GetFlightInfo(context.Background(), pathDesc("t")); err != nil {
		t.Fatalf("GetFlightInfo during saturation: %v", err)
	}
	wg.Wait()
	for _, err := range errs {
		wantCode(t, err, codes.ResourceExhausted, "flight.max_inflight_bytes")
	}
	// The stream opened before the read: its batches were small, so it
	// reserved nothing for its next; a big one is refused once it has
	// arrived, before it is decoded.
	big := datagen.Batch(e.mem, dim, 1, 60_000, rows)
	defer big.Release()
	if err := early.Write(big); err != nil {
		t.Fatalf("sending the big batch: %v", err)
	}
	early.Close()
	earlyStream.CloseSend()
	_, err = earlyStream.Recv()
	wantCode(t, err, codes.ResourceExhausted, "flight.max_inflight_bytes")
	// A unary request too big for the room left is refused as well.
	_, err = e.client.GetFlightInfo(context.Background(), cmdDesc(map[string]any{"table": "t", "filter": "id < 0" + strings.Repeat(" ", 5<<20)}))
	wantCode(t, err, codes.ResourceExhausted, "flight.max_inflight_bytes")
	if got := e.mustGet(map[string]any{"table": "t", "columns": []string{"id"}}); got.NumRows() != 1010 {
		t.Fatalf("after refused writes: %d rows, want the 1010 acknowledged", got.NumRows())
	}

	// Once the read ends its ticket's charge is released, and the same
	// writes, four at a time, are taken one after another (each fits
	// alone): every batch is acknowledged or refused, and exactly the
	// acknowledged ones are visible.
	cancelGet()
	if !eventually(t, 5*time.Second, func() bool { return e.srv.InflightBytes() == 0 }) {
		t.Fatalf("in-flight bytes %d after the read ended", e.srv.InflightBytes())
	}
	var mu sync.Mutex
	acked := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := datagen.Batch(e.mem, dim, 1, int64(100_000*(i+1)), rows)
			defer b.Release()
			res, err := putWith(e.newClient(), pathDesc("t"), b)
			if err != nil && status.Code(err) != codes.ResourceExhausted {
				t.Errorf("put: %v", err)
			}
			mu.Lock()
			acked += len(res)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if acked == 0 {
		t.Fatal("no write was taken with the budget free")
	}
	if got := e.mustGet(map[string]any{"table": "t", "columns": []string{"id"}}); got.NumRows() != int64(1010+acked*rows) {
		t.Fatalf("%d rows, want %d (1010 + %d acknowledged batches)", got.NumRows(), 1010+acked*rows, acked)
	}
	if !eventually(t, 5*time.Second, func() bool { return e.srv.InflightBytes() == 0 }) {
		t.Fatalf("in-flight bytes %d after every call ended", e.srv.InflightBytes())
	}
}

// TestMaxStreams: past flight.max_streams running calls a new call waits,
// then gets ResourceExhausted naming the key; when one ends, calls run.
func TestMaxStreams(t *testing.T) {
	e := newEnv(t, withFlight(fw.Options{MaxStreams: 2, LimitWait: 200 * time.Millisecond}))
	e.createTable("t", datagen.Schema(1024), nil) // one call, ended
	b := datagen.Batch(e.mem, 1024, 1, 0, 2000)   // ~8 MiB, 3 messages: stalls a reader
	defer b.Release()
	e.mustPut(pathDesc("t"), b)
	cancel1 := stalledGet(t, e, `{"table": "t"}`)
	stalledGet(t, e, `{"table": "t"}`)
	_, err := e.action("stats", map[string]any{"table": "t"})
	wantCode(t, err, codes.ResourceExhausted, "flight.max_streams")
	_, err = e.client.GetFlightInfo(context.Background(), pathDesc("t"))
	wantCode(t, err, codes.ResourceExhausted, "flight.max_streams")
	cancel1()
	if !eventually(t, 5*time.Second, func() bool {
		_, err := e.action("stats", map[string]any{"table": "t"})
		return err == nil
	}) {
		t.Fatal("calls still refused after a running one ended")
	}
}

// TestShutdownDrains: Shutdown refuses new calls with Unavailable, lets a
// running write finish, and cuts a stalled read when its context ends.
func TestShutdownDrains(t *testing.T) {
	e := newEnv(t)
	e.createTable("t", datagen.Schema(1024), nil)
	b := datagen.Batch(e.mem, 1024, 1, 0, 2000) // ~8 MiB, 3 messages: stalls a reader
	defer b.Release()
	e.mustPut(pathDesc("t"), b)
	stalledGet(t, e, `{"table": "t"}`)

	// A write stream open before the drain starts.
	stream, err := e.client.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(b.Schema()))
	w.SetFlightDescriptor(pathDesc("t"))
	first := datagen.Batch(e.mem, 1024, 1, 10_000, 10)
	defer first.Release()
	if err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("ack before the drain: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.srv.Shutdown(ctx) }()
	time.Sleep(50 * time.Millisecond)

	// New calls get Unavailable; the open write stream goes on.
	_, err = e.action("stats", map[string]any{"table": "t"})
	wantCode(t, err, codes.Unavailable, "")
	second := datagen.Batch(e.mem, 1024, 1, 20_000, 10)
	defer second.Release()
	if err := w.Write(second); err != nil {
		t.Fatalf("write during the drain: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("ack during the drain: %v", err)
	}
	w.Close()
	stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of the write stream: %v", err)
	}

	// The stalled read holds the drain until the deadline, then is cut.
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stalled read: %v, want the deadline", err)
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 3*time.Second {
		t.Fatalf("Shutdown took %v, want about its 500ms deadline", d)
	}
}
