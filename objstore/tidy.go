package objstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Tidier is implemented by stores that keep more than objects: Local has
// directories, and the temporary files its writes go through, which a
// killed process leaves behind. S3 and Mem keep neither; callers use
// RemoveEmptyDirs and RemoveTemp, which do nothing for such stores.
type Tidier interface {
	// RemoveEmptyDirs removes the directories under prefix that hold
	// nothing, deepest first (the directory prefix names too, never the
	// store's root). A directory that is not empty is kept.
	RemoveEmptyDirs(ctx context.Context, prefix string) error
	// RemoveTemp removes the temporary files under prefix last written
	// more than olderThan ago and returns how many it removed. A write
	// under way in another process keeps its file younger than any sane
	// olderThan: its temporary file lives for one Put, and is written
	// just before it is synced and linked into place.
	RemoveTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
}

// RemoveEmptyDirs removes the empty directories under prefix if s has
// directories (see Tidier).
func RemoveEmptyDirs(ctx context.Context, s Store, prefix string) error {
	if t, ok := s.(Tidier); ok {
		return t.RemoveEmptyDirs(ctx, prefix)
	}
	return nil
}

// RemoveTemp removes the temporary files under prefix older than
// olderThan if s has any (see Tidier).
func RemoveTemp(ctx context.Context, s Store, prefix string, olderThan time.Duration) (int, error) {
	if t, ok := s.(Tidier); ok {
		return t.RemoveTemp(ctx, prefix, olderThan)
	}
	return 0, nil
}

var (
	_ Tidier = (*Local)(nil)
	_ Tidier = (*prefixed)(nil)
	_ Tidier = (*Faulty)(nil)
)

const tempPrefix = ".tmp-"

// walkPrefix calls fn for every file or directory whose key (a
// directory's key ends in "/") starts with prefix, in lexical order,
// parents before their children. The root itself is never passed.
func (l *Local) walkPrefix(ctx context.Context, prefix string, fn func(p, key string, d fs.DirEntry) error) error {
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if err := checkKey(prefix[:i]); err != nil {
			return err
		}
		start = l.path(prefix[:i])
	}
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == l.root {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			key += "/"
		}
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		return fn(p, key, d)
	})
}

// RemoveEmptyDirs implements Tidier. It runs after deletes (drop_table),
// not in Delete: removing a parent on every Delete would race with a
// PutIfAbsent into the same directory (writeTemp tolerates a directory
// that disappears under it, but there is no need to make it the rule).
func (l *Local) RemoveEmptyDirs(ctx context.Context, prefix string) error {
	var dirs []string
	err := l.walkPrefix(ctx, prefix, func(p, _ string, d fs.DirEntry) error {
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- { // children before parents
		err := os.Remove(dirs[i])
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return err
		}
	}
	if len(dirs) > 0 {
		syncDir(filepath.Dir(dirs[0]))
	}
	return nil
}

// RemoveTemp implements Tidier.
func (l *Local) RemoveTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	err := l.walkPrefix(ctx, prefix, func(p, _ string, d fs.DirEntry) error {
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil // gone already, or maybe still being written
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		n++
		return nil
	})
	return n, err
}

func (p *prefixed) RemoveEmptyDirs(ctx context.Context, prefix string) error {
	return RemoveEmptyDirs(ctx, p.s, p.k(prefix))
}

func (p *prefixed) RemoveTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	return RemoveTemp(ctx, p.s, p.k(prefix), olderThan)
}

// RemoveEmptyDirs passes through to the wrapped store, without faults.
func (f *Faulty) RemoveEmptyDirs(ctx context.Context, prefix string) error {
	return RemoveEmptyDirs(ctx, f.inner, prefix)
}

// RemoveTemp passes through to the wrapped store, without faults.
func (f *Faulty) RemoveTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	return RemoveTemp(ctx, f.inner, prefix, olderThan)
}
