package flight

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

type requestIDKey struct{}

// RequestID is the id WithRequestLog gave ctx's call, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestLog logs one line per call when it ends (never one per
// batch): request id, peer, method, table, principal, duration, gRPC
// code. Calls that succeed are logged at info, failures at warn; health
// checks at debug. Tokens are never logged.
func WithRequestLog(log *slog.Logger) ListenOption {
	var prefix [4]byte
	_, _ = rand.Read(prefix[:])
	p := hex.EncodeToString(prefix[:])
	var seq atomic.Uint64
	newID := func() string { return p + "-" + strconv.FormatUint(seq.Add(1), 16) }
	emit := func(ctx context.Context, id, method, table string, start time.Time, err error) {
		level := slog.LevelInfo
		switch {
		case isHealth(method):
			level = slog.LevelDebug
		case err != nil:
			level = slog.LevelWarn
		}
		if !log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("request_id", id), slog.String("method", methodName(method))}
		if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
			attrs = append(attrs, slog.String("peer", pr.Addr.String()))
		}
		if table != "" {
			attrs = append(attrs, slog.String("table", table))
		}
		if pp, ok := PrincipalFrom(ctx); ok {
			attrs = append(attrs, slog.String("principal", pp.Name))
		}
		attrs = append(attrs, slog.Duration("duration", time.Since(start)), slog.String("code", status.Code(err).String()))
		if err != nil {
			attrs = append(attrs, slog.String("err", status.Convert(err).Message()))
		}
		log.LogAttrs(ctx, level, "request", attrs...)
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start, id := time.Now(), newID()
		ctx = context.WithValue(ctx, requestIDKey{}, id)
		lc := &logCtx{ctx: ctx}
		ctx = context.WithValue(ctx, logCtxKey{}, lc)
		resp, err := handler(ctx, req)
		emit(lc.final(), id, info.FullMethod, requestTable(req), start, err)
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start, id := time.Now(), newID()
		lc := &logCtx{}
		ctx := context.WithValue(context.WithValue(ss.Context(), requestIDKey{}, id), logCtxKey{}, lc)
		lc.ctx = ctx
		err := handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
		table := ""
		if ci := callInfoFrom(ctx); ci != nil {
			table = ci.table
		}
		emit(lc.final(), id, info.FullMethod, table, start, err)
		return err
	}
	return func(c *listenConfig) {
		c.inspect = true
		WithInterceptors(unary, stream)(c)
	}
}

// logCtx lets inner interceptors (auth) hand the request log their
// context, which carries the principal.
type logCtxKey struct{}

type logCtx struct {
	ctx   context.Context
	inner atomic.Pointer[context.Context]
}

func (l *logCtx) final() context.Context {
	if c := l.inner.Load(); c != nil {
		return *c
	}
	return l.ctx
}

// noteContext records ctx (with the principal) for the request log.
func noteContext(ctx context.Context) {
	if l, ok := ctx.Value(logCtxKey{}).(*logCtx); ok {
		l.inner.Store(&ctx)
	}
}

// requestTable is the table a request names, if it names one.
func requestTable(m any) string {
	switch r := m.(type) {
	case *flight.FlightDescriptor:
		return descriptorTable(r)
	case *flight.FlightData:
		return descriptorTable(r.GetFlightDescriptor())
	case *flight.Ticket:
		if tk, err := parseTicket(r.GetTicket()); err == nil {
			return tk.Table
		}
	case *flight.Action:
		var body struct {
			Table string `json:"table"`
			Name  string `json:"name"`
		}
		if json.Unmarshal(r.GetBody(), &body) == nil {
			if body.Table != "" {
				return body.Table
			}
			return body.Name
		}
	}
	return ""
}

func descriptorTable(d *flight.FlightDescriptor) string {
	if d == nil {
		return ""
	}
	if d.Type == flight.DescriptorPATH && len(d.Path) == 1 {
		return d.Path[0]
	}
	var cmd struct {
		Table string `json:"table"`
	}
	if d.Type == flight.DescriptorCMD && json.Unmarshal(d.Cmd, &cmd) == nil {
		return cmd.Table
	}
	return ""
}
