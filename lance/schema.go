package lance

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance/lancepb/filepb"
)

// PrimaryKeyMetadataKey marks the primary-key field in Arrow field metadata
// (value "true"); Lance's own convention.
const PrimaryKeyMetadataKey = "lance-schema:unenforced-primary-key"

// schemaToFields flattens an Arrow schema into Lance's pre-order field list
// with ids from 0: a struct's fields and a list's item follow their parent
// (parent_id = the parent's id); a fixed_size_list is one leaf field.
// Invariant: field ids are the positions in the returned list.
func schemaToFields(schema *arrow.Schema) ([]*filepb.Field, error) {
	out := make([]*filepb.Field, 0, schema.NumFields())
	seen := make(map[string]bool, schema.NumFields())
	for i, f := range schema.Fields() {
		if f.Name == "" {
			return nil, fmt.Errorf("lance: field %d has an empty name", i)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("lance: duplicate field name %q", f.Name)
		}
		seen[f.Name] = true
		var err error
		if out, err = appendField(out, f, -1); err != nil {
			return nil, fmt.Errorf("lance: field %q: %w", f.Name, err)
		}
	}
	return out, nil
}

// appendField appends f and its children (pre-order) to out.
func appendField(out []*filepb.Field, f arrow.Field, parent int32) ([]*filepb.Field, error) {
	lt, err := logicalType(f.Type)
	if err != nil {
		return nil, err
	}
	pf := &filepb.Field{
		Name:        f.Name,
		Id:          int32(len(out)),
		ParentId:    parent,
		LogicalType: lt,
		Nullable:    f.Nullable,
	}
	if f.HasMetadata() {
		pf.Metadata = make(map[string][]byte, f.Metadata.Len())
		for j, k := range f.Metadata.Keys() {
			v := f.Metadata.Values()[j]
			pf.Metadata[k] = []byte(v)
			if k == PrimaryKeyMetadataKey && isTrue(v) {
				pf.UnenforcedPrimaryKey = true
			}
		}
	}
	out = append(out, pf)
	switch t := f.Type.(type) {
	case *arrow.StructType:
		for _, c := range t.Fields() {
			if out, err = appendField(out, c, pf.Id); err != nil {
				return nil, err
			}
		}
	case *arrow.ListType:
		return appendField(out, t.ElemField(), pf.Id)
	case *arrow.LargeListType:
		return appendField(out, t.ElemField(), pf.Id)
	}
	return out, nil
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// fieldTree is a manifest's field list as a tree: the top-level fields
// in schema order, and for each its leaves (the fields a 2.1/2.2 file
// stores as columns) with their paths.
type fieldTree struct {
	top      []*filepb.Field
	leaves   [][]fieldLeaf
	children map[int32][]*filepb.Field // parent id -> child fields in order
}

// fieldLeaf is one leaf field of a top-level field.
type fieldLeaf struct {
	id   int32
	path leafPath
}

// fieldsToSchema rebuilds the Arrow schema from a manifest's field list and
// schema metadata. Field metadata is restored, and the primary-key marker is
// added when only the protobuf flag carries it.
func fieldsToSchema(fields []*filepb.Field, meta map[string][]byte) (*arrow.Schema, error) {
	s, _, err := buildFieldTree(fields, meta)
	return s, err
}

// buildFieldTree rebuilds the Arrow schema and the field tree.
func buildFieldTree(fields []*filepb.Field, meta map[string][]byte) (*arrow.Schema, *fieldTree, error) {
	children := make(map[int32][]*filepb.Field)
	ids := make(map[int32]bool, len(fields))
	tree := &fieldTree{children: children}
	for _, f := range fields {
		if ids[f.GetId()] {
			return nil, nil, fmt.Errorf("duplicate field id %d", f.GetId())
		}
		ids[f.GetId()] = true
		if f.GetParentId() == -1 {
			tree.top = append(tree.top, f)
		} else {
			children[f.GetParentId()] = append(children[f.GetParentId()], f)
		}
	}
	for p := range children {
		if !ids[p] {
			return nil, nil, fmt.Errorf("field %q has no parent %d", children[p][0].GetName(), p)
		}
	}
	afs := make([]arrow.Field, 0, len(tree.top))
	for _, f := range tree.top {
		af, err := arrowField(f, children, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("lance: field %q: %w", f.GetName(), err)
		}
		afs = append(afs, af)
		var leaves []fieldLeaf
		collectLeaves(f, af.Type, children, leafPath{}, &leaves)
		tree.leaves = append(tree.leaves, leaves)
	}
	var smd *arrow.Metadata
	if len(meta) > 0 {
		keys := sortedKeys(meta)
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = string(meta[k])
		}
		m := arrow.NewMetadata(keys, vals)
		smd = &m
	}
	return arrow.NewSchema(afs, smd), tree, nil
}

