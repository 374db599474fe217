// Package benchutil holds the baselines that flightwal's benchmarks compare
// against: Flight servers that do the least a Flight server can do with the
// same streams, so a benchmark can report "flightwal / baseline" from one
// run on one machine instead of absolute numbers that depend on the host.
//
//   - DiscardServer answers DoPut like flightwal does (it decodes every
//     record batch and sends one PutResult per batch, in order) and keeps
//     nothing: the cost of Flight, gRPC and IPC decoding alone.
//   - SliceServer answers DoGet by streaming record batches it was given
//     up front from a slice, cut into messages the way flightwal cuts them:
//     the cost of IPC encoding, gRPC and Flight alone.
//
// Both listen on 127.0.0.1:0 and use the real arrow-go flight package. They
// are baselines for benchmarks, not servers to build on.
package benchutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/internal/flightclient"
)

// MaxOutgoingMessageBytes is the size SliceServer keeps each sent batch
// under, the same as flightwal's DoGet (API.md: under gRPC's default 4 MiB
// receive limit).
const MaxOutgoingMessageBytes = 3 << 20

// Server is a running baseline Flight server.
type Server struct {
	srv     flight.Server
	release func()
	done    chan struct{}
}

// Addr is the "host:port" the server listens on.
func (s *Server) Addr() string { return s.srv.Addr().String() }

