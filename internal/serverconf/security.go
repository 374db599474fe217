package serverconf

import (
	"log/slog"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/flight"
)

// Security is the Flight listener's auth and TLS from cfg's auth.* and
// tls.* keys, with Reload to re-read them (SIGHUP).
type Security struct {
	cfg  config.Config
	log  *slog.Logger
	auth *flight.Auth
}

// NewSecurity reads the tokens file and certificates cfg names.
func NewSecurity(cfg config.Config, log *slog.Logger) (*Security, error) {
	s := &Security{cfg: cfg, log: log}
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
	return opts
}

// Reload re-reads the tokens file; one that fails keeps the previous
// tokens and is logged (the error is returned too).
func (s *Security) Reload() error {
	if s.auth == nil {
		return nil
	}
	if err := s.auth.Reload(); err != nil {
		s.log.Error("reload: keeping the previous tokens", "err", err)
		return err
	}
	s.log.Info("reload: tokens re-read", "file", s.cfg.Auth.TokensFile, "tokens", s.auth.Len())
	return nil
}
