package flight

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/lsm"
)

// errInvalid marks request-decoding errors of this package.
var errInvalid = errors.New("invalid request")

// errResourceExhausted marks a call or message refused by a server-wide
// bound (limits.go); errShuttingDown a call refused while draining.
var (
	errResourceExhausted = errors.New("resource exhausted")
	errShuttingDown      = errors.New("unavailable")
	errPermissionDenied  = errors.New("permission denied") // auth.go
)

// toStatus is the one place errors become gRPC statuses (API.md, Errors).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, lsm.ErrDataLoss): // first: it outranks any retry hint
		code = codes.DataLoss
	case errors.Is(err, lsm.ErrUnsupported), errors.Is(err, lsm.ErrCorrupt): // a format question, never Internal
		code = codes.FailedPrecondition
	case errors.Is(err, errPermissionDenied):
		code = codes.PermissionDenied
	case errors.Is(err, errInvalid), errors.Is(err, lsm.ErrInvalidArgument):
		code = codes.InvalidArgument
	case errors.Is(err, lsm.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, lsm.ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, lsm.ErrFenced), errors.Is(err, lsm.ErrReadOnly), errors.Is(err, lsm.ErrFailedPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, lsm.ErrConflict):
		code = codes.Aborted
	case errors.Is(err, lsm.ErrUnavailable), errors.Is(err, lsm.ErrClosed), errors.Is(err, errShuttingDown):
		code = codes.Unavailable
	case errors.Is(err, lsm.ErrResourceExhausted), errors.Is(err, errResourceExhausted):
		code = codes.ResourceExhausted
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}
