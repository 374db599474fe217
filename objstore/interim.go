package objstore

// INTERIM implementations written by the lead so the rest of the tree can
// build while the objstore helper works. The helper's implementation
// replaces this file entirely (delete it when yours lands).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// S3Options configures the S3 store.
type S3Options struct {
	Endpoint, AccessKey, SecretKey, Region, Bucket, Prefix string
}

// Open opens "s3://bucket/prefix" or a local directory.
func Open(ctx context.Context, uri string, opts S3Options) (Store, error) {
	if strings.HasPrefix(uri, "s3://") {
		return nil, errors.New("objstore: s3 not implemented yet")
	}
	return NewLocal(strings.TrimPrefix(uri, "file://"))
}

// RetryPolicy bounds retries of ErrUnavailable failures.
type RetryPolicy struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// Retry runs fn, retrying errors wrapping ErrUnavailable with exponential
// backoff and full jitter.
func Retry(ctx context.Context, p RetryPolicy, fn func(ctx context.Context) error) error {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Base <= 0 {
		p.Base = 10 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = time.Second
	}
	var err error
	for i := 0; i < p.Attempts; i++ {
		if err = fn(ctx); err == nil || !errors.Is(err, ErrUnavailable) {
			return err
		}
		d := min(p.Max, p.Base<<i)
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(d) + 1))):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// Local is a store over a local directory.
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

func (l *Local) writeTemp(key string, data []byte) (string, error) {
	p := l.path(key)
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
		return err
	}
	if err := os.Rename(tmp, l.path(key)); err != nil {
		os.Remove(tmp)
		return err
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
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, l.path(key)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, ErrExists)
		}
		return err
	}
	syncDir(filepath.Dir(l.path(key)))
	return nil
}

func (l *Local) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = l.path(prefix[:i])
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, _ := filepath.Rel(l.root, p)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
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

// Mem is an in-memory store.
type Mem struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{m: map[string][]byte{}} }

func (s *Mem) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return bytes.Clone(b), nil
}

func (s *Mem) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if off >= int64(len(b)) {
		return []byte{}, nil
	}
	return b[off:min(int64(len(b)), off+n)], nil
}

func (s *Mem) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	b, err := s.Get(ctx, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (s *Mem) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = bytes.Clone(data)
	return nil
}

func (s *Mem) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return fmt.Errorf("%s: %w", key, ErrExists)
	}
	s.m[key] = bytes.Clone(data)
	return nil
}

func (s *Mem) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ObjectInfo
	for k, v := range s.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, ObjectInfo{Key: k, Size: int64(len(v))})
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

type prefixed struct {
	s      Store
	prefix string
}

// Prefixed is a view of the sub-tree prefix of s.
func Prefixed(s Store, prefix string) Store {
	return &prefixed{s: s, prefix: strings.TrimSuffix(prefix, "/") + "/"}
}

func (p *prefixed) k(key string) string { return p.prefix + key }
func (p *prefixed) Get(ctx context.Context, key string) ([]byte, error) {
	return p.s.Get(ctx, p.k(key))
}
func (p *prefixed) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	return p.s.GetRange(ctx, p.k(key), off, n)
}
func (p *prefixed) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	o, err := p.s.Stat(ctx, p.k(key))
	o.Key = key
	return o, err
}
func (p *prefixed) Put(ctx context.Context, key string, data []byte) error {
	return p.s.Put(ctx, p.k(key), data)
}
func (p *prefixed) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return p.s.PutIfAbsent(ctx, p.k(key), data)
}
func (p *prefixed) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	objs, err := p.s.List(ctx, p.k(prefix))
	for i := range objs {
		objs[i].Key = strings.TrimPrefix(objs[i].Key, p.prefix)
	}
	return objs, err
}
func (p *prefixed) Delete(ctx context.Context, key string) error { return p.s.Delete(ctx, p.k(key)) }
func (p *prefixed) String() string                               { return p.s.String() + "/" + path.Clean(p.prefix) }