// Close stops the server, waits for running calls, and releases the
// batches a SliceServer holds.
func (s *Server) Close() {
	s.srv.Shutdown()
	<-s.done
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// Client opens a Flight client to the server with default options (like
// a user's client: 4 MiB receive limit, no send limit).
func (s *Server) Client() (flight.Client, error) {
	return flight.NewClientWithMiddleware(s.Addr(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

func serve(svc flight.FlightServer, s *Server) (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.srv = flight.NewServerWithMiddleware(nil, grpc.MaxRecvMsgSize(int(config.Default().Flight.MaxMessageBytes)))
	s.srv.RegisterFlightService(svc)
	s.srv.InitListener(lis)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve()
	}()
	return s, nil
}

// putMetadata mirrors flightwal's PutResult app_metadata, so the baseline
// encodes and sends the same bytes per batch.
type putMetadata struct {
	Batch   int               `json:"batch"`
	Rows    int64             `json:"rows"`
	Durable bool              `json:"durable"`
	Regions map[string]uint64 `json:"regions"`
}

type discardService struct {
	flight.BaseFlightServer
	mem memory.Allocator
	s   *Server
}

// NewDiscardServer starts the DoPut baseline: it decodes each record batch
// of a DoPut stream with mem, answers one PutResult per batch in order (the
// same JSON app_metadata flightwal sends) and drops the batch.
func NewDiscardServer(mem memory.Allocator) (*Server, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	s := &Server{}
	return serve(&discardService{mem: mem, s: s}, s)
}

func (d *discardService) DoPut(stream flight.FlightService_DoPutServer) error {
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(d.mem))
	if err != nil {
		return err
	}
	defer rdr.Release()
	for i := 0; rdr.Next(); i++ {
		rec := rdr.RecordBatch()
		md := putMetadata{Batch: i, Rows: rec.NumRows(), Durable: false, Regions: map[string]uint64{"0": uint64(i + 1)}}
		raw, _ := json.Marshal(md)
		if err := stream.Send(&flight.PutResult{AppMetadata: raw}); err != nil {
			return err
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

type sliceService struct {
	flight.BaseFlightServer
	mem    memory.Allocator
	schema *arrow.Schema
	recs   []arrow.RecordBatch
}

// NewSliceServer starts the DoGet baseline: every DoGet, whatever its
// ticket, streams recs (cut into pieces under MaxOutgoingMessageBytes, as
// flightwal cuts its results) with schema. It retains recs until Close.
func NewSliceServer(mem memory.Allocator, schema *arrow.Schema, recs []arrow.RecordBatch) (*Server, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	parts := SliceForMessages(recs, MaxOutgoingMessageBytes)
	s := &Server{release: func() {
		for _, r := range parts {
			r.Release()
		}
	}}
	srv, err := serve(&sliceService{mem: mem, schema: schema, recs: parts}, s)
	if err != nil {
		s.release()
		return nil, err
	}
	return srv, nil
}

func (d *sliceService) DoGet(_ *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	w := flight.NewRecordWriter(stream, ipc.WithSchema(d.schema), ipc.WithAllocator(d.mem))
	for _, r := range d.recs {
		if err := w.Write(r); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// SliceForMessages cuts each batch into zero-copy slices of at most about
// maxBytes of Arrow buffers each, with flightwal's DoGet rule (rows per
// slice = rows x maxBytes / batch bytes). The caller releases the result.
func SliceForMessages(recs []arrow.RecordBatch, maxBytes int64) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for _, rec := range recs {
		rows := rec.NumRows()
		size := util.TotalRecordSize(rec)
		if rows <= 1 || size <= maxBytes {
			rec.Retain()
			out = append(out, rec)
			continue
		}
		per := max(1, rows*maxBytes/size)
		for off := int64(0); off < rows; off += per {
			out = append(out, rec.NewSlice(off, min(rows, off+per)))
		}
	}
	return out
}

// Decoded returns recs as a reader of their IPC stream sees them (a Flight
// server decoding a DoPut): each batch's buffers are exactly sized slices of
// its message body, without the spare capacity builders leave. Benchmarks
// send these, so the bytes they count are the bytes a server holds. The
// caller releases the result.
func Decoded(mem memory.Allocator, recs []arrow.RecordBatch) ([]arrow.RecordBatch, error) {
	out := make([]arrow.RecordBatch, 0, len(recs))
	release := func() {
		for _, r := range out {
			r.Release()
		}
	}
	// One stream per batch: a single stream of every batch grew one
	// buffer to the whole data set, seconds of page faults per benchmark.
	var buf bytes.Buffer
	for _, r := range recs {
		buf.Reset()
		w := ipc.NewWriter(&buf, ipc.WithSchema(r.Schema()), ipc.WithAllocator(mem))
		err := w.Write(r)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			release()
			return nil, err
		}
		// The reader's buffers are slices of its own copy of each
		// message body, so buf can be reused.
		rdr, err := ipc.NewReader(bytes.NewReader(buf.Bytes()), ipc.WithAllocator(mem))
		if err != nil {
			release()
			return nil, err
		}
		if !rdr.Next() {
			err := rdr.Err()
			rdr.Release()
			release()
			return nil, fmt.Errorf("decoding batch %d: %w", len(out), err)
		}
		d := rdr.RecordBatch()
		d.Retain()
		rdr.Release()
		out = append(out, d)
	}
	return out, nil
}

// Bytes is the Arrow buffer bytes of recs (util.TotalRecordSize summed).
func Bytes(recs []arrow.RecordBatch) int64 {
	var n int64
	for _, r := range recs {
		n += util.TotalRecordSize(r)
	}
	return n
}

// Put streams recs on one DoPut with desc (nil: none) and waits for every
// PutResult (flightclient.Put). It returns the number of PutResults; fewer
// than len(recs) is an error.
func Put(ctx context.Context, c flight.Client, desc *flight.FlightDescriptor, recs []arrow.RecordBatch) (int, error) {
	acks, err := flightclient.Put(ctx, c, desc, recs, nil)
	return acks.N, err
}

// Drain runs one DoGet and reads the whole stream with mem, keeping
// nothing. It returns the rows received.
func Drain(ctx context.Context, c flight.Client, mem memory.Allocator, ticket []byte) (rows int64, err error) {
	return flightclient.Get(ctx, c, ticket, nil, ipc.WithAllocator(mem))
}
