package lance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// DataStorageVersion is the Lance data file format a dataset's files use
// (the manifest's data_format.version): Version20, Version21 or Version22.
// A dataset's new data files must use its version, so that Lance accepts
// them.
type DataStorageVersion string

const (
	Version20 DataStorageVersion = "2.0"
	Version21 DataStorageVersion = "2.1"
	Version22 DataStorageVersion = "2.2"
)

// ParseDataStorageVersion parses a data storage version as LanceDB's
// new_table_data_storage_version takes it: "2.0", "2.1", "2.2", or
// "stable" (2.2, LanceDB 0.39's default). "" is 2.0, flightwal's default.
// The legacy format and the unstable "next" (2.3) are refused.
func ParseDataStorageVersion(s string) (DataStorageVersion, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "2.0":
		return Version20, nil
	case "2.1":
		return Version21, nil
	case "2.2", "stable":
		return Version22, nil
	}
	return "", fmt.Errorf("lance: data storage version %q (flightwal writes 2.0, 2.1 and 2.2): %w", s, ErrUnsupported)
}

// minor is the data file format's minor version (0, 1, 2).
func (v DataStorageVersion) minor() int {
	switch v {
	case Version21:
		return 1
	case Version22:
		return 2
	}
	return 0
}

// DataStorageVersion is the data file format of the dataset (its
// manifest's data_format.version; 2.0 if unset).
func (d *Dataset) DataStorageVersion() DataStorageVersion {
	v, err := ParseDataStorageVersion(d.manifest.GetDataFormat().GetVersion())
	if err != nil {
		// a version this package does not write (legacy, 2.3): the
		// caller's append fails on the data file versions instead
		return DataStorageVersion(d.manifest.GetDataFormat().GetVersion())
	}
	return v
}

// fieldSubtree returns f and its descendants in pre-order.
func fieldSubtree(fields []*filepb.Field, f *filepb.Field) []*filepb.Field {
	out := []*filepb.Field{f}
	for _, c := range fields {
		if c.GetParentId() == f.GetId() {
			out = append(out, fieldSubtree(fields, c)...)
		}
	}
	return out
}

// dataFile builds the manifest's DataFile of nf: its columns mapped by
// name to the dataset's field ids. A 2.0 file has a column per field
// (nested fields' parents and children in pre-order), a 2.1/2.2 file one
// per leaf field.
func (nf NewFragment) dataFile(fields []*filepb.Field) (*tablepb.DataFile, error) {
	minor := nf.Version.minor()
	df := &tablepb.DataFile{
		Path:             nf.Path,
		FileMajorVersion: dataFileMajor,
		FileMinorVersion: uint32(minor),
		FileSizeBytes:    nf.SizeBytes,
	}
	col := int32(0)
	for _, af := range nf.Schema.Fields() {
		i := slices.IndexFunc(fields, func(f *filepb.Field) bool { return f.GetName() == af.Name && f.GetParentId() == -1 })
		if i < 0 {
			return nil, fmt.Errorf("lance: new fragment %s: column %q is not in the table schema", nf.Path, af.Name)
		}
		mine, err := appendField(nil, af, -1)
		if err != nil {
			return nil, err
		}
		theirs := fieldSubtree(fields, fields[i])
		if len(mine) != len(theirs) {
			return nil, fmt.Errorf("lance: new fragment %s: column %q is %s, table has another shape", nf.Path, af.Name, af.Type)
		}
		for k, f := range theirs {
			if f.GetLogicalType() != mine[k].GetLogicalType() {
				return nil, fmt.Errorf("lance: new fragment %s: column %q is %s, table has %s", nf.Path, af.Name, mine[k].GetLogicalType(), f.GetLogicalType())
			}
			leaf := k == len(theirs)-1 || theirs[k+1].GetParentId() != f.GetId()
			if minor == 0 || leaf {
				df.Fields = append(df.Fields, f.GetId())
				df.ColumnIndices = append(df.ColumnIndices, col)
				col++
			}
		}
	}
	return df, nil
}

// isNested reports a type stored as more than one 2.0 column.
func isNested(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRUCT, arrow.LIST, arrow.LARGE_LIST:
		return true
	}
	return false
}

// checkNewFragments refuses new fragments whose data files are not in the
// dataset's data storage version (Lance expects one version per dataset).
func (d *Dataset) checkNewFragments(nfs []NewFragment) error {
	want := d.DataStorageVersion()
	for _, nf := range nfs {
		got, err := ParseDataStorageVersion(string(nf.Version))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("lance: commit: new fragment %s is in data file format %s, dataset %s is %s (use WriteFragmentVersion with Dataset.DataStorageVersion): %w",
				nf.Path, got, d.root, want, ErrUnsupported)
		}
	}
	return nil
}

// WriteFragment writes recs as a new fragment's data file in the
// dataset's data storage version, for a Transaction on d.
func (d *Dataset) WriteFragment(ctx context.Context, store objstore.Store, schema *arrow.Schema, recs []arrow.RecordBatch) (NewFragment, error) {
	return WriteFragmentVersion(ctx, store, d.root, schema, recs, d.DataStorageVersion())
}
