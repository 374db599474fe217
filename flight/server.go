// Package flight owns flightwal's Arrow Flight service: descriptors,
// tickets, actions, PutResult metadata and the mapping of errors to gRPC
// status codes (API.md is the contract). It translates wire requests into
// calls on package lsm and knows nothing of files or memtables.
package flight

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/lsm"
)

// maxOutgoingMessage keeps each sent message under gRPC's default 4 MiB
// receive limit, so clients with default options read every result.
const maxOutgoingMessage = 3 << 20

// Options configures the service.
type Options struct {
	Allocator       memory.Allocator
	Logger          *slog.Logger
	MaxMessageBytes int64 // largest incoming message
	// MaxInflightBytes bounds the bytes of incoming messages being
	// received and decoded across all calls (limits.go); 0 is
	// config.AutoInflightBytes, and it is never below MaxMessageBytes.
	MaxInflightBytes int64
	MaxStreams       int64         // calls running at once; 0 is config.Default's
	LimitWait        time.Duration // how long a message or call waits for room; 0 is DefaultLimitWait
	SQLMemoryLimit   int64         // the SQL engine's memory in bytes (sql.memory_limit); 0 is config.Default's
}

// Service implements the Flight RPCs over an lsm.DB.
type Service struct {
	flight.BaseFlightServer
	db   *lsm.DB
	mem  memory.Allocator
	log  *slog.Logger
	opts Options
	lim  *limits
	sql  *sqlService // Flight SQL (sql.go)
}

// NewService returns the Flight service for db.
func NewService(db *lsm.DB, opts Options) *Service {
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// Unset limits take config.Default's (the one place defaults are
	// written).
	d := config.Default().Flight
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = d.MaxMessageBytes
	}
	if opts.MaxInflightBytes <= 0 {
		opts.MaxInflightBytes = config.AutoInflightBytes(opts.MaxMessageBytes)
	}
	opts.MaxInflightBytes = max(opts.MaxInflightBytes, opts.MaxMessageBytes)
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = d.MaxStreams
	}
	if opts.LimitWait <= 0 {
		opts.LimitWait = DefaultLimitWait
	}
	if opts.SQLMemoryLimit <= 0 {
		opts.SQLMemoryLimit = config.Default().SQL.MemoryLimit
	}
	lim := newLimits(opts.MaxInflightBytes, opts.MaxMessageBytes, opts.MaxStreams, opts.LimitWait)
	svc := &Service{db: db, mem: opts.Allocator, log: opts.Logger, opts: opts, lim: lim}
	svc.sql = newSQLService(svc)
	return svc
}

// Server is a running Flight server.
type Server struct {
	grpc *grpc.Server
	lis  net.Listener
	svc  *Service
}

