package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/internal/datagen"
)

// putRows streams one batch of rows [first, first+n) and waits for its
// durable PutResult; the error carries the server's gRPC status.
func putRows(c flight.Client, mem memory.Allocator, table string, seed uint64, first, n int64) error {
	rec := datagen.Batch(mem, 8, seed, first, n)
	defer rec.Release()
	return putRecord(context.Background(), c, mem, table, rec)
}

// putRecord streams rec to table and waits for its durable PutResult;
// the error carries the server's gRPC status.
func putRecord(ctx context.Context, c flight.Client, mem memory.Allocator, table string, rec arrow.RecordBatch) error {
	stream, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(mem))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{table}})
	werr := w.Write(rec)
	w.Close()
	if err := stream.CloseSend(); err != nil && werr == nil {
		werr = err
	}
	acked := false
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var md struct{ Durable bool }
		if json.Unmarshal(r.AppMetadata, &md) == nil && md.Durable {
			acked = true
		}
	}
	if !acked {
		return errors.Join(errors.New("no durable PutResult"), werr)
	}
	return nil
}

// getErr runs a DoGet to its end and returns its error (nil on success).
func getErr(c flight.Client, ticket string) error {
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(ticket)})
	if err != nil {
		return err
	}
	return drain(stream.Recv)
}

// action runs an action and reads its whole answer.
func action(ctx context.Context, c flight.Client, typ string, body any) error {
	raw, _ := json.Marshal(body)
	stream, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: raw})
	if err != nil {
		return err
	}
	return drain(stream.Recv)
}

// drain reads a stream to its end: nil at EOF, else the stream's error.
func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestTwoServersFencing runs two server processes on one MinIO bucket
// (invariant 4): the newer claims the region; the older's next write and
// flush fail with FailedPrecondition; no WAL entry is overwritten; the
// newer's reads hold every batch either acknowledged, also after restart.
func TestTwoServersFencing(t *testing.T) {
	st := minioStorage(t)
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	old := startServer(t, st.args...)
	c1 := dialT(t, old.addr)
	defer c1.Close()
	createTable(t, c1, "f", datagen.Schema(8))
	if err := putRows(c1, mem, "f", 1, 0, 100); err != nil {
		t.Fatal(err)
	}
	walBefore := map[string][]byte{}
	objs, err := st.store.List(ctx, "f.lance/_mem_wal/4a388480-a25b-59a8-b058-24217f980256/wal/")
	if err != nil || len(objs) == 0 {
		t.Fatalf("WAL of the first server: %v, %v", objs, err)
	}
	for _, o := range objs {
		data, err := st.store.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		walBefore[o.Key] = data
	}

	newer := startServer(t, st.args...)
	c2 := dialT(t, newer.addr)
	defer c2.Close()
	// Reading opens the table on the newer server without claiming its
	// region: the older server still writes.
	rec := doGet(t, c2, mem, `{"table": "f"}`)
	if rec.NumRows() != 100 {
		t.Fatalf("newer server reads %d rows, want 100", rec.NumRows())
	}
	rec.Release()
	if err := putRows(c1, mem, "f", 4, 100, 10); err != nil {
		t.Fatalf("older server's write before any claim: %v", err)
	}
	// The newer server's first write claims the region, after replaying
	// what the older one wrote since the newer opened it.
	if err := putRows(c2, mem, "f", 3, 2000, 10); err != nil {
		t.Fatal(err)
	}
	err = putRows(c1, mem, "f", 2, 1000, 10)
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("older server's write after the claim: %v, want FailedPrecondition", err)
	}
	// Having noticed, the older server refuses reads: its data is stale.
	if err := getErr(c1, `{"table": "f"}`); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("older server's read after it was fenced: %v, want FailedPrecondition", err)
	}
	// Racing flushes: the fenced server's fails, the owner's lands.
	if err := action(ctx, c1, "flush", map[string]any{"table": "f"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("older server's flush: %v, want FailedPrecondition", err)
	}
	if err := action(ctx, c2, "flush", map[string]any{"table": "f"}); err != nil {
		t.Fatal(err)
	}
	for key, data := range walBefore {
		now, err := st.store.Get(ctx, key)
		if err == nil && string(now) != string(data) {
			t.Fatalf("WAL entry %s was overwritten", key)
		}
	}
	check := func(c flight.Client, when string) {
		rec := doGet(t, c, mem, `{"table": "f", "columns": ["id"]}`)
		defer rec.Release()
		ids := rec.Column(0).(*array.Int64)
		n := map[string]int{}
		for i := 0; i < ids.Len(); i++ {
			switch id := ids.Value(i); {
			case id < 110:
				n["first"]++
			case id >= 2000 && id < 2010:
				n["newer"]++
			default:
				n["fenced"]++
			}
		}
		if n["first"] != 110 || n["newer"] != 10 || n["fenced"] != 0 {
			t.Fatalf("%s: rows %v, want 110 from the first server, 10 from the newer, none fenced", when, n)
		}
	}
	check(c2, "newer server")
	old.kill()
	newer.kill()
	third := startServer(t, st.args...)
	c3 := dialT(t, third.addr)
	defer c3.Close()
	check(c3, "after both were killed")
	if !strings.HasPrefix(st.store.String(), "s3://") {
		t.Fatalf("test ran on %s, want MinIO", st.store)
	}
}
