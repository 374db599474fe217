package flight

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/flightwal/flightwal/lsm"
)

// decodeJSON parses one JSON object into v, rejecting unknown keys and
// trailing data (API.md: typos must not be silently ignored).
func decodeJSON(what string, data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: %s must be a JSON object", errInvalid, what)
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
	return nil
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
	Name       string         `json:"name,omitempty"`
	Schema     string         `json:"schema,omitempty"` // base64 Arrow IPC schema
	PrimaryKey string         `json:"primary_key,omitempty"`
	Regions    int            `json:"regions,omitempty"`
	Indexes    []lsm.IndexDef `json:"indexes,omitempty"`
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
