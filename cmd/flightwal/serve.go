package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/flight"
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := objstore.Open(ctx, cfg.Storage.URI, objstore.S3Options{
		Endpoint: cfg.Storage.S3.Endpoint, AccessKey: cfg.Storage.S3.AccessKey,
		SecretKey: cfg.Storage.S3.SecretKey, Region: cfg.Storage.S3.Region,
		InsecureSkipVerify: cfg.Storage.S3.InsecureSkipVerify,
	})
	if err != nil {
		return fmt.Errorf("opening storage %s: %w", cfg.Storage.URI, err)
	}
	db, err := lsm.Open(ctx, store, lsm.Options{
		Logger:            log,
		WALFlushInterval:  cfg.WAL.FlushInterval,
		WALMaxBufferBytes: cfg.WAL.MaxBufferBytes,
		MemTableMaxBytes:  cfg.MemTable.MaxBytes,
		MemTableMaxRows:   cfg.MemTable.MaxRows,
		MaxUnflushedBytes: cfg.Backpressure.MaxUnflushedBytes,
	})
	if err != nil {
		return err
	}
	svc := flight.NewService(db, flight.Options{Logger: log, MaxMessageBytes: cfg.Flight.MaxMessageBytes})
	srv, err := flight.Listen(cfg.Listen, svc)
	if err != nil {
		return err
	}
	// Tests and scripts read this line to find the port when listen is :0.
	fmt.Printf("flightwal listening on %s (storage %s)\n", srv.Addr(), store)
	log.Info("serving", "addr", srv.Addr().String(), "storage", store.String())
	<-ctx.Done()
	log.Info("shutting down")
	srv.Shutdown()
	return db.Close()
}
