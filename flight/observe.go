package flight

import (
	"context"
	"time"

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
	return func(c *listenConfig) {
		c.inspect = true
		WithInterceptors(nil, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			os := &ctxStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), observerKey{}, o)}
			if info.FullMethod != flightMethodPrefix+"DoGet" {
				return handler(srv, os)
			}
			start := time.Now()
			err := handler(srv, os)
			kind := "invalid"
			if ci := callInfoFrom(os.ctx); ci != nil && ci.kind != "" {
				kind = ci.kind
			}
			o.Read(kind, time.Since(start), err)
			return err
		})(c)
	}
}
