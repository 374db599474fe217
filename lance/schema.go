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

// schemaToFields flattens an Arrow schema into Lance's pre-order field list.
// Invariant: top-level field i gets id i (the schema has no nested fields
// that take ids: a fixed_size_list vector is one leaf field).
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
		lt, err := logicalType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("lance: field %q: %w", f.Name, err)
		}
		pf := &filepb.Field{
			Name:        f.Name,
			Id:          int32(i),
			ParentId:    -1,
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

// fieldsToSchema rebuilds the Arrow schema from a manifest's field list and
// schema metadata. Field metadata is restored, and the primary-key marker is
// added when only the protobuf flag carries it.
func fieldsToSchema(fields []*filepb.Field, meta map[string][]byte) (*arrow.Schema, error) {
	afs := make([]arrow.Field, 0, len(fields))
	for _, f := range fields {
		if f.GetParentId() != -1 {
			return nil, unsupportedf("nested field %q (parent %d)", f.GetName(), f.GetParentId())
		}
		dt, err := arrowType(f.GetLogicalType())
		if err != nil {
			return nil, fmt.Errorf("lance: field %q: %w", f.GetName(), err)
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
		afs = append(afs, af)
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
	return arrow.NewSchema(afs, smd), nil
}

// logicalType is Lance's string name of an Arrow type.
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
	case *arrow.TimestampType:
		tz := t.TimeZone
		if tz == "" {
			tz = "-"
		}
		return "timestamp:" + t.Unit.String() + ":" + tz, nil
	case *arrow.FixedSizeListType:
		if _, ok := t.Elem().(arrow.FixedWidthDataType); !ok || t.Elem().ID() == arrow.BOOL {
			return "", unsupportedf("fixed_size_list of %s", t.Elem())
		}
		inner, err := logicalType(t.Elem())
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("fixed_size_list:%s:%d", inner, t.Len()), nil
	}
	return "", unsupportedf("column type %s", dt)
}

// arrowType parses Lance's logical type string.
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
	case "large_binary":
		return arrow.BinaryTypes.LargeBinary, nil
	case "date32:day":
		return arrow.FixedWidthTypes.Date32, nil
	}
	if rest, ok := strings.CutPrefix(lt, "timestamp:"); ok {
		unit, tz, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, unsupportedf("logical type %q", lt)
		}
		var u arrow.TimeUnit
		switch unit {
		case "s":
			u = arrow.Second
		case "ms":
			u = arrow.Millisecond
		case "us":
			u = arrow.Microsecond
		case "ns":
			u = arrow.Nanosecond
		default:
			return nil, unsupportedf("logical type %q", lt)
		}
		if tz == "-" {
			tz = ""
		}
		return &arrow.TimestampType{Unit: u, TimeZone: tz}, nil
	}
	if rest, ok := strings.CutPrefix(lt, "fixed_size_list:"); ok {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return nil, unsupportedf("logical type %q", lt)
		}
		dim, err := strconv.ParseInt(rest[i+1:], 10, 32)
		if err != nil || dim <= 0 {
			return nil, unsupportedf("logical type %q", lt)
		}
		inner, err := arrowType(rest[:i])
		if err != nil {
			return nil, err
		}
		if _, ok := inner.(arrow.FixedWidthDataType); !ok || inner.ID() == arrow.BOOL {
			return nil, unsupportedf("logical type %q", lt)
		}
		return arrow.FixedSizeListOf(int32(dim), inner), nil
	}
	return nil, unsupportedf("logical type %q", lt)
}
