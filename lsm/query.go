package lsm

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lsm/filter"
)

// Query is a read request (the DoGet ticket without the table).
type Query struct {
	Columns []string // projection; nil = all
	Filter  string   // SQL boolean expression; "" = none
	Limit   *int64   // nil = no limit
	PK      []any    // primary-key point lookup: json.Number, string
	// At most one of PK, Nearest and Search. Filter is their prefilter;
	// Limit cuts their k results further.
	Nearest *NearestQuery
	Search  *SearchQuery
}

// MaxK is the largest k of a nearest or search query.
const MaxK = 10000

// NearestQuery is a vector search: the K rows nearest to Vector in Column.
type NearestQuery struct {
	Column       string    // a column with an ivf_pq index; "" = the only one
	Vector       []float32 // the query, of the column's dimension
	K            int       // 1..MaxK
	Metric       string    // "" = the index's metric; else it must match
	NProbes      int       // partitions probed; 0 = vector.DefaultNProbes
	RefineFactor int       // candidates re-ranked exactly per result; 0 = vector.DefaultRefineFactor
}

// SearchQuery is a full-text search (BM25).
type SearchQuery struct {
	Query    string   // terms and "quoted phrases"
	Columns  []string // one column with an fts index; empty = the only one
	K        int      // 1..MaxK
	Operator string   // "or" (default) or "and"
}

// Names of the score columns nearest and search add.
const (
	DistanceColumn = "_distance"
	ScoreColumn    = "_score"
)

// Plan is a validated query: its output schema and bound filter.
type Plan struct {
	t      *Table
	q      Query
	cols   []int // table columns in output order
	schema *arrow.Schema
	// filter is bound once to the table schema, nil if none. Its Eval
	// finds columns by name, so it serves memtable batches and Lance
	// scans and takes (other column orders, field metadata) alike.
	filter *filter.Bound
	// scanColumns are the columns scans of Lance layers read: the output,
	// the filter's and the primary key (nil = all).
	scanColumns []string
	filterCols  []string
	keys        []Key // pk lookups, de-duplicated, in request order
	hasKeys     bool

	// nearest and search: the projected table columns (schema less the
	// score column) and the resolved request.
	rowSchema *arrow.Schema
	nearest   *nearestPlan
	search    *searchPlan
}

