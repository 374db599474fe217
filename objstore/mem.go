package objstore

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Store for unit tests.
type Mem struct {
	mu sync.Mutex
	m  map[string]memObject
}

type memObject struct {
	data    []byte
	modTime time.Time
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{m: map[string]memObject{}} }

func (s *Mem) get(key string) (memObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[key]
	if !ok {
		return memObject{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return o, nil
}

func (s *Mem) Get(ctx context.Context, key string) ([]byte, error) {
	o, err := s.get(key)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(o.data), nil
}

func (s *Mem) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("objstore: invalid range %d+%d of %s", off, n, key)
	}
	o, err := s.get(key)
	if err != nil {
		return nil, err
	}
	b := o.data
	if off >= int64(len(b)) {
		return []byte{}, nil
	}
	return bytes.Clone(b[off:min(int64(len(b)), off+n)]), nil
}

func (s *Mem) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	o, err := s.get(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

func (s *Mem) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = memObject{data: bytes.Clone(data), modTime: time.Now()}
	return nil
}

func (s *Mem) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return fmt.Errorf("%s: %w", key, ErrExists)
	}
	s.m[key] = memObject{data: bytes.Clone(data), modTime: time.Now()}
	return nil
}

func (s *Mem) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ObjectInfo
	for k, o := range s.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *Mem) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	delete(s.m, key)
	return nil
}

func (s *Mem) String() string { return "mem://" }
