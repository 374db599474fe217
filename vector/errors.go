package vector

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid is wrapped by every error about bad input: a vector of the
	// wrong dimension, NaN or ±Inf components, bad parameters.
	ErrInvalid = errors.New("vector: invalid argument")
	// ErrCorrupt is wrapped by every error about malformed serialized bytes
	// (a model or an index sidecar): bad magic, checksum, sizes or values.
	ErrCorrupt = errors.New("vector: corrupt data")
	// ErrModelMismatch is wrapped when an index sidecar was written with a
	// different model than the one it is being loaded into.
	ErrModelMismatch = errors.New("vector: index built with a different model")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("vector: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

func corruptf(what, format string, args ...any) error {
	return fmt.Errorf("vector: %s: %s: %w", what, fmt.Sprintf(format, args...), ErrCorrupt)
}

// errorf returns an error wrapping sentinel with a "vector: " message.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("vector: %s: %w", fmt.Sprintf(format, args...), sentinel)
}
