package fts

import (
	"unicode"
	"unicode/utf8"
)

// Word segmentation: an approximation of the word boundaries of Unicode
// UAX #29 (the rules Lucene's StandardTokenizer implements), reduced to
// what full-text search needs. A word is a maximal run of
//
//   - letters (L*) and numbers (Nd, Nl, No), in any mix ("abc123", "3d");
//   - connector punctuation (Pc, e.g. '_'), which never makes a word on its
//     own ("snake_case" is one word, "___" none);
//   - combining marks (M*), which continue a word and are kept; format
//     characters (Cf: soft hyphen, zero-width joiner), which continue a word
//     and are dropped;
//   - single "mid" characters that join two letters or two digits (UAX #29
//     MidLetter, MidNumLet, MidNum): an apostrophe (' or ’) or a full stop
//     between letters or between digits ("don't", "o’neill", "u.s.a",
//     "3.14"), a comma between digits ("1,000"), a middle dot between
//     letters ("l·l"). Unlike UAX #29, ':' and ';' never join.
//
// except that each Han ideograph and each Hiragana character is a word by
// itself (as in UAX #29 and Lucene). Scripts written without spaces (Thai,
// Lao, Khmer, Myanmar) are not segmented by dictionary as UAX #29 would:
// a run of their letters is one word. Everything else (spaces, other
// punctuation, symbols, emoji, invalid UTF-8) separates words.
//
// Words are lower-cased rune by rune (unicode.ToLower, simple case mapping)
// with final sigma 'ς' mapped to 'σ', so "ΟΔΟΣ" and "οδος" agree, and the
// typographic apostrophe ’ becomes '. No Unicode normalization (NFC/NFKC)
// and no accent folding is done: "café" and "cafe" are different words.

// charClass is the role of a character in word segmentation.
type charClass uint8

const (
	cSep       charClass = iota // ends a word
	cLetter                     // L*
	cDigit                      // N*
	cConnector                  // Pc: part of a word, not a word alone
	cExtend                     // M*: continues a word, kept
	cFormat                     // Cf: continues a word, dropped
	cIdeo                       // Han, Hiragana: one character per word
	cMidLetter                  // joins two letters
	cMidNumLet                  // joins two letters or two digits
	cMidNum                     // joins two digits
)

// asciiClass is the class of each ASCII byte.
var asciiClass = func() (t [utf8.RuneSelf]charClass) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cLetter
		t[c-'a'+'A'] = cLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['_'] = cConnector
	t['\''] = cMidNumLet
	t['.'] = cMidNumLet
	t[','] = cMidNum
	return t
}()

// classOf returns the class of r, which may be ASCII.
func classOf(r rune) charClass {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	switch r {
	case '’', '＇', '．', '﹒': // right single quote, fullwidth ' and ., small .
		return cMidNumLet
	case '·', '‧': // middle dot, hyphenation point
		return cMidLetter
	case '，', '﹐': // fullwidth and small comma
		return cMidNum
	case utf8.RuneError:
		return cSep
	}
	switch {
	case unicode.IsLetter(r):
		if unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) {
			return cIdeo
		}
		return cLetter
	case unicode.IsNumber(r):
		if unicode.Is(unicode.Han, r) { // 〇 and friends
			return cIdeo
		}
		return cDigit
	case unicode.IsMark(r):
		return cExtend
	case unicode.Is(unicode.Cf, r):
		return cFormat
	case unicode.Is(unicode.Pc, r):
		return cConnector
	}
	return cSep
}

// joins reports whether mid character class mid, found between a character
// of class prev and one of class next, keeps them in one word.
func joins(prev, mid, next charClass) bool {
	if prev != next {
		return false
	}
	switch prev {
	case cLetter:
		return mid == cMidLetter || mid == cMidNumLet
	case cDigit:
		return mid == cMidNum || mid == cMidNumLet
	}
	return false
}

// wordIter yields the lower-cased words of a text in order. The zero value
// with text set is ready; word is valid until the next call of next.
type wordIter struct {
	text  string
	i     int    // next byte of text to read
	word  []byte // the current word, lower-cased
	runes int    // its length in runes
}

// reset starts iterating over text, keeping the word buffer unless a
// giant word (which analysis drops anyway) made it large.
func (it *wordIter) reset(text string) {
	it.text, it.i = text, 0
	if cap(it.word) > 1<<16 {
		it.word = nil
	}
}

// next advances to the next word; false at the end of the text.
func (it *wordIter) next() bool {
	it.word, it.runes = it.word[:0], 0
	alnum := false // the word has a letter or digit
	last := cSep   // class of its last letter, digit or connector
	for it.i < len(it.text) {
		b := it.text[it.i]
		r, size := rune(b), 1
		var cls charClass
		if b < utf8.RuneSelf {
			cls = asciiClass[b]
			if cls == cLetter || cls == cDigit { // fast path
				if 'A' <= b && b <= 'Z' {
					b += 'a' - 'A'
				}
				it.word = append(it.word, b)
				it.runes++
				alnum, last = true, cls
				it.i++
				continue
			}
		} else {
			r, size = utf8.DecodeRuneInString(it.text[it.i:])
			if r == utf8.RuneError && size == 1 {
				cls = cSep
			} else {
				cls = classOf(r)
			}
		}
		switch cls {
		case cLetter, cDigit, cConnector:
			it.appendLower(r)
			alnum = alnum || cls != cConnector
			last = cls
			it.i += size
			continue
		case cExtend, cFormat:
			it.i += size
			if len(it.word) > 0 && cls == cExtend {
				it.word = utf8.AppendRune(it.word, r)
				it.runes++
			}
			continue
		case cIdeo:
			if len(it.word) == 0 {
				it.i += size
				it.word = utf8.AppendRune(it.word, r)
				it.runes = 1
				return true
			}
			// End the current word; the ideograph starts the next call.
		case cMidLetter, cMidNumLet, cMidNum:
			if len(it.word) > 0 && it.i+size < len(it.text) {
				nr, _ := utf8.DecodeRuneInString(it.text[it.i+size:])
				if joins(last, cls, classOf(nr)) {
					if r == '’' || r == '＇' {
						r = '\''
					}
					it.word = utf8.AppendRune(it.word, r)
					it.runes++
					it.i += size
					continue
				}
			}
			it.i += size
		default:
			it.i += size
		}
		// A boundary.
		if alnum {
			return true
		}
		it.word, it.runes, last = it.word[:0], 0, cSep
	}
	return alnum
}

// appendLower appends r lower-cased to the current word.
func (it *wordIter) appendLower(r rune) {
	it.runes++
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		it.word = append(it.word, byte(r))
		return
	}
	r = unicode.ToLower(r)
	if r == 'ς' {
		r = 'σ'
	}
	it.word = utf8.AppendRune(it.word, r)
}
