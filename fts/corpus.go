package fts

import (
	"math/rand/v2"
	"strings"
)

// GenerateCorpus returns n synthetic documents of about wordsPerDoc words
// each (uniformly between half and one and a half times as many), drawn
// from a fixed vocabulary with a Zipf distribution (exponent 1.1), so that
// a few words are in most documents and most words in few, as in natural
// text. The vocabulary is 200 common English words, stop words among them,
// followed by 30,000 invented ones (a few percent with accented letters);
// documents are sentences with capitals, commas and full stops. The same
// arguments give the same corpus.
func GenerateCorpus(n, wordsPerDoc int, seed int64) []string {
	if n <= 0 {
		return nil
	}
	wordsPerDoc = max(wordsPerDoc, 1)
	r := rand.New(rand.NewPCG(uint64(seed), 0x66747320636f7270)) // "fts corp"
	vocab := corpusVocabulary(rand.New(rand.NewPCG(uint64(seed), 0x766f636162)))
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	docs := make([]string, n)
	var b strings.Builder
	for i := range docs {
		b.Reset()
		words := wordsPerDoc/2 + r.IntN(wordsPerDoc+1)
		sentence := 0
		for w := range max(words, 1) {
			word := vocab[zipf.Uint64()]
			if w > 0 {
				switch {
				case sentence == 0:
					b.WriteString(". ")
				case r.IntN(12) == 0:
					b.WriteString(", ")
				default:
					b.WriteByte(' ')
				}
			}
			if sentence == 0 {
				b.WriteString(strings.ToUpper(word[:1]))
				word = word[1:]
				sentence = 5 + r.IntN(12)
			}
			b.WriteString(word)
			sentence--
		}
		b.WriteByte('.')
		docs[i] = b.String()
	}
	return docs
}

// commonWords are the most frequent words of the generated corpus, most
// frequent first (stop words and inflected forms among them).
var commonWords = strings.Fields(`
the of and to a in is it you that he was for on are with as his they be
at one have this from or had by hot word but what some we can out other
were all there when up use your how said an each she which do their time
if will way about many then them write would like so these her long make
thing see him two has look more day could go come did number sound no most
people my over know water than call first who may down side been now find
any new work part take get place made live where after back little only
round man year came show every good me give our under name very through
just form sentence great think say help low line differ turn cause much
mean before move right boy old too same tell does set three want air well
also play small end put home read hand port large spell add even land here
must big high such follow act why ask men change went light kind off need
house picture try us again animal point mother world near build self earth
father running runs ran quickly searching searched`)

// corpusVocabulary returns the vocabulary: commonWords, then invented
// words of one to three syllables, distinct.
func corpusVocabulary(r *rand.Rand) []string {
	const invented = 30000
	onsets := []string{"b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m",
		"n", "p", "pl", "qu", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z"}
	vowels := []string{"a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "é", "ü", "ø"}
	codas := []string{"", "", "", "n", "r", "s", "t", "l", "nd", "st", "ng", "x"}
	seen := make(map[string]bool, invented+len(commonWords))
	vocab := make([]string, 0, invented+len(commonWords))
	for _, w := range commonWords {
		seen[w] = true
		vocab = append(vocab, w)
	}
	var b strings.Builder
	for len(vocab) < cap(vocab) {
		b.Reset()
		for range 1 + r.IntN(3) {
			b.WriteString(onsets[r.IntN(len(onsets))])
			v := vowels[r.IntN(len(vowels))]
			if len(v) > 1 && v[0] >= 0x80 && r.IntN(4) != 0 {
				v = "e" // keep accented vowels rare
			}
			b.WriteString(v)
			b.WriteString(codas[r.IntN(len(codas))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	return vocab
}
