package wal

import "fmt"

// CorruptionError is an entry that replay cannot apply: it fails its
// checksum, does not parse, does not match the table, fails validation,
// says another position than its name, or a position is missing between
// two entries (Key then names the first entry after the gap). The owner
// decides what it means; flightwal refuses the table (DataLoss) until an
// operator moves the entry away.
type CorruptionError struct {
	Region string // the region's directory
	Pos    uint64 // the entry's position
	Key    string // the object
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("WAL entry %s (region %s, position %d) is corrupt: %v", e.Key, e.Region, e.Pos, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }
