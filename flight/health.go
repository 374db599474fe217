package flight

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthPrefix is the gRPC health service's method prefix: its calls need
// no token and pass the limits even while draining.
const healthPrefix = "/grpc.health.v1.Health/"

func isHealth(fullMethod string) bool { return strings.HasPrefix(fullMethod, healthPrefix) }

// Health is the gRPC health service (grpc.health.v1.Health) on the Flight
// port (API.md, Operations): NOT_SERVING until Serving, SERVING then,
// NOT_SERVING again from Draining on.
type Health struct {
	hs       *health.Server
	drain    chan struct{}
	drainOne sync.Once
}

// NewHealth returns the health service, NOT_SERVING.
func NewHealth() *Health {
	h := &Health{hs: health.NewServer(), drain: make(chan struct{})}
	h.set(healthpb.HealthCheckResponse_NOT_SERVING)
	return h
}

// flightServiceName is the Flight service's name for per-service checks.
const flightServiceName = "arrow.flight.protocol.FlightService"

func (h *Health) set(s healthpb.HealthCheckResponse_ServingStatus) {
	h.hs.SetServingStatus("", s)
	h.hs.SetServingStatus(flightServiceName, s)
}

// Serving marks the server ready (the tables are open).
func (h *Health) Serving() { h.set(healthpb.HealthCheckResponse_SERVING) }

// Draining marks the server NOT_SERVING for good. Watch streams get the
// update and are ended shortly after, so they do not hold the drain open.
func (h *Health) Draining() {
	h.drainOne.Do(func() {
		h.hs.Shutdown() // NOT_SERVING, and later changes are ignored
		time.AfterFunc(200*time.Millisecond, func() { close(h.drain) })
	})
}

// ListenOption registers the health service on the Flight port.
func (h *Health) ListenOption() ListenOption {
	return func(c *listenConfig) {
		c.register = append(c.register, func(g *grpc.Server) { healthpb.RegisterHealthServer(g, h.hs) })
		c.stream = append(c.stream, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if !isHealth(info.FullMethod) {
				return handler(srv, ss)
			}
			ctx, cancel := context.WithCancel(ss.Context())
			defer cancel()
			go func() {
				select {
				case <-h.drain:
					cancel()
				case <-ctx.Done():
				}
			}()
			return handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
		})
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }
