package objstore

import (
	"context"
	"path"
	"strings"
)

type prefixed struct {
	s      Store
	prefix string // ends in "/"
}

// Prefixed is a view of the sub-tree prefix of s: key k of the view is key
// prefix/k of s, and List returns keys relative to prefix. An empty prefix
// returns s itself.
func Prefixed(s Store, prefix string) Store {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return s
	}
	return &prefixed{s: s, prefix: prefix + "/"}
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

func (p *prefixed) String() string { return p.s.String() + "/" + path.Clean(p.prefix) }
