package flight

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/flightwal/flightwal/lsm"
)

// decodeJSON parses one JSON object into v, rejecting unknown keys,
// trailing data, keys given twice and text that is not valid Unicode
// (API.md: typos must not be silently ignored; encoding/json would keep
// the last of two keys and replace bad UTF-8 with U+FFFD).
func decodeJSON(what string, data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: %s must be a JSON object", errInvalid, what)
	}
	if err := checkUnicode(trimmed); err != nil {
		return fmt.Errorf("%w: %s: %v", errInvalid, what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", errInvalid, what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: trailing data after the JSON object", errInvalid, what)
	}
	// After Decode: the object is well-formed and at most 10,000 deep
	// (encoding/json's limit), so the walk below is bounded.
	if err := checkDuplicateKeys(trimmed); err != nil {
		return fmt.Errorf("%w: %s: %v", errInvalid, what, err)
	}
	return nil
}

// checkUnicode rejects bytes that are not UTF-8 and \u escapes that are
// not Unicode (a surrogate without its pair), which encoding/json would
// both replace with U+FFFD.
func checkUnicode(data []byte) error {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return fmt.Errorf("invalid UTF-8 at byte %d", off)
	}
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			r, ok := hexEscape(data, i)
			if !ok {
				i++ // \" \\ \n ...: skip the escaped byte (a bad escape is Decode's to report)
				continue
			}
			if utf16.IsSurrogate(r) {
				r2, ok := hexEscape(data, i+6)
				if r >= 0xdc00 || !ok || utf16.DecodeRune(r, r2) == unicode.ReplacementChar {
					return fmt.Errorf("\\u%04x at byte %d is half of a UTF-16 surrogate pair, not a character", r, i)
				}
				i += 6
			}
			i += 5
		}
	}
	return nil
}

// hexEscape reads the \uXXXX escape at data[i:], if there is one.
func hexEscape(data []byte, i int) (rune, bool) {
	if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range data[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// jsonFrame is an object or array checkDuplicateKeys is inside.
type jsonFrame struct {
	object  bool
	path    string            // where it is: "", "nearest", "indexes[0]"
	keys    map[string]string // an object's keys so far, folded -> as sent
	wantKey bool              // an object's next string is a key
	key     string            // an object's current key
	index   int               // an array's current element
}

func (f *jsonFrame) at(key string) string {
	if f.path == "" {
		return key
	}
	return f.path + "." + key
}

// child is the path of the value the frame is at.
func (f *jsonFrame) child() string {
	if f.object {
		return f.at(f.key)
	}
	return fmt.Sprintf("%s[%d]", f.path, f.index)
}

// checkDuplicateKeys rejects an object holding a key twice, at any depth.
// Two keys that encoding/json matches to one struct field (it matches
// case-insensitively: "table" and "Table") count as the same key.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*jsonFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF; a syntax error was Decode's to report
		}
		var top *jsonFrame
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.object && top.wantKey {
			folded := foldKey(key)
			if prev, dup := top.keys[folded]; dup {
				if prev == key {
					return fmt.Errorf("duplicate key %q", top.at(key))
				}
				return fmt.Errorf("duplicate key %q: %q and %q name the same field (keys match case-insensitively)", top.at(key), prev, key)
			}
			top.keys[folded], top.key, top.wantKey = key, key, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			f := &jsonFrame{object: tok == json.Delim('{'), wantKey: true}
			if f.object {
				f.keys = map[string]string{}
			}
			if top != nil {
				f.path = top.child()
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended.
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.object {
				f.wantKey = true
			} else {
				f.index++
			}
		}
	}
}

// foldKey folds a key the way encoding/json matches keys to struct
// fields: foldKey(a) == foldKey(b) exactly when bytes.EqualFold(a, b).
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Ticket is the DoGet ticket (API.md, DoGet).
type Ticket struct {
	Table   string         `json:"table"`
	Columns []string       `json:"columns,omitempty"`
	Filter  string         `json:"filter,omitempty"`
	Limit   *int64         `json:"limit,omitempty"`
	PK      []any          `json:"pk,omitempty"`
	Nearest *NearestTicket `json:"nearest,omitempty"`
	Search  *SearchTicket  `json:"search,omitempty"`
}

