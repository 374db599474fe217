package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Local is a Store over a local directory. Put writes a temporary file,
// fsyncs it and renames it into place; PutIfAbsent hard-links the temporary
// file to the key, which fails atomically if the key exists.
type Local struct{ root string }

// NewLocal opens (creating) dir.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	return &Local{root: abs}, nil
}

// checkKey rejects keys that are empty, absolute, or could escape the root.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "//") {
		return fmt.Errorf("objstore: invalid key %q", key)
	}
	for _, s := range strings.Split(key, "/") {
		if s == ".." || s == "." {
			return fmt.Errorf("objstore: invalid key %q", key)
		}
	}
	return nil
}

func (l *Local) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

// noSpace marks a failed write that ran out of space or quota, or that
// the file system refused (read-only, permissions).
func noSpace(err error, key string) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return fmt.Errorf("%s: %w: %w", key, ErrNoSpace, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%s: %w: %w", key, ErrReadOnly, err)
	}
	return err
}

func notFound(err error, key string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return err
}

func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(l.path(key))
	return b, notFound(err, key)
}

func (l *Local) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("objstore: invalid range %d+%d of %s", off, n, key)
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		return nil, notFound(err, key)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if off >= st.Size() {
		return []byte{}, nil
	}
	n = min(n, st.Size()-off)
	buf := make([]byte, n)
	_, err = f.ReadAt(buf, off)
	return buf, err
}

func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(l.path(key))
	if err != nil {
		return ObjectInfo{}, notFound(err, key)
	}
	return ObjectInfo{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// writeTemp writes data to a synced temporary file next to key's path.
func (l *Local) writeTemp(key string, data []byte) (string, error) {
	dir := filepath.Dir(l.path(key))
	var f *os.File
	for attempt := 1; ; attempt++ {
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			f, err = os.CreateTemp(dir, tempPrefix+"*")
		}
		if err == nil {
			break
		}
		// RemoveEmptyDirs may remove a directory (or a parent) between
		// its creation and the temporary file's: make it again.
		if !errors.Is(err, fs.ErrNotExist) || attempt == 10 {
			return "", err
		}
	}
	if err := writeData(f, data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (l *Local) Put(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	tmp, err := l.writeTemp(key, data)
	if err != nil {
		return noSpace(err, key)
	}
	if err := os.Rename(tmp, l.path(key)); err != nil {
		os.Remove(tmp)
		return noSpace(err, key)
	}
	syncDir(filepath.Dir(l.path(key)))
	return nil
}

func (l *Local) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	tmp, err := l.writeTemp(key, data)
	if err != nil {
		return noSpace(err, key)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, l.path(key)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, ErrExists)
		}
		return noSpace(err, key)
	}
	syncDir(filepath.Dir(l.path(key)))
	return nil
}

func (l *Local) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := l.walkPrefix(ctx, prefix, func(_, key string, d fs.DirEntry) error {
		if d.IsDir() || strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if info, err := d.Info(); err == nil { // gone since the walk saw it: skipped
			out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

func (l *Local) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return notFound(os.Remove(l.path(key)), key)
}

func (l *Local) String() string { return "file://" + l.root }
