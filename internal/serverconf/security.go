package serverconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/flight"
)

// Security is the Flight listener's auth and TLS from cfg's auth.* and
// tls.* keys, with Reload to re-read them (SIGHUP).
type Security struct {
	cfg  config.Config
	log  *slog.Logger
	auth *flight.Auth
	tls  atomic.Pointer[tlsFiles] // nil: no TLS
}

// tlsFiles is what tls.* names, as last read.
type tlsFiles struct {
	cert *tls.Certificate
	cas  *x509.CertPool // nil: no client certificates asked for
}

func readTLS(c config.TLS) (*tlsFiles, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file/tls.key_file: %w", err)
	}
	f := &tlsFiles{cert: &cert}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		f.cas = x509.NewCertPool()
		if !f.cas.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.client_ca_file %s: no PEM certificate in it", c.ClientCAFile)
		}
	}
	return f, nil
}

// tlsConfig serves the certificates last read, so a reload takes effect
// at the next handshake; connections already open keep theirs.
func (s *Security) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			f := s.tls.Load()
			c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*f.cert}, NextProtos: []string{"h2"}}
			if f.cas != nil {
				c.ClientCAs, c.ClientAuth = f.cas, tls.RequireAndVerifyClientCert
			}
			return c, nil
		},
	}
}

// NewSecurity reads the tokens file and certificates cfg names.
func NewSecurity(cfg config.Config, log *slog.Logger) (*Security, error) {
	s := &Security{cfg: cfg, log: log}
	if cfg.TLS.CertFile != "" {
		f, err := readTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		s.tls.Store(f)
	}
	switch {
	case cfg.Auth.TokensFile != "":
		a, err := flight.NewAuth(cfg.Auth.TokensFile)
		if err != nil {
			return nil, err
		}
		s.auth = a
	case cfg.TLS.ClientCAFile != "":
		s.auth = flight.NewCertAuth()
	}
	return s, nil
}

// ListenOptions are flight.Listen's options for auth and TLS.
func (s *Security) ListenOptions() []flight.ListenOption {
	var opts []flight.ListenOption
	if s.auth != nil {
		opts = append(opts, flight.WithAuth(s.auth))
	}
	if s.tls.Load() != nil {
		opts = append(opts, flight.WithTLS(s.tlsConfig()))
	}
	return opts
}

// Reload re-reads the tokens file and the certificates; what fails to
// read keeps its previous value and is logged (the errors are returned).
func (s *Security) Reload() error {
	var errs []error
	if s.auth != nil {
		if err := s.auth.Reload(); err != nil {
			s.log.Error("reload: keeping the previous tokens", "err", err)
			errs = append(errs, err)
		} else if s.cfg.Auth.TokensFile != "" {
			s.log.Info("reload: tokens re-read", "file", s.cfg.Auth.TokensFile, "tokens", s.auth.Len())
		}
	}
	if s.tls.Load() != nil {
		f, err := readTLS(s.cfg.TLS)
		if err != nil {
			s.log.Error("reload: keeping the previous certificates", "err", err)
			errs = append(errs, err)
		} else {
			s.tls.Store(f)
			s.log.Info("reload: certificates re-read", "cert", s.cfg.TLS.CertFile)
		}
	}
	return errors.Join(errs...)
}