// NearestTicket is a vector search. K defaults to DefaultK.
type NearestTicket struct {
	Column       string    `json:"column,omitempty"`
	Vector       []float64 `json:"vector"`
	K            *int      `json:"k,omitempty"`
	Metric       string    `json:"metric,omitempty"`
	NProbes      int       `json:"nprobes,omitempty"`
	RefineFactor int       `json:"refine_factor,omitempty"`
}

// SearchTicket is a full-text search. K defaults to DefaultK.
type SearchTicket struct {
	Query    string   `json:"query"`
	Columns  []string `json:"columns,omitempty"`
	K        *int     `json:"k,omitempty"`
	Operator string   `json:"operator,omitempty"`
}

// DefaultK is the k of a nearest or search ticket that gives none (as
// LanceDB's default limit).
const DefaultK = 10

// checkK resolves a ticket's k: absent is DefaultK, else 1..lsm.MaxK.
func checkK(what string, k *int) (int, error) {
	if k == nil {
		return DefaultK, nil
	}
	if *k < 1 || *k > lsm.MaxK {
		return 0, fmt.Errorf("%w: %s.k = %d: want 1 to %d", errInvalid, what, *k, lsm.MaxK)
	}
	return *k, nil
}

func parseTicket(data []byte) (*Ticket, error) {
	t := &Ticket{}
	if err := decodeJSON("ticket", data, t); err != nil {
		return nil, err
	}
	if t.Table == "" {
		return nil, fmt.Errorf("%w: ticket needs \"table\"", errInvalid)
	}
	n := 0
	if t.PK != nil {
		n++
	}
	if t.Nearest != nil {
		n++
	}
	if t.Search != nil {
		n++
	}
	if n > 1 {
		return nil, fmt.Errorf("%w: ticket may carry at most one of pk, nearest, search", errInvalid)
	}
	if t.Limit != nil && *t.Limit < 0 {
		return nil, fmt.Errorf("%w: limit must not be negative", errInvalid)
	}
	if n := t.Nearest; n != nil {
		if _, err := checkK("nearest", n.K); err != nil {
			return nil, err
		}
		if len(n.Vector) == 0 {
			return nil, fmt.Errorf("%w: nearest needs \"vector\"", errInvalid)
		}
	}
	if s := t.Search; s != nil {
		if _, err := checkK("search", s.K); err != nil {
			return nil, err
		}
		if strings.TrimSpace(s.Query) == "" {
			return nil, fmt.Errorf("%w: search needs a non-empty \"query\"", errInvalid)
		}
	}
	return t, nil
}

// query is the ticket as an lsm query (parseTicket validated it).
func (t *Ticket) query() lsm.Query {
	q := lsm.Query{Columns: t.Columns, Filter: t.Filter, PK: t.PK, Limit: t.Limit}
	if n := t.Nearest; n != nil {
		k, _ := checkK("nearest", n.K)
		v := make([]float32, len(n.Vector))
		for i, x := range n.Vector {
			v[i] = float32(x) // beyond float32's range: ±Inf, which lsm rejects
		}
		q.Nearest = &lsm.NearestQuery{Column: n.Column, Vector: v, K: k, Metric: n.Metric, NProbes: n.NProbes, RefineFactor: n.RefineFactor}
	}
	if s := t.Search; s != nil {
		k, _ := checkK("search", s.K)
		q.Search = &lsm.SearchQuery{Query: s.Query, Columns: s.Columns, K: k, Operator: s.Operator}
	}
	return q
}

// PutCommand is the CMD descriptor of DoPut.
type PutCommand struct {
	Table   string       `json:"table"`
	Op      string       `json:"op,omitempty"`
	Durable *bool        `json:"durable,omitempty"`
	Create  *CreateTable `json:"create,omitempty"`
}

