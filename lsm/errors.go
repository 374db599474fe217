package lsm

import (
	"errors"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lsm/wal"
)

// Sentinel errors; package flight maps each to one gRPC status code.
var (
	ErrInvalidArgument = errors.New("invalid argument")
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	// ErrFenced: a newer writer claimed the region; this server may no longer
	// write it.
	ErrFenced = wal.ErrFenced
	// ErrUnavailable: the object store failed; the request may be retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrResourceExhausted: backpressure or a size limit.
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrClosed: the table or database was closed or dropped.
	ErrClosed = errors.New("closed")
	// ErrDataLoss: a stored object that holds acknowledged state (a WAL
	// entry, a region manifest) fails its checksum, does not parse or
	// does not validate. The error's message names the object.
	ErrDataLoss = errors.New("data loss")
	// ErrConflict: another Lance writer's commit conflicts with this
	// one's, even after rebasing and retrying (the message names both).
	ErrConflict = errors.New("commit conflict")
	// ErrFailedPrecondition: the table is in a state this server cannot
	// serve (a MemWAL index of an unknown version, a sharding spec it does
	// not implement); the message names it.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrReadOnly: the storage refuses writes; reads still work.
	ErrReadOnly = errors.New("storage is read-only")

	// ErrUnsupported: a Lance dataset uses a file format, encoding or type
	// this server does not read or write; the message names the file and
	// what is unsupported. A format question, never an internal error.
	ErrUnsupported = lance.ErrUnsupported
	// ErrCorrupt: a Lance file of the table (not acknowledged state: see
	// ErrDataLoss) is malformed or truncated; the message names it.
	ErrCorrupt = lance.ErrCorrupt
)

// errNotClaimed: a write reached a region opened for reading only;
// Table.region claims regions before writing, so it never leaves lsm.
var errNotClaimed = errors.New("region not claimed")
