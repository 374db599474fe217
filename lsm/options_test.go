package lsm

import "github.com/flightwal/flightwal/config"

// testOptions is o over config.Default's values. (lsm's tests cannot use
// internal/serverconf, which imports lsm; the mapping is its LSM.)
func testOptions(o Options) Options {
	c := config.Default()
	return o.Or(Options{
		WALFlushInterval:        c.WAL.FlushInterval,
		WALMaxBufferBytes:       c.WAL.MaxBufferBytes,
		MemTableMaxBytes:        c.MemTable.MaxBytes,
		MemTableMaxRows:         c.MemTable.MaxRows,
		MaxUnflushedBytes:       c.Backpressure.MaxUnflushedBytes,
		CompactAfterGenerations: c.Compaction.AfterGenerations,
		LanceRefreshInterval:    c.Lance.RefreshInterval,
	})
}
