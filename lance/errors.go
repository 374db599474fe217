package lance

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by every error about a malformed or truncated
	// manifest, data file or deletion file; the message names the file.
	ErrCorrupt = errors.New("lance: corrupt file")
	// ErrConflict is wrapped by Commit when the version it tried to write
	// already exists: re-open the dataset and retry.
	ErrConflict = errors.New("lance: commit conflict")
	// ErrUnsupported is wrapped when a dataset uses a feature, type or
	// encoding this package does not implement.
	ErrUnsupported = errors.New("lance: unsupported")
)

// corruptf returns an error naming key that wraps ErrCorrupt.
func corruptf(key, format string, args ...any) error {
	return fmt.Errorf("lance: %s: %s: %w", key, fmt.Sprintf(format, args...), ErrCorrupt)
}

// unsupportedf returns an error that wraps ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("lance: %s: %w", fmt.Sprintf(format, args...), ErrUnsupported)
}