// putRequest is a decoded DoPut descriptor.
type putRequest struct {
	table   string
	op      lsm.Op
	durable bool
	create  *CreateTable
}

func parsePutDescriptor(d *flight.FlightDescriptor) (*putRequest, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: DoPut needs a flight descriptor (PATH [table] or CMD JSON)", errInvalid)
	}
	switch d.Type {
	case flight.DescriptorPATH:
		if len(d.Path) != 1 {
			return nil, fmt.Errorf("%w: PATH descriptor must be [\"<table>\"], got %d elements", errInvalid, len(d.Path))
		}
		return &putRequest{table: d.Path[0], op: lsm.OpUpsert, durable: true}, nil
	case flight.DescriptorCMD:
		c := &PutCommand{}
		if err := decodeJSON("DoPut command", d.Cmd, c); err != nil {
			return nil, err
		}
		if c.Table == "" {
			return nil, fmt.Errorf("%w: DoPut command needs \"table\"", errInvalid)
		}
		r := &putRequest{table: c.Table, durable: c.Durable == nil || *c.Durable, create: c.Create}
		switch c.Op {
		case "", "upsert", "insert":
			// insert is accepted as upsert: flightwal does not read existing
			// keys on the write path (README, "Wire contract notes").
			r.op = lsm.OpUpsert
		case "delete":
			r.op = lsm.OpDelete
		default:
			return nil, fmt.Errorf("%w: op %q: want upsert, insert or delete", errInvalid, c.Op)
		}
		if r.create != nil && r.op == lsm.OpDelete {
			return nil, fmt.Errorf("%w: create cannot be combined with op delete", errInvalid)
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: unknown descriptor type %v", errInvalid, d.Type)
}

// CreateTable is the create_table action body (also DoPut's "create").
type CreateTable struct {
	Name       string      `json:"name,omitempty"`
	Schema     string      `json:"schema,omitempty"` // base64 Arrow IPC schema
	PrimaryKey string      `json:"primary_key,omitempty"`
	Regions    int         `json:"regions,omitempty"`
	Indexes    []IndexSpec `json:"indexes,omitempty"`
	// DataStorageVersion: the Lance data file format of the new table's
	// files, "2.0" (default), "2.1" or "2.2".
	DataStorageVersion string `json:"data_storage_version,omitempty"`
}

// CreateIndex is the create_index action body: the table and one index
// as create_table's "indexes" take it.
type CreateIndex struct {
	Table string `json:"table"`
	IndexSpec
}

// DropIndex is the drop_index action body.
type DropIndex struct {
	Table string `json:"table"`
	Name  string `json:"name"`
}

// tableSpec is the table c describes, named name, with the given schema.
func (c *CreateTable) tableSpec(name string, schema *arrow.Schema) lsm.TableSpec {
	return lsm.TableSpec{
		Name: name, Schema: schema, PrimaryKey: c.PrimaryKey, Regions: c.Regions,
		Indexes:            convertAll(c.Indexes, func(s IndexSpec) lsm.IndexDef { return lsm.IndexDef(s) }),
		DataStorageVersion: c.DataStorageVersion,
	}
}

// decodeSchema reads a base64 Arrow IPC schema message (pyarrow's
// schema.serialize()) or a whole IPC stream with no batches.
func decodeSchema(b64 string) (*arrow.Schema, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: schema is not base64: %v", errInvalid, err)
	}
	if s, err := flight.DeserializeSchema(raw, nil); err == nil {
		return s, nil
	}
	r, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: schema is not an Arrow IPC schema: %v", errInvalid, err)
	}
	defer r.Release()
	return r.Schema(), nil
}

// tableRequest is the body of the table-scoped actions.
type tableRequest struct {
	Table  string `json:"table"`
	Region *int   `json:"region,omitempty"`
}

type nameRequest struct {
	Name string `json:"name"`
}
