package lsm

import (
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

// Options tunes a DB. Zero fields take the defaults of ARCHITECTURE.md.
type Options struct {
	Allocator         memory.Allocator
	Logger            *slog.Logger
	WALFlushInterval  time.Duration // group-commit window for async writes
	WALMaxBufferBytes int64         // write the WAL buffer once this much is pending
	MemTableMaxBytes  int64         // freeze the active memtable at this size
	MemTableMaxRows   int64         // or at this many rows
	MaxUnflushedBytes int64         // writes wait while active + frozen exceed this
	// CompactAfterGenerations starts a background compaction once a region
	// holds this many flushed generations; 0 takes the default (8), a
	// negative value turns automatic compaction off.
	CompactAfterGenerations int
	Retry                   objstore.RetryPolicy
}

// DefaultWALMaxBufferBytes is the default WALMaxBufferBytes (the
// wal.max_buffer_bytes of ARCHITECTURE.md): about the size of one WAL entry.
const DefaultWALMaxBufferBytes = 10 << 20

func (o Options) withDefaults() Options {
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WALFlushInterval <= 0 {
		o.WALFlushInterval = 100 * time.Millisecond
	}
	if o.WALMaxBufferBytes <= 0 {
		o.WALMaxBufferBytes = DefaultWALMaxBufferBytes
	}
	if o.MemTableMaxBytes <= 0 {
		o.MemTableMaxBytes = 256 << 20
	}
	if o.MemTableMaxRows <= 0 {
		o.MemTableMaxRows = 1_000_000
	}
	if o.CompactAfterGenerations == 0 {
		o.CompactAfterGenerations = 8
	}
	if o.MaxUnflushedBytes <= 0 {
		o.MaxUnflushedBytes = 1 << 30
	}
	if o.Retry.Attempts <= 0 {
		o.Retry.Attempts = 6
	}
	if o.Retry.Base <= 0 {
		o.Retry.Base = 20 * time.Millisecond
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = 2 * time.Second
	}
	return o
}