// Listen starts serving svc on addr ("127.0.0.1:0" picks a port); opts
// add auth, TLS, interceptors and services (listen.go).
func Listen(addr string, svc *Service, opts ...ListenOption) (*Server, error) {
	var lc listenConfig
	for _, o := range opts {
		o(&lc)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	g := grpc.NewServer(append(lc.serverOptions(svc),
		grpc.MaxRecvMsgSize(int(svc.opts.MaxMessageBytes)),
		grpc.ForceServerCodecV2(newBudgetCodec(svc.lim)),
		// Stop (Shutdown past its deadline) returns only once every
		// handler has, so nothing writes to the DB after it is closed.
		grpc.WaitForHandlers(true),
	)...)
	flight.RegisterFlightServiceServer(g, svc)
	for _, r := range lc.register {
		r(g)
	}
	s := &Server{grpc: g, lis: lis, svc: svc}
	go func() {
		if err := g.Serve(lis); err != nil {
			svc.log.Error("flight server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// InflightBytes is how many bytes the flight.max_inflight_bytes budget
// has given out now: charged for received messages, or reserved for
// messages about to be received.
func (s *Server) InflightBytes() int64 { return s.svc.lim.inflight.Load() }

// idle returns once no call is in flight, or ctx's error.
func (s *Service) idle(ctx context.Context) error {
	// Every call in flight holds a call slot and no new call keeps one
	// while draining: holding them all means no call is left.
	if err := s.lim.streams.Acquire(ctx, s.lim.maxStreams); err != nil {
		return err
	}
	s.lim.streams.Release(s.lim.maxStreams)
	return nil
}

// Shutdown drains the server (API.md, Operations): new calls get
// Unavailable at once, calls in flight may finish until ctx ends and are
// then cut (their clients see Unavailable). The listener keeps accepting
// meanwhile, so health checks on new connections are still answered
// (NOT_SERVING once the owner said Health.Draining). It returns once
// every handler has returned: nil if all finished, ctx's error if some
// were cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.svc.lim.draining.Store(true)
	defer s.svc.sql.close() // after every handler returned
	if err := s.svc.idle(ctx); err != nil {
		s.grpc.Stop()
		return err
	}
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop() // what is left: health checks
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.grpc.Stop()
		<-done
		return ctx.Err()
	}
}

func (s *Service) table(ctx context.Context, name string) (*lsm.Table, error) {
	return s.db.Table(ctx, name)
}

// GetFlightInfo describes a table (PATH) or a query (CMD ticket JSON).
func (s *Service) GetFlightInfo(ctx context.Context, d *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if isFlightSQL(d.GetCmd()) {
		info, err := s.sql.wire.GetFlightInfo(ctx, d)
		return info, sqlStatus(err)
	}
	info, err := s.flightInfo(ctx, d)
	return info, toStatus(err)
}

func (s *Service) flightInfo(ctx context.Context, d *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	tk, err := s.descriptorTicket(d)
	if err != nil {
		return nil, err
	}
	t, err := s.table(ctx, tk.Table)
	if err != nil {
		return nil, err
	}
	plan, err := t.Prepare(tk.query())
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(tk)
	if err != nil {
		return nil, err
	}
	info := &flight.FlightInfo{
		Schema:           flight.SerializeSchema(plan.Schema(), s.mem),
		FlightDescriptor: d,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: raw}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
	if d.Type == flight.DescriptorPATH {
		n, err := s.count(ctx, t)
		if err != nil {
			return nil, err
		}
		info.TotalRecords = n
	}
	return info, nil
}

// descriptorTicket turns a PATH or CMD descriptor into a ticket.
func (s *Service) descriptorTicket(d *flight.FlightDescriptor) (*Ticket, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: missing flight descriptor", errInvalid)
	}
	switch d.Type {
	case flight.DescriptorPATH:
		if len(d.Path) != 1 {
			return nil, fmt.Errorf("%w: PATH descriptor must be [\"<table>\"], got %d elements", errInvalid, len(d.Path))
		}
		if err := lsm.CheckTableName(d.Path[0]); err != nil {
			return nil, err
		}
		return &Ticket{Table: d.Path[0]}, nil
	case flight.DescriptorCMD:
		return parseTicket(d.Cmd)
	}
	return nil, fmt.Errorf("%w: unknown descriptor type %v", errInvalid, d.Type)
}

// count is the number of live rows in a snapshot.
func (s *Service) count(ctx context.Context, t *lsm.Table) (int64, error) {
	cols := []string{t.Schema().Field(0).Name}
	if pk := t.PrimaryKey(); pk != "" {
		cols = []string{pk}
	}
	plan, err := t.Prepare(lsm.Query{Columns: cols})
	if err != nil {
		return 0, err
	}
	snap := t.Snapshot()
	defer snap.Release()
	var n int64
	err = snap.Run(ctx, s.mem, plan, func(rec arrow.RecordBatch) error {
		n += rec.NumRows()
		return nil
	})
	return n, err
}

// GetSchema returns the schema of a table or a query's result.
func (s *Service) GetSchema(ctx context.Context, d *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	if isFlightSQL(d.GetCmd()) {
		res, err := s.sql.wire.GetSchema(ctx, d)
		return res, sqlStatus(err)
	}
	tk, err := s.descriptorTicket(d)
	if err != nil {
		return nil, toStatus(err)
	}
	t, err := s.table(ctx, tk.Table)
	if err != nil {
		return nil, toStatus(err)
	}
	plan, err := t.Prepare(tk.query())
	if err != nil {
		return nil, toStatus(err)
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(plan.Schema(), s.mem)}, nil
}

// ListFlights returns one FlightInfo per table.
func (s *Service) ListFlights(_ *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	ctx := stream.Context()
	names, err := s.db.ListTables(ctx)
	if err != nil {
		return toStatus(err)
	}
	for _, n := range names {
		info, err := s.flightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{n}})
		if err != nil {
			s.log.Warn("ListFlights: skipping table", "table", n, "err", err)
			continue
		}
		if err := stream.Send(info); err != nil {
			return err
		}
	}
	return nil
}
