package lsm

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// PrimaryKeyMetadataKey is Lance's field-metadata marker of the primary key.
const PrimaryKeyMetadataKey = "lance-schema:unenforced-primary-key"

// checkColumnType accepts the column types of API.md: every type Lance
// stores, nested types included (their children recursively).
func checkColumnType(f arrow.Field) error {
	if err := checkType(f.Type); err != nil {
		return fmt.Errorf("%w: column %q has unsupported type %s: %v (see API.md: bool, ints, floats (16/32/64), decimal128/256, strings, binaries, date32/64, time32/64, timestamp, duration, list, large_list, fixed_size_list, struct, dictionary strings)", ErrInvalidArgument, f.Name, f.Type, err)
	}
	return nil
}

// checkType reports why t is not a column type of API.md, or nil.
func checkType(t arrow.DataType) error {
	switch t := t.(type) {
	case *arrow.BooleanType, *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type,
		*arrow.Float16Type, *arrow.Float32Type, *arrow.Float64Type,
		*arrow.Decimal128Type, *arrow.Decimal256Type,
		*arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType, *arrow.LargeBinaryType,
		*arrow.FixedSizeBinaryType,
		*arrow.Date32Type, *arrow.Date64Type, *arrow.Time32Type, *arrow.Time64Type,
		*arrow.TimestampType, *arrow.DurationType:
		return nil
	case *arrow.FixedSizeListType:
		if t.Len() <= 0 {
			return fmt.Errorf("fixed_size_list of size %d", t.Len())
		}
		return checkType(t.Elem())
	case *arrow.ListType:
		return checkType(t.Elem())
	case *arrow.LargeListType:
		return checkType(t.Elem())
	case *arrow.StructType:
		if t.NumFields() == 0 {
			return fmt.Errorf("struct without fields")
		}
		seen := map[string]bool{}
		for _, c := range t.Fields() {
			if c.Name == "" || seen[c.Name] {
				return fmt.Errorf("struct field names must be unique and non-empty (%q)", c.Name)
			}
			seen[c.Name] = true
			if err := checkType(c.Type); err != nil {
				return err
			}
		}
		return nil
	case *arrow.DictionaryType:
		if !arrow.IsInteger(t.IndexType.ID()) {
			return fmt.Errorf("dictionary index %s", t.IndexType)
		}
		switch t.ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			return nil
		}
		return fmt.Errorf("dictionary of %s (only dictionary strings)", t.ValueType)
	}
	return fmt.Errorf("%s", t)
}

// normalizeSchema validates a table schema and marks its primary key: the
// field named pk, or the one carrying Lance's primary-key metadata. The key
// field becomes non-nullable. It returns the schema and the key's index (-1
// for append-only tables).
func normalizeSchema(s *arrow.Schema, pk string) (*arrow.Schema, int, error) {
	if s == nil || s.NumFields() == 0 {
		return nil, -1, fmt.Errorf("%w: schema has no columns", ErrInvalidArgument)
	}
	fields := make([]arrow.Field, s.NumFields())
	pkIdx := -1
	seen := map[string]bool{}
	for i, f := range s.Fields() {
		if f.Name == "" {
			return nil, -1, fmt.Errorf("%w: column %d has an empty name", ErrInvalidArgument, i)
		}
		if seen[f.Name] {
			return nil, -1, fmt.Errorf("%w: duplicate column %q", ErrInvalidArgument, f.Name)
		}
		seen[f.Name] = true
		if err := checkColumnType(f); err != nil {
			return nil, -1, err
		}
		marked := false
		if v, ok := f.Metadata.GetValue(PrimaryKeyMetadataKey); ok && v == "true" {
			marked = true
		}
		if (pk != "" && f.Name == pk) || (pk == "" && marked) {
			if pkIdx >= 0 {
				return nil, -1, fmt.Errorf("%w: more than one primary-key column (%q and %q)", ErrInvalidArgument, fields[pkIdx].Name, f.Name)
			}
			if _, err := pkKeyType(f.Type); err != nil {
				return nil, -1, fmt.Errorf("column %q: %w", f.Name, err)
			}
			pkIdx = i
			f = withPrimaryKeyMetadata(f)
		}
		fields[i] = f
	}
	if pk != "" && pkIdx < 0 {
		return nil, -1, fmt.Errorf("%w: primary_key %q is not a column", ErrInvalidArgument, pk)
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md), pkIdx, nil
}

func withPrimaryKeyMetadata(f arrow.Field) arrow.Field {
	keys, vals := []string{PrimaryKeyMetadataKey}, []string{"true"}
	for i, k := range f.Metadata.Keys() {
		if k != PrimaryKeyMetadataKey {
			keys, vals = append(keys, k), append(vals, f.Metadata.Values()[i])
		}
	}
	f.Metadata = arrow.NewMetadata(keys, vals)
	f.Nullable = false
	return f
}

