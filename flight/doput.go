package flight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/flightwal/flightwal/lsm"
)

// PutMetadata is the JSON app_metadata of each PutResult (API.md, DoPut).
type PutMetadata struct {
	Batch   int               `json:"batch"`
	Rows    int64             `json:"rows"`
	Durable bool              `json:"durable"`
	Regions map[string]uint64 `json:"regions"`
}

// maxPendingAcks bounds how far reading a stream runs ahead of its acks.
const maxPendingAcks = 256

type pendingAck struct {
	batch int
	res   lsm.WriteResult
	start time.Time // when the batch was read
}

// DoPut ingests a stream of record batches. Batches are appended as they
// arrive; a separate goroutine sends one PutResult per batch, in order,
// after the batch is durable (or at once for durable=false writes).
func (s *Service) DoPut(stream flight.FlightService_DoPutServer) error {
	// The first message carries the descriptor: a Flight SQL command goes
	// to Flight SQL, with the message put back in front of the stream.
	first, ferr := stream.Recv()
	if errors.Is(ferr, errPermissionDenied) {
		return toStatus(ferr)
	}
	stream = &peekedStream{FlightService_DoPutServer: stream, first: first, err: ferr, peeked: true}
	if ferr == nil && isFlightSQL(first.GetFlightDescriptor().GetCmd()) {
		return sqlStatus(s.sql.wire.DoPut(&guardedStream{FlightService_DoPutServer: stream}))
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	rdr, err := s.newPutReader(stream)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return toStatus(fmt.Errorf("%w: empty DoPut stream (no schema message)", errInvalid))
		}
		return toStatus(readError(err))
	}
	defer rdr.Release()
	req, err := parsePutDescriptor(rdr.LatestFlightDescriptor())
	if err != nil {
		return toStatus(err)
	}
	t, err := s.putTable(ctx, req, rdr)
	if err != nil {
		return toStatus(err)
	}
	w, err := t.NewWriter(rdr.Schema(), req.op)
	if err != nil {
		return toStatus(fmt.Errorf("table %q: %w", req.table, err))
	}

	acks := make(chan pendingAck, maxPendingAcks)
	ackDone := make(chan error, 1)
	go func() { ackDone <- s.sendAcks(ctx, stream, t, req.durable, acks) }()
	finish := func(err error) error {
		close(acks)
		ackErr := <-ackDone
		if err == nil {
			err = ackErr
		}
		return toStatus(err)
	}
	for i := 0; ; i++ {
		more, err := nextBatch(rdr)
		if err != nil {
			return finish(fmt.Errorf("%w: batch %d: %v", errInvalid, i, err))
		}
		if !more {
			break
		}
		start := time.Now()
		res, err := w.Write(ctx, s.mem, rdr.RecordBatch())
		if err != nil {
			return finish(fmt.Errorf("batch %d: %w", i, err))
		}
		// The batch is in the memtable now, which counts it against
		// backpressure.max_unflushed_bytes: its message no longer counts
		// against flight.max_inflight_bytes.
		releaseReceived(ctx)
		select {
		case acks <- pendingAck{batch: i, res: res, start: start}:
		case err := <-ackDone:
			ackDone <- err
			return finish(err)
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return finish(readError(err))
	}
	return finish(nil)
}

// newPutReader reads a DoPut stream's schema message. Every message is
// checked before arrow-go parses it (guardedStream), and a panic on a
// malformed one is the client's bad input, not a crash.
func (s *Service) newPutReader(stream flight.FlightService_DoPutServer) (rdr *flight.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rdr, err = nil, fmt.Errorf("malformed schema message: %v", p)
		}
	}()
	return flight.NewRecordReader(&guardedStream{FlightService_DoPutServer: stream}, ipc.WithAllocator(s.mem))
}

// nextBatch advances the stream's reader. arrow-go's IPC reader trusts the
// lengths in a message and can panic on a malformed one (a batch whose
// columns disagree with its row count, say); that is the client's bad
// input, answered InvalidArgument, never a crash of the server. The panic
// happens on this goroutine, so recovering here catches it.
func nextBatch(rdr interface{ Next() bool }) (more bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			more, err = false, fmt.Errorf("malformed IPC message: %v", p)
		}
	}()
	return rdr.Next(), nil
}

// readError is the error of a DoPut stream that could not be read: a
// refusal by the server's limits as it is, anything else the client's.
func readError(err error) error {
	if errors.Is(err, errResourceExhausted) || errors.Is(err, errShuttingDown) || errors.Is(err, errPermissionDenied) {
		return err
	}
	return fmt.Errorf("%w: reading DoPut stream: %v", errInvalid, err)
}

// putTable opens the target table, creating it from the stream's schema
// when the command asks for that.
func (s *Service) putTable(ctx context.Context, req *putRequest, rdr *flight.Reader) (*lsm.Table, error) {
	t, err := s.table(ctx, req.table)
	if err == nil || req.create == nil || !errors.Is(err, lsm.ErrNotFound) {
		return t, err
	}
	if req.create.Name != "" && req.create.Name != req.table {
		return nil, fmt.Errorf("%w: create.name %q differs from table %q", errInvalid, req.create.Name, req.table)
	}
	if req.create.Schema != "" {
		return nil, fmt.Errorf("%w: create takes the stream's schema; drop create.schema", errInvalid)
	}
	t, err = s.db.CreateTable(ctx, req.create.tableSpec(req.table, rdr.Schema()))
	if errors.Is(err, lsm.ErrAlreadyExists) {
		return s.table(ctx, req.table) // another stream created it first
	}
	return t, err
}

// sendAcks sends the PutResults in order.
func (s *Service) sendAcks(ctx context.Context, stream flight.FlightService_DoPutServer, t *lsm.Table, durable bool, acks <-chan pendingAck) error {
	obs := observerFrom(ctx)
	for a := range acks {
		if durable {
			if err := t.WaitDurable(ctx, a.res); err != nil {
				return fmt.Errorf("batch %d: %w", a.batch, err)
			}
		}
		md := PutMetadata{Batch: a.batch, Rows: a.res.Rows, Durable: durable, Regions: make(map[string]uint64, len(a.res.Regions))}
		for r, seq := range a.res.Regions {
			md.Regions[strconv.Itoa(r)] = seq
		}
		raw, _ := json.Marshal(md)
		if err := stream.Send(&flight.PutResult{AppMetadata: raw}); err != nil {
			return err
		}
		if obs != nil {
			obs.Ack(durable, time.Since(a.start))
		}
	}
	return nil
}

// peekedStream is a DoPut stream whose first message (or error) was read
// already: Recv returns it first.
type peekedStream struct {
	flight.FlightService_DoPutServer
	first  *flight.FlightData
	err    error
	peeked bool
}

func (p *peekedStream) Recv() (*flight.FlightData, error) {
	if p.peeked {
		p.peeked = false
		fd, err := p.first, p.err
		p.first, p.err = nil, nil
		return fd, err
	}
	return p.FlightService_DoPutServer.Recv()
}