// collectLeaves appends the leaves under f (of Arrow type dt) in pre-order.
func collectLeaves(f *filepb.Field, dt arrow.DataType, children map[int32][]*filepb.Field, path leafPath, out *[]fieldLeaf) {
	path.types = append(append([]arrow.DataType(nil), path.types...), dt)
	switch t := dt.(type) {
	case *arrow.StructType:
		for i, c := range children[f.GetId()] {
			p := path
			p.child = append(append([]int(nil), path.child...), i)
			collectLeaves(c, t.Field(i).Type, children, p, out)
		}
		return
	case *arrow.ListType:
		p := path
		p.child = append(append([]int(nil), path.child...), 0)
		collectLeaves(children[f.GetId()][0], t.Elem(), children, p, out)
		return
	case *arrow.LargeListType:
		p := path
		p.child = append(append([]int(nil), path.child...), 0)
		collectLeaves(children[f.GetId()][0], t.Elem(), children, p, out)
		return
	}
	*out = append(*out, fieldLeaf{id: f.GetId(), path: path})
}

// arrowField converts f and its children.
func arrowField(f *filepb.Field, children map[int32][]*filepb.Field, depth int) (arrow.Field, error) {
	if depth > 64 {
		return arrow.Field{}, unsupportedf("fields nested more than 64 deep")
	}
	lt := f.GetLogicalType()
	var dt arrow.DataType
	kids := children[f.GetId()]
	switch {
	case lt == "struct":
		fs := make([]arrow.Field, 0, len(kids))
		for _, c := range kids {
			cf, err := arrowField(c, children, depth+1)
			if err != nil {
				return arrow.Field{}, err
			}
			fs = append(fs, cf)
		}
		dt = arrow.StructOf(fs...)
	case lt == "list" || lt == "list.struct" || lt == "large_list" || lt == "large_list.struct":
		if len(kids) != 1 {
			return arrow.Field{}, fmt.Errorf("list field %q with %d children: %w", f.GetName(), len(kids), ErrCorrupt)
		}
		cf, err := arrowField(kids[0], children, depth+1)
		if err != nil {
			return arrow.Field{}, err
		}
		if strings.HasPrefix(lt, "large_") {
			dt = arrow.LargeListOfField(cf)
		} else {
			dt = arrow.ListOfField(cf)
		}
	default:
		if len(kids) > 0 {
			return arrow.Field{}, unsupportedf("field %q of type %q with child fields", f.GetName(), lt)
		}
		var err error
		if dt, err = arrowType(lt); err != nil {
			return arrow.Field{}, err
		}
	}
	af := arrow.Field{Name: f.GetName(), Type: dt, Nullable: f.GetNullable()}
	md := f.GetMetadata()
	if len(md) > 0 || f.GetUnenforcedPrimaryKey() {
		keys := sortedKeys(md)
		vals := make([]string, 0, len(keys)+1)
		for _, k := range keys {
			vals = append(vals, string(md[k]))
		}
		if _, ok := md[PrimaryKeyMetadataKey]; !ok && f.GetUnenforcedPrimaryKey() {
			keys = append(keys, PrimaryKeyMetadataKey)
			vals = append(vals, "true")
		}
		af.Metadata = arrow.NewMetadata(keys, vals)
	}
	return af, nil
}

