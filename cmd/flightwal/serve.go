package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/metrics"
	"github.com/flightwal/flightwal/internal/serverconf"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

func runServe(args []string) error {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(fs)
	if err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "json" {
		handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)

	ctx := drainOnSignal(log)
	setMemoryLimit(log, cfg)
	sec, err := serverconf.NewSecurity(cfg, log)
	if err != nil {
		return err
	}
	store, err := objstore.Open(ctx, cfg.Storage.URI, objstore.S3Options{
		Endpoint: cfg.Storage.S3.Endpoint, AccessKey: cfg.Storage.S3.AccessKey,
		SecretKey: cfg.Storage.S3.SecretKey, Region: cfg.Storage.S3.Region,
		InsecureSkipVerify: cfg.Storage.S3.InsecureSkipVerify,
	})
	if err != nil {
		return fmt.Errorf("opening storage %s: %w", cfg.Storage.URI, err)
	}
	db, err := lsm.Open(ctx, store, serverconf.LSM(cfg, log))
	if err != nil {
		return err
	}
	svc := flight.NewService(db, serverconf.Flight(cfg, log))
	met := metrics.New(db)
	health := flight.NewHealth()
	lopts := append([]flight.ListenOption{flight.WithRequestLog(log)}, sec.ListenOptions()...)
	lopts = append(lopts, met.ListenOptions()...)
	srv, err := flight.Listen(cfg.Listen, svc, append(lopts, health.ListenOption())...)
	if err != nil {
		db.Close()
		return err
	}
	var msrv *metrics.Server
	if cfg.MetricsListen != config.MetricsOff {
		msrv, err = metrics.Listen(cfg.MetricsListen, met, func(ctx context.Context) error {
			_, err := db.ListTables(ctx) // the object store answers
			return err
		}, log)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			db.Close()
			return err
		}
		defer msrv.Close()
		log.Info("metrics listening", "addr", msrv.Addr().String())
	}
	health.Serving()
	if msrv != nil {
		msrv.SetReady(true)
	}
	reloadOnSIGHUP(log, func() { _ = sec.Reload() })
	if cfg.Open() {
		log.Warn("no auth.tokens_file and no tls.client_ca_file: anyone who reaches the port may create, write and drop tables", "listen", cfg.Listen)
	}
	// Tests and scripts read this line to find the port when listen is :0.
	fmt.Printf("flightwal listening on %s (storage %s)\n", srv.Addr(), store)
	log.Info("serving", "addr", srv.Addr().String(), "storage", store.String())
	<-ctx.Done()
	// Drain (API.md, Operations): new calls get Unavailable, calls in
	// flight finish up to shutdown.timeout and are then cut, and closing
	// the DB writes the async writes still buffered, so that every
	// acknowledged write is durable before the process exits 0.
	log.Info("draining", "timeout", cfg.Shutdown.Timeout)
	health.Draining()
	if msrv != nil {
		msrv.SetReady(false)
	}
	dctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		log.Warn("calls still running after shutdown.timeout were cut", "timeout", cfg.Shutdown.Timeout)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("closing tables: %w", err)
	}
	log.Info("shut down")
	return nil
}

// drainOnSignal returns a context that ends at the first SIGTERM or
// SIGINT; a second one exits the process at once (durable data is safe
// by construction; async writes not yet written are lost).
func drainOnSignal(log *slog.Logger) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		log.Info("signal: draining; another signal exits at once", "signal", sig.String())
		cancel()
		sig = <-sigs
		log.Warn("second signal: exiting without draining", "signal", sig.String())
		os.Exit(1)
	}()
	return ctx
}

// reloadOnSIGHUP calls reload at each SIGHUP (tokens and certificates).
func reloadOnSIGHUP(log *slog.Logger, reload func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP)
	go func() {
		for range sigs {
			log.Info("signal: reloading", "signal", "SIGHUP")
			reload()
		}
	}()
}

// setMemoryLimit gives the Go runtime a soft memory limit, unless
// GOMEMLIMIT sets one: what the server's bounds let it hold, messages in
// flight twice (flight.max_inflight_bytes: a message's frames and its
// decoded copy) and the memtables (backpressure.max_unflushed_bytes). As
// the heap nears it the garbage collector runs sooner and returns freed
// memory to the OS, instead of letting the heap grow to twice the live
// data first; past it (flushes, reads and indexes need memory beside
// these) it only works harder, it does not fail.
func setMemoryLimit(log *slog.Logger, cfg config.Config) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := 2*cfg.Flight.MaxInflightBytes + cfg.Backpressure.MaxUnflushedBytes
	debug.SetMemoryLimit(limit)
	log.Debug("Go memory limit", "bytes", limit)
}
