package lance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// lancetestStore is a small in-memory objstore.Store for this package's
// tests. Unlike objstore.NewMem it counts reads and can mirror every write
// to a directory so node can read the files.
type lancetestStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	dir  string // if set, objects are also written below dir
	// ranged counts GetRange calls and bytes, to prove readers read ranges.
	getRanges, rangeBytes int
	gets                  int
	// tailReads counts GetRange calls that read up to the end of an
	// object: of a data file, only metadata reads do.
	tailReads int
}

func newTestStore() *lancetestStore { return &lancetestStore{objs: map[string][]byte{}} }

// newDirStore returns a store backed by dir: it loads existing files and
// writes every Put through to disk.
func newDirStore(dir string) *lancetestStore {
	s := &lancetestStore{objs: map[string][]byte{}, dir: dir}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err == nil {
			s.objs[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	return s
}

var _ objstore.Store = (*lancetestStore)(nil)

func (s *lancetestStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	b, ok := s.objs[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, objstore.ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}

func (s *lancetestStore) GetRange(_ context.Context, key string, off, n int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, objstore.ErrNotFound)
	}
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("bad range")
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	end := min(int64(len(b)), off+n)
	s.getRanges++
	s.rangeBytes += int(end - off)
	if end == int64(len(b)) {
		s.tailReads++
	}
	return append([]byte(nil), b[off:end]...), nil
}

func (s *lancetestStore) Stat(_ context.Context, key string) (objstore.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[key]
	if !ok {
		return objstore.ObjectInfo{}, fmt.Errorf("%s: %w", key, objstore.ErrNotFound)
	}
	return objstore.ObjectInfo{Key: key, Size: int64(len(b)), ModTime: time.Now()}, nil
}

func (s *lancetestStore) put(key string, data []byte) error {
	s.objs[key] = append([]byte(nil), data...)
	if s.dir != "" {
		p := filepath.Join(s.dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	}
	return nil
}

func (s *lancetestStore) Put(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(key, data)
}

func (s *lancetestStore) PutIfAbsent(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[key]; ok {
		return fmt.Errorf("%s: %w", key, objstore.ErrExists)
	}
	return s.put(key, data)
}

func (s *lancetestStore) List(_ context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []objstore.ObjectInfo
	for k, v := range s.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objstore.ObjectInfo{Key: k, Size: int64(len(v))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *lancetestStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[key]; !ok {
		return fmt.Errorf("%s: %w", key, objstore.ErrNotFound)
	}
	delete(s.objs, key)
	if s.dir != "" {
		_ = os.Remove(filepath.Join(s.dir, filepath.FromSlash(key)))
	}
	return nil
}

func (s *lancetestStore) String() string { return "lancetest://" + s.dir }
