package flight

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/flight"
)

// FuzzParseTicket: any bytes give a ticket or an errInvalid error, never a
// panic, and a parsed ticket names a table.
func FuzzParseTicket(f *testing.F) {
	for _, s := range []string{
		`{"table": "t"}`,
		`{"table": "t", "columns": ["a"], "filter": "a = 1", "limit": 5}`,
		`{"table": "t", "pk": [1, "x", 2.5]}`,
		`{"table": "t", "nearest": {"column": "v", "vector": [1, 2], "k": 3}}`,
		`{"table": "t", "limt": 1}`, `[]`, `{`, `null`, `{"table": ""}`, `{"table": "t"} {}`,
		// Keys given twice, at any depth or in another case; bad Unicode.
		`{"table": "a", "table": "b"}`, `{"table": "a", "TABLE": "b"}`,
		`{"table": "t", "nearest": {"vector": [1], "k": 1, "k": 2}}`,
		`{"table": "t", "pk": [{"a": 1, "a": 2}]}`, `{"table": "t", "pk": [[{"x": {"y": 1, "y": 2}}]]}`,
		"{\"table\": \"t\xff\"}", "{\"table\": \"t\", \"filter\": \"a = '\xc3'\"}",
		`{"table": "t", "filter": "a = '\udc00'"}`, `{"table": "t", "filter": "a = '\ud800\u0041'"}`,
		`{"table": "t", "filter": "a = '\ud83d\ude00'"}`, `{"table": "t\\", "filter": "\"\\u"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := parseTicket(data)
		if err == nil && tk.Table == "" {
			t.Fatalf("ticket without a table accepted: %q", data)
		}
		if err == nil && !utf8.Valid(data) {
			t.Fatalf("ticket that is not UTF-8 accepted: %q", data)
		}
	})
}

// FuzzParsePutDescriptor: any CMD bytes give a request or an error.
func FuzzParsePutDescriptor(f *testing.F) {
	for _, s := range []string{
		`{"table": "t"}`, `{"table": "t", "op": "delete", "durable": false}`,
		`{"table": "t", "create": {"primary_key": "id", "regions": 4}}`,
		`{"table": "t", "op": "merge"}`, `{"table": 1}`, `{}`,
		`{"table": "t", "op": "upsert", "op": "delete"}`, `{"table": "t", "Op": "delete", "op": "upsert"}`,
		`{"table": "t", "create": {"regions": 1, "regions": 2}}`,
		`{"table": "t", "create": {"indexes": [{"column": "a", "column": "b"}]}}`,
		"{\"table\": \"t\", \"op\": \"\xfe\"}", `{"table": "t\udfff"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parsePutDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: data})
		if err == nil && r.table == "" {
			t.Fatalf("command without a table accepted: %q", data)
		}
		if err == nil && !utf8.Valid(data) {
			t.Fatalf("command that is not UTF-8 accepted: %q", data)
		}
	})
}

// FuzzDecodeJSON: decodeJSON never panics, every error is errInvalid,
// and what it accepts is UTF-8, has no key given twice (as many keys in
// the decoded map as the object lists) and no text encoding/json replaced
// with U+FFFD.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"a": 1}`, `{"a": 1, "a": 2}`, `{"a": {"b": [1, {"c": 1, "C": 2}]}}`, `{"a": [{"b": 1}, {"b": 2}]}`,
		"{\"a\": \"\xff\"}", `{"a": "\ud800"}`, `{"a": "\ud83d\ude00"}`, `{"\u0061": 1, "a": 2}`,
		`{"a": 1} x`, `{"a": [[[[]]]]}`, `{"k\u212a": 1, "kk": 2}`, `{"a": "\ufffd"}`, `{"a\\": "\\u"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if err := decodeJSON("body", data, &m); err != nil {
			if !errors.Is(err, errInvalid) {
				t.Fatalf("error not marked invalid: %v", err)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("not UTF-8, accepted: %q", data)
		}
		if n := topLevelKeys(data); n != len(m) {
			t.Fatalf("%d keys sent, %d decoded: a key given twice was accepted: %q", n, len(m), data)
		}
		sent := strings.Contains(string(data), "\uFFFD") || strings.Contains(strings.ToLower(string(data)), `\ufffd`)
		if !sent && holdsReplacement(m) {
			t.Fatalf("text replaced with U+FFFD was accepted: %q", data)
		}
	})
}

// topLevelKeys counts the keys of the first JSON object in data as sent.
func topLevelKeys(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, keys, wantKey := 0, 0, false
	for depth >= 0 {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			wantKey = depth == 1
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			if depth == 0 {
				return keys
			}
			wantKey = depth == 1
			continue
		}
		if depth == 1 {
			if wantKey {
				keys++
			}
			wantKey = !wantKey
		}
	}
	return keys
}

func holdsReplacement(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, utf8.RuneError)
	case []any:
		for _, x := range v {
			if holdsReplacement(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, utf8.RuneError) || holdsReplacement(x) {
				return true
			}
		}
	}
	return false
}