// streamPlan maps an incoming stream's columns onto the table's columns.
// Streams may order columns differently; names and types must match.
type streamPlan struct {
	order    []int // order[i] = stream column holding table column i
	identity bool  // stream order equals table order
	checkNul []int // stream columns of the table's non-nullable columns
	pkStream int   // stream column of the primary key, -1 if none
	schema   *arrow.Schema
	// noNullStructs: table columns holding structs that may not be null
	// (a 2.0 data file has no struct validity).
	noNullStructs []int
}

// planStream checks an incoming stream schema against want (the table's
// schema, or its primary-key-only schema for deletes). A mismatch names the
// first differing field.
func planStream(want, got *arrow.Schema, pkName string) (*streamPlan, error) {
	p := &streamPlan{order: make([]int, want.NumFields()), identity: want.NumFields() == got.NumFields(), pkStream: -1, schema: want}
	for i, wf := range want.Fields() {
		idx := got.FieldIndices(wf.Name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: schema mismatch: missing column %q (%s)", ErrInvalidArgument, wf.Name, wf.Type)
		}
		if len(idx) > 1 {
			return nil, fmt.Errorf("%w: schema mismatch: column %q appears %d times", ErrInvalidArgument, wf.Name, len(idx))
		}
		gf := got.Field(idx[0])
		if !arrow.TypeEqual(wf.Type, gf.Type) {
			return nil, fmt.Errorf("%w: schema mismatch: column %q is %s, table has %s%s", ErrInvalidArgument, wf.Name, gf.Type, wf.Type, dimensionHint(wf.Type, gf.Type))
		}
		// Every non-nullable column is checked, whatever the stream
		// declares: an IPC stream can carry nulls in a field it calls
		// non-nullable.
		if !wf.Nullable {
			p.checkNul = append(p.checkNul, idx[0])
		}
		if wf.Name == pkName {
			p.pkStream = idx[0]
		}
		p.order[i] = idx[0]
		if idx[0] != i {
			p.identity = false
		}
	}
	if got.NumFields() > want.NumFields() {
		for _, gf := range got.Fields() {
			if !want.HasField(gf.Name) {
				return nil, fmt.Errorf("%w: schema mismatch: unknown column %q", ErrInvalidArgument, gf.Name)
			}
		}
	}
	return p, nil
}

func dimensionHint(want, got arrow.DataType) string {
	w, ok1 := want.(*arrow.FixedSizeListType)
	g, ok2 := got.(*arrow.FixedSizeListType)
	if ok1 && ok2 && w.Len() != g.Len() {
		return fmt.Sprintf(" (wrong vector dimension: %d, want %d)", g.Len(), w.Len())
	}
	return ""
}

// apply checks one batch of the stream and returns it in table column order
// with the table's schema (a new reference the caller releases).
func (p *streamPlan) apply(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	for _, c := range p.checkNul {
		if n := rec.Column(c).NullN(); n > 0 {
			return nil, fmt.Errorf("%w: column %q is not nullable but has %d nulls", ErrInvalidArgument, rec.ColumnName(c), n)
		}
	}
	cols := make([]arrow.Array, len(p.order))
	for i, c := range p.order {
		cols[i] = rec.Column(c)
	}
	for _, c := range p.noNullStructs {
		if nullStruct(cols[c]) {
			return nil, fmt.Errorf("%w: column %q has a null struct value, which a table of data storage version 2.0 can't store (no struct validity in 2.0 files; create the table with \"data_storage_version\": \"2.1\" or later)", ErrInvalidArgument, p.schema.Field(c).Name)
		}
	}
	return array.NewRecordBatch(p.schema, cols, rec.NumRows()), nil
}

// checkKeys rejects a batch whose primary-key column has a null or the same
// key twice: within one batch "newest" would be ambiguous.
func checkKeys(col arrow.Array, name string) error {
	if n := col.NullN(); n > 0 {
		return fmt.Errorf("%w: primary key %q has %d null values", ErrInvalidArgument, name, n)
	}
	read := keyReader(col)
	seen := make(map[Key]struct{}, col.Len())
	for i := 0; i < col.Len(); i++ {
		k := read(i)
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%w: primary key %q has the value %s twice in one batch (row %d)", ErrInvalidArgument, name, formatValue(col, i), i)
		}
		seen[k] = struct{}{}
	}
	return nil
}

func formatValue(col arrow.Array, i int) string {
	s := col.ValueStr(i)
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// structColumns are the columns of s with a struct at any depth.
func structColumns(s *arrow.Schema) []int {
	var out []int
	for i, f := range s.Fields() {
		if hasStruct(f.Type) {
			out = append(out, i)
		}
	}
	return out
}

func hasStruct(t arrow.DataType) bool {
	switch t := t.(type) {
	case *arrow.StructType:
		return true
	case arrow.ListLikeType:
		return hasStruct(t.Elem())
	}
	return false
}

// nullStruct reports a null struct value anywhere in a (list items
// included).
func nullStruct(a arrow.Array) bool {
	switch x := a.(type) {
	case *array.Struct:
		if x.NullN() > 0 {
			return true
		}
		for i := 0; i < x.NumField(); i++ {
			if nullStruct(x.Field(i)) {
				return true
			}
		}
	case array.ListLike:
		return nullStruct(x.ListValues())
	}
	return false
}
