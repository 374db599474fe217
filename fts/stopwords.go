package fts

// isStopWord reports whether the lower-cased word is an English stop word:
// Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words), a short list
// that keeps negations' neighbours like "how" and "why" searchable while
// dropping the words that carry no weight in BM25 anyway.
func isStopWord(word []byte) bool {
	switch string(word) {
	case "a", "an", "and", "are", "as", "at", "be", "but", "by",
		"for", "if", "in", "into", "is", "it",
		"no", "not", "of", "on", "or", "such",
		"that", "the", "their", "then", "there", "these",
		"they", "this", "to", "was", "will", "with":
		return true
	}
	return false
}