// logicalType is Lance's string name of an Arrow type (lance-core's
// LogicalType).
func logicalType(dt arrow.DataType) (string, error) {
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return "bool", nil
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		return dt.Name(), nil
	case *arrow.Float16Type:
		return "halffloat", nil
	case *arrow.Float32Type:
		return "float", nil
	case *arrow.Float64Type:
		return "double", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal:128:%d:%d", t.Precision, t.Scale), nil
	case *arrow.Decimal256Type:
		return fmt.Sprintf("decimal:256:%d:%d", t.Precision, t.Scale), nil
	case *arrow.StringType:
		return "string", nil
	case *arrow.LargeStringType:
		return "large_string", nil
	case *arrow.BinaryType:
		return "binary", nil
	case *arrow.LargeBinaryType:
		return "large_binary", nil
	case *arrow.Date32Type:
		return "date32:day", nil
	case *arrow.Date64Type:
		return "date64:ms", nil
	case *arrow.Time32Type:
		return "time32:" + t.Unit.String(), nil
	case *arrow.Time64Type:
		return "time64:" + t.Unit.String(), nil
	case *arrow.DurationType:
		return "duration:" + t.Unit.String(), nil
	case *arrow.TimestampType:
		tz := t.TimeZone
		if tz == "" {
			tz = "-"
		}
		return "timestamp:" + t.Unit.String() + ":" + tz, nil
	case *arrow.FixedSizeBinaryType:
		return fmt.Sprintf("fixed_size_binary:%d", t.ByteWidth), nil
	case *arrow.FixedSizeListType:
		if _, ok := t.Elem().(arrow.FixedWidthDataType); !ok || t.Elem().ID() == arrow.BOOL || t.Elem().ID() == arrow.FIXED_SIZE_LIST {
			return "", unsupportedf("fixed_size_list of %s", t.Elem())
		}
		inner, err := logicalType(t.Elem())
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("fixed_size_list:%s:%d", inner, t.Len()), nil
	case *arrow.StructType:
		return "struct", nil
	case *arrow.ListType:
		if t.Elem().ID() == arrow.STRUCT {
			return "list.struct", nil
		}
		return "list", nil
	case *arrow.LargeListType:
		if t.Elem().ID() == arrow.STRUCT {
			return "large_list.struct", nil
		}
		return "large_list", nil
	case *arrow.DictionaryType:
		v, err := logicalType(t.ValueType)
		if err != nil {
			return "", err
		}
		k, err := logicalType(t.IndexType)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("dict:%s:%s:false", v, k), nil
	}
	return "", unsupportedf("column type %s", dt)
}

func timeUnit(s string) (arrow.TimeUnit, bool) {
	switch s {
	case "s":
		return arrow.Second, true
	case "ms":
		return arrow.Millisecond, true
	case "us":
		return arrow.Microsecond, true
	case "ns":
		return arrow.Nanosecond, true
	}
	return 0, false
}

