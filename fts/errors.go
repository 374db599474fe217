package fts

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidQuery is wrapped by every error about a query string that
	// cannot be searched: empty, no tokens left after analysis, an
	// unterminated phrase, too many terms, an unknown operator.
	ErrInvalidQuery = errors.New("fts: invalid query")
	// ErrInvalid is wrapped by every error about other bad input, such as a
	// position passed to Add that is not above the positions already added.
	ErrInvalid = errors.New("fts: invalid argument")
	// ErrCorrupt is wrapped by every error about malformed serialized bytes
	// (an index sidecar): bad magic, version, checksum, sizes or values.
	ErrCorrupt = errors.New("fts: corrupt index data")
)

func queryErrorf(format string, args ...any) error {
	return fmt.Errorf("fts: %s: %w", fmt.Sprintf(format, args...), ErrInvalidQuery)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("fts: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("fts: index sidecar: %s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
}