// Prepare validates q against the table: unknown columns are ErrNotFound, a
// bad filter or key is ErrInvalidArgument.
func (t *Table) Prepare(q Query) (*Plan, error) {
	p := &Plan{t: t, q: q}
	if q.Limit != nil && *q.Limit < 0 {
		return nil, fmt.Errorf("%w: limit must not be negative", ErrInvalidArgument)
	}
	if q.Columns == nil {
		// Every column, in table order: the output schema is the table's
		// (built once; point lookups are mostly this plan's fixed cost).
		p.cols = t.allCols
		p.schema = t.schema
	} else {
		seen := map[string]bool{}
		for _, c := range q.Columns {
			idx := t.schema.FieldIndices(c)
			if len(idx) == 0 {
				return nil, fmt.Errorf("%w: column %q in table %q", ErrNotFound, c, t.name)
			}
			if seen[c] {
				return nil, fmt.Errorf("%w: column %q requested twice", ErrInvalidArgument, c)
			}
			seen[c] = true
			p.cols = append(p.cols, idx[0])
		}
	}
	md := t.schema.Metadata()
	if p.schema == nil {
		fields := make([]arrow.Field, len(p.cols))
		for i, c := range p.cols {
			fields[i] = t.schema.Field(c)
		}
		p.schema = arrow.NewSchema(fields, &md)
	}
	p.rowSchema = p.schema
	if q.Nearest != nil || q.Search != nil {
		if err := p.prepareSearch(); err != nil {
			return nil, err
		}
		score := ScoreColumn
		if q.Nearest != nil {
			score = DistanceColumn
		}
		if p.schema.HasField(score) {
			return nil, fmt.Errorf("%w: the table has a column %q, which collides with the score column", ErrInvalidArgument, score)
		}
		p.schema = arrow.NewSchema(append(p.schema.Fields(), arrow.Field{Name: score, Type: arrow.PrimitiveTypes.Float32}), &md)
	}
	if q.Filter != "" {
		e, err := filter.Parse(q.Filter)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		b, err := filter.Bind(e, t.schema)
		if err != nil {
			if isUnknownColumn(err) {
				return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
			}
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		p.filter = b
		p.filterCols = b.Columns()
	}
	if q.Columns != nil {
		p.scanColumns = p.columnsToRead() // nil: every column
	}
	if q.PK != nil {
		if t.pkCol < 0 {
			return nil, fmt.Errorf("%w: table %q has no primary key: pk lookups need one", ErrInvalidArgument, t.name)
		}
		p.hasKeys = true
		seen := map[Key]bool{}
		for i, v := range q.PK {
			k, err := keyFromJSON(t.schema.Field(t.pkCol).Type, v)
			if err != nil {
				return nil, fmt.Errorf("%w: pk[%d]: %w", ErrInvalidArgument, i, err)
			}
			if !seen[k] {
				seen[k] = true
				p.keys = append(p.keys, k)
			}
		}
	}
	return p, nil
}

// columnsToRead lists the table columns a scan needs, in table order.
func (p *Plan) columnsToRead() []string {
	need := map[string]bool{}
	for _, f := range p.schema.Fields() {
		need[f.Name] = true
	}
	for _, c := range p.filterCols {
		need[c] = true
	}
	if pk := p.t.PrimaryKey(); pk != "" {
		need[pk] = true
	}
	var out []string
	for _, f := range p.t.schema.Fields() {
		if need[f.Name] {
			out = append(out, f.Name)
		}
	}
	return out
}

// Schema is the schema of the query's result.
func (p *Plan) Schema() *arrow.Schema { return p.schema }

// keyFromJSON converts a decoded JSON value to a key of type t.
func keyFromJSON(t arrow.DataType, v any) (Key, error) {
	num := func() (string, error) {
		switch x := v.(type) {
		case json.Number:
			return x.String(), nil
		case float64:
			if x != math.Trunc(x) {
				return "", fmt.Errorf("%v is not an integer", x)
			}
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case int:
			return strconv.Itoa(x), nil
		}
		return "", fmt.Errorf("want a number for a %s key, got %T", t, v)
	}
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.TIMESTAMP, arrow.DATE32,
		arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		if s, ok := v.(string); ok && (t.ID() == arrow.DATE32 || t.ID() == arrow.DATE64) {
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				return Key{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
			}
			if t.ID() == arrow.DATE64 {
				return signedKey(d.UnixMilli()), nil
			}
			return signedKey(d.Unix() / 86400), nil
		}
		s, err := num()
		if err != nil {
			return Key{}, err
		}
		bitsz := map[arrow.Type]int{arrow.INT8: 8, arrow.INT16: 16, arrow.INT32: 32, arrow.DATE32: 32, arrow.TIME32: 32}[t.ID()]
		if bitsz == 0 {
			bitsz = 64
		}
		n, err := strconv.ParseInt(s, 10, bitsz)
		if err != nil {
			return Key{}, fmt.Errorf("%s is not a valid %s", s, t)
		}
		return signedKey(n), nil
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		s, err := num()
		if err != nil {
			return Key{}, err
		}
		bitsz := map[arrow.Type]int{arrow.UINT8: 8, arrow.UINT16: 16, arrow.UINT32: 32, arrow.UINT64: 64}[t.ID()]
		n, err := strconv.ParseUint(s, 10, bitsz)
		if err != nil {
			return Key{}, fmt.Errorf("%s is not a valid %s", s, t)
		}
		return unsignedKey(n), nil
	default:
		s, ok := v.(string)
		if !ok {
			return Key{}, fmt.Errorf("want a string for a %s key, got %T", t, v)
		}
		return stringKey(s), nil
	}
}
