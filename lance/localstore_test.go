package lance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// newLocalStore returns a Store over real files in dir (reads go to disk),
// standing in for objstore's local store until that package provides one.
func newLocalStore(tb testing.TB, dir string) objstore.Store {
	tb.Helper()
	return &lancetestFileStore{dir: dir}
}

// lancetestFileStore is a minimal file-backed objstore.Store: Put writes a
// temp file and renames it; PutIfAbsent links it into place, which fails if
// the target exists.
type lancetestFileStore struct{ dir string }

func (s *lancetestFileStore) path(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key))
}

func mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, objstore.ErrNotFound)
	}
	return err
}

func (s *lancetestFileStore) Get(_ context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(s.path(key))
	return b, mapErr(key, err)
}

func (s *lancetestFileStore) GetRange(_ context.Context, key string, off, n int64) ([]byte, error) {
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, mapErr(key, err)
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:m], nil
}

func (s *lancetestFileStore) Stat(_ context.Context, key string) (objstore.ObjectInfo, error) {
	fi, err := os.Stat(s.path(key))
	if err != nil {
		return objstore.ObjectInfo{}, mapErr(key, err)
	}
	return objstore.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (s *lancetestFileStore) temp(key string, data []byte) (string, error) {
	p := s.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

func (s *lancetestFileStore) Put(_ context.Context, key string, data []byte) error {
	tmp, err := s.temp(key, data)
	if err != nil {
		return err
	}
	return os.Rename(tmp, s.path(key))
}

func (s *lancetestFileStore) PutIfAbsent(_ context.Context, key string, data []byte) error {
	tmp, err := s.temp(key, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path(key)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, objstore.ErrExists)
		}
		return err
	}
	return nil
}

func (s *lancetestFileStore) List(_ context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	var out []objstore.ObjectInfo
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, _ := filepath.Rel(s.dir, p)
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			info, err := d.Info()
			if err == nil {
				out = append(out, objstore.ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

func (s *lancetestFileStore) Delete(_ context.Context, key string) error {
	return mapErr(key, os.Remove(s.path(key)))
}

func (s *lancetestFileStore) String() string { return "file://" + s.dir }
