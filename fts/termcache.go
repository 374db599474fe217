package fts

// termCache memoizes a per-word result (the analyzed term, or the index's
// term record) keyed by the lower-cased word, so that stemming, the
// costliest step of analysis, runs once per distinct word rather than once
// per occurrence. It is owned by one goroutine (one BruteForce call) and
// bounded: when full, it starts over. (An Index's writer uses wordTable,
// a faster structure for the same job.)
type termCache[V any] struct {
	m     map[string]V
	limit int
}

// termCacheLimit bounds a termCache and a wordTable (entries).
const termCacheLimit = 1 << 17

func newTermCache[V any]() termCache[V] {
	return termCache[V]{m: make(map[string]V), limit: termCacheLimit}
}

// get returns the cached value of word. It does not allocate.
func (c *termCache[V]) get(word []byte) (V, bool) {
	v, ok := c.m[string(word)]
	return v, ok
}

// put caches v for word.
func (c *termCache[V]) put(word []byte, v V) {
	if len(c.m) >= c.limit {
		clear(c.m)
	}
	c.m[string(word)] = v
}