// arrowType parses Lance's logical type string of a leaf type.
func arrowType(lt string) (arrow.DataType, error) {
	switch lt {
	case "bool":
		return arrow.FixedWidthTypes.Boolean, nil
	case "int8":
		return arrow.PrimitiveTypes.Int8, nil
	case "int16":
		return arrow.PrimitiveTypes.Int16, nil
	case "int32":
		return arrow.PrimitiveTypes.Int32, nil
	case "int64":
		return arrow.PrimitiveTypes.Int64, nil
	case "uint8":
		return arrow.PrimitiveTypes.Uint8, nil
	case "uint16":
		return arrow.PrimitiveTypes.Uint16, nil
	case "uint32":
		return arrow.PrimitiveTypes.Uint32, nil
	case "uint64":
		return arrow.PrimitiveTypes.Uint64, nil
	case "halffloat":
		return arrow.FixedWidthTypes.Float16, nil
	case "float":
		return arrow.PrimitiveTypes.Float32, nil
	case "double":
		return arrow.PrimitiveTypes.Float64, nil
	case "string":
		return arrow.BinaryTypes.String, nil
	case "large_string":
		return arrow.BinaryTypes.LargeString, nil
	case "binary":
		return arrow.BinaryTypes.Binary, nil
	case "large_binary", "json":
		return arrow.BinaryTypes.LargeBinary, nil
	case "date32:day":
		return arrow.FixedWidthTypes.Date32, nil
	case "date64:ms":
		return arrow.FixedWidthTypes.Date64, nil
	case "time32:s":
		return arrow.FixedWidthTypes.Time32s, nil
	case "time32:ms":
		return arrow.FixedWidthTypes.Time32ms, nil
	case "time64:us":
		return arrow.FixedWidthTypes.Time64us, nil
	case "time64:ns":
		return arrow.FixedWidthTypes.Time64ns, nil
	}
	parts := strings.Split(lt, ":")
	bad := unsupportedf("logical type %q", lt)
	switch parts[0] {
	case "duration":
		if u, ok := timeUnit(strings.TrimPrefix(lt, "duration:")); ok {
			return &arrow.DurationType{Unit: u}, nil
		}
	case "timestamp":
		rest := strings.TrimPrefix(lt, "timestamp:")
		unit, tz, ok := strings.Cut(rest, ":")
		u, uok := timeUnit(unit)
		if !ok || !uok {
			return nil, bad
		}
		if tz == "-" {
			tz = ""
		}
		return &arrow.TimestampType{Unit: u, TimeZone: tz}, nil
	case "decimal":
		if len(parts) != 4 {
			return nil, bad
		}
		p, err1 := strconv.ParseInt(parts[2], 10, 32)
		s, err2 := strconv.ParseInt(parts[3], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, bad
		}
		switch parts[1] {
		case "128":
			if p < 1 || p > 38 {
				return nil, bad
			}
			return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}, nil
		case "256":
			if p < 1 || p > 76 {
				return nil, bad
			}
			return &arrow.Decimal256Type{Precision: int32(p), Scale: int32(s)}, nil
		}
	case "fixed_size_binary":
		if len(parts) == 2 {
			n, err := strconv.ParseInt(parts[1], 10, 32)
			if err == nil && n > 0 {
				return &arrow.FixedSizeBinaryType{ByteWidth: int(n)}, nil
			}
		}
	case "dict":
		if len(parts) < 4 {
			return nil, bad
		}
		// dict:<value type>:<index type>:<ordered>; the value type may hold ':'
		idx, err := arrowType(parts[len(parts)-2])
		if err != nil {
			return nil, err
		}
		val, err := arrowType(strings.Join(parts[1:len(parts)-2], ":"))
		if err != nil {
			return nil, err
		}
		switch idx.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			return &arrow.DictionaryType{IndexType: idx, ValueType: val}, nil
		}
	case "fixed_size_list":
		if len(parts) < 3 {
			return nil, bad
		}
		dim, err := strconv.ParseInt(parts[len(parts)-1], 10, 32)
		if err != nil || dim <= 0 {
			return nil, bad
		}
		inner, err := arrowType(strings.Join(parts[1:len(parts)-1], ":"))
		if err != nil {
			return nil, err
		}
		if _, ok := inner.(arrow.FixedWidthDataType); !ok || inner.ID() == arrow.BOOL || inner.ID() == arrow.FIXED_SIZE_LIST {
			return nil, bad
		}
		return arrow.FixedSizeListOf(int32(dim), inner), nil
	}
	return nil, bad
}
