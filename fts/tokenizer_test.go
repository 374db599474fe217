package fts

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	plain := TokenizerConfig{}
	stem := TokenizerConfig{Stem: true}
	stop := TokenizerConfig{StopWords: true}
	def := DefaultTokenizerConfig()
	for _, tc := range []struct {
		name string
		cfg  TokenizerConfig
		text string
		want string // "term@pos ..."
	}{
		{"empty", plain, "", ""},
		{"spaces", plain, " \t\n ", ""},
		{"punctuation", plain, "Hello, World! (yes) -- no?", "hello@0 world@1 yes@2 no@3"},
		{"case", plain, "HeLLo HELLO hello", "hello@0 hello@1 hello@2"},
		{"accents kept", plain, "Ünïcödé CAFÉ café", "ünïcödé@0 café@1 café@2"},
		{"final sigma", plain, "ΟΔΟΣ οδος", "οδοσ@0 οδοσ@1"},
		{"cyrillic", plain, "Привет, Мир", "привет@0 мир@1"},
		{"eszett", plain, "Straße", "straße@0"},
		{"han", plain, "東京タワー", "東@0 京@1 タワー@2"},
		{"hiragana", plain, "ひらがな", "ひ@0 ら@1 が@2 な@3"},
		{"han digits", plain, "東京2020年", "東@0 京@1 2020@2 年@3"},
		{"numbers", plain, "3.14 1,000 v1.2 1.", "3.14@0 1,000@1 v1.2@2 1@3"},
		{"letters digits", plain, "abc123 3d", "abc123@0 3d@1"},
		{"apostrophes", plain, "don't O’Neill 'quoted' dogs'", "don't@0 o'neill@1 quoted@2 dogs@3"},
		{"full stop", plain, "U.S.A. end.Next e.g.", "u.s.a@0 end.next@1 e.g@2"},
		{"comma letters", plain, "a,b", "a@0 b@1"},
		{"colon", plain, "key:value", "key@0 value@1"},
		{"email url", plain, "me@x.org https://go.dev/doc", "me@0 x.org@1 https@2 go.dev@3 doc@4"},
		{"connector", plain, "snake_case ___ _id", "snake_case@0 _id@1"},
		{"combining mark", plain, "cafe\u0301 \u0301x", "cafe\u0301@0 x@1"},
		{"soft hyphen", plain, "co\u00adoperate", "cooperate@0"},
		{"emoji", plain, "fire🔥water", "fire@0 water@1"},
		{"invalid utf8", plain, "ab\xffcd", "ab@0 cd@1"},
		{"thai run", plain, "สวัสดี ครับ", "สวัสดี@0 ครับ@1"},
		{"stem off", plain, "running connections", "running@0 connections@1"},
		{"stem on", stem, "Running runs ran Connections generously", "run@0 run@1 ran@2 connect@3 generous@4"},
		{"stem possessive", stem, "the fox's den", "the@0 fox@1 den@2"},
		{"stem short", stem, "is as by", "is@0 as@1 by@2"},
		{"stop off", plain, "the quick fox", "the@0 quick@1 fox@2"},
		{"stop on", stop, "The quick and the dead", "quick@1 dead@4"},
		{"stop only", stop, "to be or not to be", ""},
		{"default", def, "The Quick Brown Foxes are jumping!", "quick@1 brown@2 fox@3 jump@5"},
		{"max len default", plain, strings.Repeat("a", 40) + " " + strings.Repeat("b", 41) + " c",
			strings.Repeat("a", 40) + "@0 c@2"},
		{"max len runes", TokenizerConfig{MaxTokenLen: 3}, "ééé éééé abc", "ééé@0 abc@2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tok := range tc.cfg.Tokenize(tc.text) {
				got = append(got, tok.Term+"@"+itoa(tok.Pos))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Fatalf("Tokenize(%q)\n got  %q\n want %q", tc.text, g, tc.want)
			}
		})
	}
}

func itoa(p uint32) string {
	if p < 10 {
		return string(rune('0' + p))
	}
	return itoa(p/10) + string(rune('0'+p%10))
}

func TestTokenizerConfigNormalized(t *testing.T) {
	for in, want := range map[int]int{0: DefaultMaxTokenLen, -5: DefaultMaxTokenLen, 7: 7, 1000: MaxTokenLenLimit} {
		if got := (TokenizerConfig{MaxTokenLen: in}).normalized().MaxTokenLen; got != want {
			t.Errorf("MaxTokenLen %d normalizes to %d, want %d", in, got, want)
		}
	}
	if ix := NewIndex(TokenizerConfig{}); ix.Config().MaxTokenLen != DefaultMaxTokenLen {
		t.Errorf("Index config %+v", ix.Config())
	}
}

// FuzzTokenize: any input tokenizes without panicking into valid UTF-8
// terms of bounded length, with increasing positions, identically in the
// Index writer's cached path (checked through document lengths).
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"Hello, World", "東京2020", "don't 3.14", "a\u0301\u00ad'b", "\xff\xfe", "ς'Σ.1,2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg := DefaultTokenizerConfig()
		toks := cfg.Tokenize(s)
		for i, tok := range toks {
			if tok.Term == "" || !utf8.ValidString(tok.Term) || utf8.RuneCountInString(tok.Term) > 2*cfg.MaxTokenLen {
				t.Fatalf("bad term %q", tok.Term)
			}
			if i > 0 && tok.Pos <= toks[i-1].Pos {
				t.Fatalf("positions not increasing: %v", toks)
			}
		}
		ix := NewIndex(cfg)
		if err := ix.Add(0, s); err != nil {
			t.Fatal(err)
		}
		if _, total := ix.DocStats(1, nil); total != int64(len(toks)) {
			t.Fatalf("index length %d, Tokenize %d", total, len(toks))
		}
	})
}
