package flight

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
)

// Observer is told what the service did, for metrics. Its methods must
// be cheap and must not block.
type Observer interface {
	// Ack: a PutResult was sent, d after its batch was read.
	Ack(durable bool, d time.Duration)
	// Read: a DoGet of kind (scan, pk, nearest, search) ended after d.
	Read(kind string, d time.Duration, err error)
}

type observerKey struct{}

func observerFrom(ctx context.Context) Observer {
	o, _ := ctx.Value(observerKey{}).(Observer)
	return o
}

// WithObserver reports acks and reads to o.
func WithObserver(o Observer) ListenOption {
	return WithInterceptors(nil, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		os := &observedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), observerKey{}, o)}
		if info.FullMethod != flightMethodPrefix+"DoGet" {
			return handler(srv, os)
		}
		start := time.Now()
		err := handler(srv, os)
		o.Read(os.kind, time.Since(start), err)
		return err
	})
}

type observedStream struct {
	grpc.ServerStream
	ctx  context.Context
	kind string
}

func (s *observedStream) Context() context.Context { return s.ctx }

func (s *observedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if t, ok := m.(*flight.Ticket); ok && err == nil {
		s.kind = ticketKind(t.GetTicket())
	}
	return err
}

// ticketKind names a DoGet ticket's read kind; "invalid" when it does not parse.
func ticketKind(raw []byte) string {
	tk, err := parseTicket(raw)
	switch {
	case err != nil:
		return "invalid"
	case tk.Nearest != nil:
		return "nearest"
	case tk.Search != nil:
		return "search"
	case len(tk.PK) > 0:
		return "pk"
	}
	return "scan"
}
