package flight

import (
	"context"
	"crypto/tls"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// ListenOption adds security, observability or extra services to Listen.
type ListenOption func(*listenConfig)

type listenConfig struct {
	auth     *Auth
	tls      *tls.Config
	unary    []grpc.UnaryServerInterceptor
	stream   []grpc.StreamServerInterceptor
	register []func(*grpc.Server)
	inspect  bool // reads its first request once for the request log and observer (callinfo.go)
}

// WithAuth checks every call's token with a (nil: the server is open).
func WithAuth(a *Auth) ListenOption {
	return func(c *listenConfig) { c.auth = a }
}

// WithTLS serves TLS (grpc+tls://) with cfg; cfg.ClientCAs with
// RequireAndVerifyClientCert makes it mTLS.
func WithTLS(cfg *tls.Config) ListenOption {
	return func(c *listenConfig) { c.tls = cfg }
}

// WithInterceptors adds interceptors outside every other (they see each
// call's final status, including refusals by auth and limits).
func WithInterceptors(u grpc.UnaryServerInterceptor, s grpc.StreamServerInterceptor) ListenOption {
	return func(c *listenConfig) {
		if u != nil {
			c.unary = append(c.unary, u)
		}
		if s != nil {
			c.stream = append(c.stream, s)
		}
	}
}

// WithService registers another gRPC service (the health service) on
// the Flight port before it starts serving.
func WithService(register func(*grpc.Server)) ListenOption {
	return func(c *listenConfig) { c.register = append(c.register, register) }
}

// serverOptions are the grpc.ServerOptions of c around svc's limits:
// outer interceptors, then limits (which settles each message's charge,
// so it must run for every call), then auth.
func (c *listenConfig) serverOptions(svc *Service) []grpc.ServerOption {
	var stream0 []grpc.StreamServerInterceptor
	if c.inspect {
		stream0 = append(stream0, inspectStream)
	}
	unary := append(append([]grpc.UnaryServerInterceptor{}, c.unary...), svc.lim.unaryInterceptor)
	stream := append(append(stream0, c.stream...), svc.lim.streamInterceptor)
	if c.auth != nil {
		unary = append(unary, c.auth.UnaryInterceptor)
		stream = append(stream, c.auth.StreamInterceptor)
	}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	if c.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.tls)))
	}
	return opts
}

// verifiedClientCert reports whether ctx's call came over TLS with a
// client certificate that verified.
func verifiedClientCert(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	return ok && len(ti.State.VerifiedChains) > 0
}
