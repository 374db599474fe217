package fts

// TokenizerConfig selects how text is analyzed into terms. An Index, the
// queries run against it and BruteForce must use the same configuration;
// an Index records its own (Config) and its sidecar stores it.
//
// The zero value is valid: words are split and lower-cased, no stop words
// are removed, nothing is stemmed, and MaxTokenLen is DefaultMaxTokenLen.
type TokenizerConfig struct {
	// Stem reduces each term to its English Snowball (Porter2) stem, so
	// "running", "runs" and "run" are one term.
	Stem bool
	// StopWords drops English stop words (see isStopWord; Lucene's
	// English list of 33 words). A dropped word still takes its position,
	// so phrases keep their gaps.
	StopWords bool
	// MaxTokenLen drops words longer than this many runes (after
	// lower-casing, before stemming); they still take a position. Zero or
	// less means DefaultMaxTokenLen; values above MaxTokenLenLimit are
	// lowered to it.
	MaxTokenLen int
}

const (
	// DefaultMaxTokenLen is the MaxTokenLen of a zero TokenizerConfig, as
	// in tantivy's and Lance's default tokenizers.
	DefaultMaxTokenLen = 40
	// MaxTokenLenLimit is the largest MaxTokenLen honoured.
	MaxTokenLenLimit = 255
)

// DefaultTokenizerConfig returns the configuration flightwal uses when an
// fts index is created without parameters: stemming and stop words on,
// MaxTokenLen = DefaultMaxTokenLen (LanceDB's English defaults, minus
// ASCII folding).
func DefaultTokenizerConfig() TokenizerConfig {
	return TokenizerConfig{Stem: true, StopWords: true, MaxTokenLen: DefaultMaxTokenLen}
}

// normalized returns c with MaxTokenLen resolved to the value in effect.
// Two configurations analyze text the same way iff their normalized forms
// are equal.
func (c TokenizerConfig) normalized() TokenizerConfig {
	switch {
	case c.MaxTokenLen <= 0:
		c.MaxTokenLen = DefaultMaxTokenLen
	case c.MaxTokenLen > MaxTokenLenLimit:
		c.MaxTokenLen = MaxTokenLenLimit
	}
	return c
}
