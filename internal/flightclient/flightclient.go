// Package flightclient is the Flight client side that flightwal's programs
// share (the CLI's put, get and action, and flightwal-bench): dial with
// flightwal's message size, put a stream of record batches and wait for
// their PutResults, read a DoGet into record batches, run an action. It
// uses the arrow-go flight package as any client would, and imports
// nothing of the server.
package flightclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/flightwal/flightwal/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxMessageBytes is the largest message the client sends or accepts: the
// server's default flight.max_message_bytes, so a batch the server takes
// in one message is one message here too.
var MaxMessageBytes = int(config.Default().Flight.MaxMessageBytes)

// Dial opens a Flight client to addr ("host:port") without TLS, sending
// and receiving messages up to MaxMessageBytes.
func Dial(addr string) (flight.Client, error) {
	return flight.NewClientWithMiddleware(addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)))
}

// Acks is what Put saw of its stream.
type Acks struct {
	N     int         // PutResults received
	Sent  []time.Time // when each batch's write began
	Acked []time.Time // when the i-th PutResult arrived (it answers the i-th batch)
}

// Put streams recs on one DoPut with desc (nil: none) and waits for every
// PutResult; the batches are written without waiting for them. onAck (nil:
// none) runs for each PutResult in order, on the goroutine reading them,
// with its index and app_metadata. The error is the server's status, else
// a failed write, else fewer PutResults than batches. The Acks are never
// nil and hold what arrived before an error.
func Put(ctx context.Context, c flight.Client, desc *flight.FlightDescriptor, recs []arrow.RecordBatch, onAck func(i int, metadata []byte)) (*Acks, error) {
	return put(ctx, c, desc, recs, onAck, false)
}

// PutLockstep is Put in a closed loop: each batch is written once the
// previous batch's PutResult arrived, so Acked[i] - Sent[i] is one batch's
// round trip with nothing queued ahead of it.
func PutLockstep(ctx context.Context, c flight.Client, desc *flight.FlightDescriptor, recs []arrow.RecordBatch, onAck func(i int, metadata []byte)) (*Acks, error) {
	return put(ctx, c, desc, recs, onAck, true)
}

func put(ctx context.Context, c flight.Client, desc *flight.FlightDescriptor, recs []arrow.RecordBatch, onAck func(i int, metadata []byte), lockstep bool) (*Acks, error) {
	acks := &Acks{Sent: make([]time.Time, len(recs)), Acked: make([]time.Time, len(recs))}
	if len(recs) == 0 {
		return acks, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.DoPut(ctx)
	if err != nil {
		return acks, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(recs[0].Schema()))
	if desc != nil {
		w.SetFlightDescriptor(desc)
	}
	done := make(chan error, 1)
	acked := make(chan struct{}, len(recs)) // lockstep: a token per PutResult; closed at the stream's end
	go func() {
		defer close(acked)
		for {
			res, err := stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
			if acks.N < len(recs) {
				acks.Acked[acks.N] = time.Now()
			}
			if onAck != nil {
				onAck(acks.N, res.AppMetadata)
			}
			acks.N++
			if lockstep {
				select {
				case acked <- struct{}{}:
				default: // more PutResults than batches: check reports it
				}
			}
		}
	}()
	var werr error
	for i, r := range recs {
		if lockstep && i > 0 {
			if _, ok := <-acked; !ok {
				break // the stream ended early: its status is in done
			}
		}
		acks.Sent[i] = time.Now()
		if werr = w.Write(r); werr != nil {
			break // the server's status, if it failed the stream, arrives through Recv
		}
	}
	_ = w.Close()
	_ = stream.CloseSend()
	err = <-done
	if err == nil && werr != nil && !errors.Is(werr, io.EOF) {
		err = werr
	}
	if err == nil && acks.N != len(recs) {
		err = fmt.Errorf("%d PutResults for %d batches", acks.N, len(recs))
	}
	return acks, err
}

// OpenGet runs one DoGet of ticket and returns the reader of its record
// batches (opts: e.g. ipc.WithAllocator). The caller releases it.
func OpenGet(ctx context.Context, c flight.Client, ticket []byte, opts ...ipc.Option) (*flight.Reader, error) {
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
	if err != nil {
		return nil, err
	}
	return flight.NewRecordReader(stream, opts...)
}

// Read hands every record batch of rdr to fn (nil: none; a batch is valid
// during the call only, Retain it to keep it) and returns the rows read.
// It stops at fn's first error and returns it; the end of the stream is
// not an error.
func Read(rdr *flight.Reader, fn func(arrow.RecordBatch) error) (int64, error) {
	var rows int64
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rows += rec.NumRows()
		if fn != nil {
			if err := fn(rec); err != nil {
				return rows, err
			}
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return rows, err
	}
	return rows, nil
}

// Get runs one DoGet of ticket and Reads it into fn (nil: none).
func Get(ctx context.Context, c flight.Client, ticket []byte, fn func(arrow.RecordBatch) error, opts ...ipc.Option) (int64, error) {
	ctx, cancel := context.WithCancel(ctx) // ends the call if fn stops early
	defer cancel()
	rdr, err := OpenGet(ctx, c, ticket, opts...)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	return Read(rdr, fn)
}

// Action runs one DoAction and hands each result's body to fn (nil: none)
// in order, stopping at fn's first error.
func Action(ctx context.Context, c flight.Client, typ string, body []byte, fn func(body []byte) error) error {
	ctx, cancel := context.WithCancel(ctx) // ends the call if fn stops early
	defer cancel()
	stream, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: body})
	if err != nil {
		return err
	}
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(res.Body); err != nil {
				return err
			}
		}
	}
}
