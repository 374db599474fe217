package flight_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/ipcguard"
	"github.com/flightwal/flightwal/objstore"
)

// ipcStream encodes recs as one IPC stream (what a DoPut carries).
func ipcStream(recs ...arrow.RecordBatch) []byte {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(recs[0].Schema()))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			panic(err)
		}
	}
	w.Close()
	return buf.Bytes()
}

// FuzzDoPut sends any IPC stream's messages as a DoPut to a real server
// whose table has a text index, then reads the table back with a filter
// over the text and a full-text search: whatever the bytes, the server
// answers (accepting or refusing the stream), never crashes, and what it
// serves afterwards is valid Arrow. (A crash of the server is a crash of
// this process: the fuzzer reports the input.)
func FuzzDoPut(f *testing.F) {
	e := newEnv(f, withStore(objstore.NewMem()))
	e.createTable("fz", textSchema, map[string]any{"indexes": []map[string]any{{"name": "t", "column": "text", "type": "fts"}}})
	mem := memory.NewGoAllocator()
	good := textBatch(mem, []int64{1, 2, 3}, "quick brown fox")
	bad := badOffsetsBatch(mem)
	f.Add(ipcStream(good))
	f.Add(ipcStream(good, bad))
	f.Add(ipcStream(bad))
	good.Release()
	bad.Release()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		msgs, ok := splitMessages(data)
		if !ok {
			return
		}
		stream, err := e.client.DoPut(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			if i == 0 {
				m.FlightDescriptor = pathDesc("fz")
			}
			if stream.Send(m) != nil {
				break
			}
		}
		stream.CloseSend()
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
		for _, tk := range []map[string]any{
			{"table": "fz", "filter": "text LIKE '%o%' OR id > 0"},
			{"table": "fz", "search": map[string]any{"query": "fox"}},
		} {
			rec, err := e.get(tk)
			if err != nil {
				t.Fatalf("read after a fuzzed DoPut: %v", err)
			}
			err = array.ValidateRecordFull(rec)
			rec.Release()
			if err != nil {
				t.Fatalf("served an invalid batch: %v", err)
			}
		}
	})
}

// splitMessages cuts an IPC stream into Flight messages; ok is false when
// the bytes are not even framed as messages.
func splitMessages(data []byte) ([]*flight.FlightData, bool) {
	frames, err := ipcguard.Split(data)
	if err != nil || len(frames) == 0 || len(frames) > 16 {
		return nil, false
	}
	out := make([]*flight.FlightData, len(frames))
	for i, f := range frames {
		out[i] = &flight.FlightData{DataHeader: f.Meta, DataBody: f.Body}
	}
	return out, true
}
