package filter

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"
)

var errDanglingEscape = errors.New(`ends with an escape character '\'`)

// likeElem is one element of a compiled LIKE pattern: a run of literal
// bytes, one any-character wildcard (_), or a run of any characters (%).
type likeElem struct {
	kind likeKind
	lit  string
}

type likeKind uint8

const (
	likeLit likeKind = iota
	likeOne
	likeAny
)

// matcher matches values against a LIKE pattern. In bytes mode _ matches
// one byte, else one UTF-8 character (an invalid byte counts as one).
type matcher struct {
	elems []likeElem
	bytes bool
	// Fast paths for patterns without _: lit, lit%, %lit, %lit%.
	fast  fastKind
	fastS string
	fastB []byte
}

type fastKind uint8

const (
	fastNone fastKind = iota
	fastExact
	fastPrefix
	fastSuffix
	fastContains
)

// compileLike compiles pattern (already validated by checkPattern).
func compileLike(pattern string, bytesMode bool) *matcher {
	m := &matcher{bytes: bytesMode}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			m.elems = append(m.elems, likeElem{kind: likeLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '\\':
			i++
			lit.WriteByte(pattern[i])
		case '%':
			flush()
			if n := len(m.elems); n == 0 || m.elems[n-1].kind != likeAny {
				m.elems = append(m.elems, likeElem{kind: likeAny})
			}
		case '_':
			flush()
			m.elems = append(m.elems, likeElem{kind: likeOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	m.fast, m.fastS = fastPath(m.elems)
	m.fastB = []byte(m.fastS)
	return m
}

func fastPath(es []likeElem) (fastKind, string) {
	kinds := make([]likeKind, len(es))
	for i, e := range es {
		kinds[i] = e.kind
	}
	is := func(want ...likeKind) bool {
		if len(want) != len(kinds) {
			return false
		}
		for i := range want {
			if want[i] != kinds[i] {
				return false
			}
		}
		return true
	}
	switch {
	case len(es) == 0:
		return fastExact, ""
	case is(likeLit):
		return fastExact, es[0].lit
	case is(likeLit, likeAny):
		return fastPrefix, es[0].lit
	case is(likeAny, likeLit):
		return fastSuffix, es[1].lit
	case is(likeAny, likeLit, likeAny):
		return fastContains, es[1].lit
	case is(likeAny):
		return fastPrefix, ""
	}
	return fastNone, ""
}

func (m *matcher) match(s []byte) bool {
	switch m.fast {
	case fastExact:
		return string(s) == m.fastS // no allocation
	case fastPrefix:
		return len(s) >= len(m.fastS) && string(s[:len(m.fastS)]) == m.fastS
	case fastSuffix:
		return len(s) >= len(m.fastS) && string(s[len(s)-len(m.fastS):]) == m.fastS
	case fastContains:
		return bytes.Contains(s, m.fastB)
	}
	return m.matchFrom(s, m.elems)
}

func (m *matcher) matchString(s string) bool { return m.match([]byte(s)) }

// matchFrom matches s against es by the classic backtracking over the last
// %: segments between %s have a fixed length in characters, so taking the
// leftmost place each can match is enough.
func (m *matcher) matchFrom(s []byte, es []likeElem) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(es) {
			switch e := es[pi]; e.kind {
			case likeAny:
				starP, starS = pi, si
				pi++
				continue
			case likeLit:
				if len(s)-si >= len(e.lit) && string(s[si:si+len(e.lit)]) == e.lit {
					pi++
					si += len(e.lit)
					continue
				}
			case likeOne:
				if si < len(s) {
					pi++
					si += m.charLen(s[si:])
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last % swallow one more character.
		if starP < 0 || starS >= len(s) {
			return false
		}
		starS += m.charLen(s[starS:])
		pi, si = starP+1, starS
	}
}

func (m *matcher) charLen(s []byte) int {
	if m.bytes || s[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRune(s)
	return n
}
