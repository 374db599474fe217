// Package serverconf maps a config.Config onto the options of the
// packages it configures: the one place a config key reaches the code
// that uses it. Its defaults are config.Default's; lsm and flight write
// none of their own.
package serverconf

import (
	"log/slog"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/lsm"
)

// LSM is the lsm options of cfg.
func LSM(cfg config.Config, log *slog.Logger) lsm.Options {
	return lsm.Options{
		Logger:                  log,
		WALFlushInterval:        cfg.WAL.FlushInterval,
		WALMaxBufferBytes:       cfg.WAL.MaxBufferBytes,
		MemTableMaxBytes:        cfg.MemTable.MaxBytes,
		MemTableMaxRows:         cfg.MemTable.MaxRows,
		MaxUnflushedBytes:       cfg.Backpressure.MaxUnflushedBytes,
		CompactAfterGenerations: cfg.Compaction.AfterGenerations,
		LanceRefreshInterval:    cfg.Lance.RefreshInterval,
	}
}

// Flight is the Flight service options of cfg.
func Flight(cfg config.Config, log *slog.Logger) flight.Options {
	return flight.Options{
		Logger:           log,
		MaxMessageBytes:  cfg.Flight.MaxMessageBytes,
		MaxInflightBytes: cfg.Flight.MaxInflightBytes,
		MaxStreams:       cfg.Flight.MaxStreams,
		SQLMemoryLimit:   cfg.SQL.MemoryLimit,
	}
}

// DefaultLSM is the lsm options of config.Default with o's non-zero
// fields over them: what tests and tools that change a few settings use.
func DefaultLSM(o lsm.Options) lsm.Options {
	return o.Or(LSM(config.Default(), nil))
}
