package flightclient_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/internal/benchutil"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/flightclient"
)

func batches(t *testing.T, n int) []arrow.RecordBatch {
	t.Helper()
	var recs []arrow.RecordBatch
	for i := range n {
		recs = append(recs, datagen.Batch(memory.DefaultAllocator, 4, 1, int64(i*10), 10))
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return recs
}

func dial(t *testing.T, addr string) flight.Client {
	t.Helper()
	c, err := flightclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPutGetAction(t *testing.T) {
	ctx := context.Background()
	recs := batches(t, 3)

	disc, err := benchutil.NewDiscardServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer disc.Close()
	c := dial(t, disc.Addr())
	var rows int64
	acks, err := flightclient.Put(ctx, c, nil, recs, func(i int, metadata []byte) {
		var md struct{ Batch, Rows int64 }
		if err := json.Unmarshal(metadata, &md); err != nil || md.Batch != int64(i) {
			t.Errorf("PutResult %d: %s (%v)", i, metadata, err)
		}
		rows += md.Rows
	})
	if err != nil || acks.N != 3 || rows != 30 {
		t.Fatalf("Put: %v, %d acks, %d rows", err, acks.N, rows)
	}
	for i := range acks.N {
		if acks.Sent[i].IsZero() || acks.Acked[i].Before(acks.Sent[i]) {
			t.Errorf("batch %d sent %v, acked %v", i, acks.Sent[i], acks.Acked[i])
		}
	}
	// Lockstep: each batch is sent after the previous one's PutResult.
	acks, err = flightclient.PutLockstep(ctx, c, nil, recs, nil)
	if err != nil || acks.N != 3 {
		t.Fatalf("PutLockstep: %v, %d acks", err, acks.N)
	}
	for i := 1; i < acks.N; i++ {
		if acks.Sent[i].Before(acks.Acked[i-1]) {
			t.Errorf("lockstep batch %d sent at %v, before batch %d's PutResult at %v", i, acks.Sent[i], i-1, acks.Acked[i-1])
		}
	}
	if acks, err := flightclient.Put(ctx, c, nil, nil, nil); err != nil || acks.N != 0 {
		t.Errorf("Put of no batches: %v, %d acks", err, acks.N)
	}
	// The discard server has no actions: the status comes back.
	err = flightclient.Action(ctx, c, "stats", []byte("{}"), nil)
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Action: %v, want Unimplemented", err)
	}

	slice, err := benchutil.NewSliceServer(nil, recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	defer slice.Close()
	g := dial(t, slice.Addr())
	seen := 0
	n, err := flightclient.Get(ctx, g, []byte("{}"), func(rec arrow.RecordBatch) error {
		seen += int(rec.NumRows())
		return nil
	})
	if err != nil || n != 30 || seen != 30 {
		t.Fatalf("Get: %v, %d rows, fn saw %d", err, n, seen)
	}
	stop := context.Canceled
	if _, err := flightclient.Get(ctx, g, []byte("{}"), func(arrow.RecordBatch) error { return stop }); err != stop {
		t.Errorf("Get with fn failing: %v, want fn's error", err)
	}
}
