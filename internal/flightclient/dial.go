package flightclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DialOptions are a client's credentials.
type DialOptions struct {
	// Token is sent as "authorization: Bearer <token>" on every call.
	Token string
	// CAFile (PEM) verifies the server's certificate; it turns on TLS.
	// Without it a grpc+tls:// address uses the system's roots.
	CAFile string
	// CertFile and KeyFile (PEM) are a client certificate (mTLS).
	CertFile, KeyFile string
}

// DialWith opens a Flight client to addr: "host:port" or
// "grpc://host:port" (plaintext unless o.CAFile is set), or
// "grpc+tls://host:port".
func DialWith(addr string, o DialOptions) (flight.Client, error) {
	useTLS := o.CAFile != "" || o.CertFile != ""
	switch {
	case strings.HasPrefix(addr, "grpc+tls://"):
		addr, useTLS = strings.TrimPrefix(addr, "grpc+tls://"), true
	case strings.HasPrefix(addr, "grpc+tcp://"):
		addr = strings.TrimPrefix(addr, "grpc+tcp://")
	case strings.HasPrefix(addr, "grpc://"):
		addr = strings.TrimPrefix(addr, "grpc://")
	}
	creds := insecure.NewCredentials()
	if useTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", o.CAFile)
			}
		}
		if o.CertFile != "" {
			pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	}
	if o.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(o.Token)))
	}
	return flight.NewClientWithMiddleware(addr, nil, nil, opts...)
}

// bearerToken sends a token on every call; it is allowed without TLS
// (loopback and test setups), which is the user's choice.
type bearerToken string

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }
