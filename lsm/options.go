package lsm

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

// Options tunes a DB.
//
// The fields that config keys set have no default here: package config is
// the one place those defaults are written (config.Default), package
// internal/serverconf maps a Config onto Options, and Open refuses Options
// that leave one of them unset. Allocator and Logger default to arrow's
// default allocator and slog's default logger, and Retry's zero fields to
// objstore's defaults.
type Options struct {
	Allocator         memory.Allocator
	Logger            *slog.Logger
	WALFlushInterval  time.Duration // wal.flush_interval: group-commit window for async writes
	WALMaxBufferBytes int64         // wal.max_buffer_bytes: write the WAL buffer once this much is pending
	MemTableMaxBytes  int64         // memtable.max_bytes: freeze the active memtable at this size
	MemTableMaxRows   int64         // memtable.max_rows: or at this many rows
	MaxUnflushedBytes int64         // backpressure.max_unflushed_bytes: writes wait while active + frozen exceed this
	// CompactAfterGenerations (compaction.after_generations) starts a
	// background compaction once a region holds this many flushed
	// generations; 0 or less: never.
	CompactAfterGenerations int
	// LanceRefreshInterval (lance.refresh_interval) is how often the base
	// table's latest version is re-read, so other Lance writers' commits
	// become visible.
	LanceRefreshInterval time.Duration
	Retry                objstore.RetryPolicy

	// metrics is the DB's live counters (metrics.go); Open sets it.
	metrics *dbMetrics
}

// Or is o with its zero fields taken from d: tests and tools start from
// the options of a Config and set the few they change.
func (o Options) Or(d Options) Options {
	if o.Allocator == nil {
		o.Allocator = d.Allocator
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.WALFlushInterval == 0 {
		o.WALFlushInterval = d.WALFlushInterval
	}
	if o.WALMaxBufferBytes == 0 {
		o.WALMaxBufferBytes = d.WALMaxBufferBytes
	}
	if o.MemTableMaxBytes == 0 {
		o.MemTableMaxBytes = d.MemTableMaxBytes
	}
	if o.MemTableMaxRows == 0 {
		o.MemTableMaxRows = d.MemTableMaxRows
	}
	if o.MaxUnflushedBytes == 0 {
		o.MaxUnflushedBytes = d.MaxUnflushedBytes
	}
	if o.CompactAfterGenerations == 0 {
		o.CompactAfterGenerations = d.CompactAfterGenerations
	}
	if o.LanceRefreshInterval == 0 {
		o.LanceRefreshInterval = d.LanceRefreshInterval
	}
	if o.Retry == (objstore.RetryPolicy{}) {
		o.Retry = d.Retry
	}
	return o
}

// prepare checks that every config-set field is set and fills the others.
func (o Options) prepare() (Options, error) {
	var unset []string
	for _, f := range []struct {
		ok  bool
		key string
	}{
		{o.WALFlushInterval > 0, "wal.flush_interval"},
		{o.WALMaxBufferBytes > 0, "wal.max_buffer_bytes"},
		{o.MemTableMaxBytes > 0, "memtable.max_bytes"},
		{o.MemTableMaxRows > 0, "memtable.max_rows"},
		{o.MaxUnflushedBytes > 0, "backpressure.max_unflushed_bytes"},
		{o.LanceRefreshInterval > 0, "lance.refresh_interval"},
	} {
		if !f.ok {
			unset = append(unset, f.key)
		}
	}
	if len(unset) > 0 {
		return o, fmt.Errorf("%w: lsm options leave %s unset (take them from config.Default through internal/serverconf)", ErrInvalidArgument, strings.Join(unset, ", "))
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Retry = o.Retry.OrDefaults()
	return o, nil
}
