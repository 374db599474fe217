package flight

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
)

// callInfo is what a streaming call's first request names, read once for
// the request log (table) and the observer (the read kind).
type callInfo struct {
	table string
	kind  string // DoGet: scan, pk, nearest, search, invalid
	// DoGet: the ticket parsed once, for DoGet itself too (ticketOf).
	ticket    *Ticket
	ticketErr error
	parsed    bool
}

// ticketOf parses t, or returns what inspectStream parsed of it.
func ticketOf(ctx context.Context, t *flight.Ticket) (*Ticket, error) {
	if ci := callInfoFrom(ctx); ci != nil && ci.parsed {
		return ci.ticket, ci.ticketErr
	}
	return parseTicket(t.GetTicket())
}

type callInfoKey struct{}

func callInfoFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return ci
}

// inspectStream runs outside every other interceptor: inner ones see the
// callInfo in their context, and it is filled when the handler receives
// its first request.
func inspectStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ci := &callInfo{}
	return handler(srv, &inspectedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), callInfoKey{}, ci), ci: ci})
}

type inspectedStream struct {
	grpc.ServerStream
	ctx  context.Context
	ci   *callInfo
	seen bool
}

func (s *inspectedStream) Context() context.Context { return s.ctx }

func (s *inspectedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err != nil || s.seen {
		return err
	}
	s.seen = true
	if t, ok := m.(*flight.Ticket); ok {
		tk, perr := parseTicket(t.GetTicket())
		s.ci.ticket, s.ci.ticketErr, s.ci.parsed = tk, perr, true
		switch {
		case perr != nil:
			s.ci.kind = "invalid"
		case tk.Nearest != nil:
			s.ci.table, s.ci.kind = tk.Table, "nearest"
		case tk.Search != nil:
			s.ci.table, s.ci.kind = tk.Table, "search"
		case len(tk.PK) > 0:
			s.ci.table, s.ci.kind = tk.Table, "pk"
		default:
			s.ci.table, s.ci.kind = tk.Table, "scan"
		}
		return nil
	}
	s.ci.table = requestTable(m)
	return nil
}
