package fts

import (
	"math"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
)

// Token is one analyzed term of a text and its position: the ordinal of
// the word in the text, counting every word, including the ones analysis
// dropped (stop words, over-long words). Phrase matching compares
// positions, so "united the states" does not match the phrase "united
// states" but, with stop words on, "president of the united states" matches
// "president of a united states" (Lucene keeps these gaps too).
type Token struct {
	Term string
	Pos  uint32
}

// Tokenize analyzes text with c: words (see words.go), lower-cased, too
// long ones dropped, stop words dropped (if c.StopWords), stemmed (if
// c.Stem). It is safe for concurrent use.
func (c TokenizerConfig) Tokenize(text string) []Token {
	a := analyzer{cfg: c.normalized()}
	var toks []Token
	a.each(text, func(_ []byte, term string, pos uint32) {
		toks = append(toks, Token{Term: term, Pos: pos})
	})
	return toks
}

// analyzer turns words into terms under one normalized configuration.
// The zero value is not usable.
type analyzer struct {
	cfg TokenizerConfig
	it  wordIter
}

// term maps a lower-cased word of runes runes to its term; ok is false if
// the word is dropped (too long or a stop word).
func (a *analyzer) term(word []byte, runes int) (term string, ok bool) {
	if runes > a.cfg.MaxTokenLen {
		return "", false
	}
	if a.cfg.StopWords && isStopWord(word) {
		return "", false
	}
	term = string(word)
	if a.cfg.Stem {
		// The Snowball English (Porter2) stemmer, as generated from the
		// Snowball project's own algorithm; stop words that are kept are
		// stemmed too.
		env := snowballstem.NewEnv(term)
		english.Stem(env)
		if s := env.Current(); s != "" {
			term = s
		}
	}
	return term, true
}

// each calls fn for every kept term of text, with the lower-cased word it
// came from (valid only during the call) and its position.
func (a *analyzer) each(text string, fn func(word []byte, term string, pos uint32)) {
	a.it.reset(text)
	for pos := uint32(0); a.it.next(); pos = satInc(pos) {
		if t, ok := a.term(a.it.word, a.it.runes); ok {
			fn(a.it.word, t, pos)
		}
	}
}

// satInc returns p+1, saturating at the largest uint32.
func satInc(p uint32) uint32 {
	if p == math.MaxUint32 {
		return p
	}
	return p + 1
}
