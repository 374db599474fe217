package lsm

import "errors"

// Sentinel errors; package flight maps each to one gRPC status code.
var (
	ErrInvalidArgument = errors.New("invalid argument")
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	// ErrFenced: a newer writer claimed the region; this server may no longer
	// write it.
	ErrFenced = errors.New("region writer fenced by a newer writer")
	// ErrUnavailable: the object store failed; the request may be retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrResourceExhausted: backpressure or a size limit.
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrClosed: the table or database was closed or dropped.
	ErrClosed = errors.New("closed")
	// ErrDataLoss: a stored object that holds acknowledged state (a WAL
	// entry, a region manifest) fails its checksum or does not parse. The
	// error's message names the object.
	ErrDataLoss = errors.New("data loss")
)
