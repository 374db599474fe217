package lance

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance/lancepb/filepb"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// DefaultBatchRows is the Scan batch size used when batchRows <= 0.
const DefaultBatchRows = 8192

// projection resolves column names (nil = all) to schema indices.
func (d *Dataset) projection(columns []string) ([]int, *arrow.Schema, error) {
	if columns == nil {
		idx := make([]int, d.schema.NumFields())
		for i := range idx {
			idx[i] = i
		}
		return idx, d.schema, nil
	}
	idx := make([]int, 0, len(columns))
	fields := make([]arrow.Field, 0, len(columns))
	for _, c := range columns {
		i := d.schema.FieldIndices(c)
		if len(i) != 1 {
			return nil, nil, fmt.Errorf("lance: %s has no column %q", d.root, c)
		}
		idx = append(idx, i[0])
		fields = append(fields, d.schema.Field(i[0]))
	}
	md := d.schema.Metadata()
	return idx, arrow.NewSchema(fields, &md), nil
}

// columnSource locates one field's column in a fragment: a column of a
// data file, or nothing (a field added after the fragment was written
// reads as nulls).
type columnSource struct {
	store objstore.Store
	file  *fileReader // nil: all nulls
	col   int
	dt    arrow.DataType
	// leaves are the columns of a nested field in a 2.1/2.2 file (one
	// per leaf field); the field is then decoded whole, not by page.
	leaves []leafColumn
	// A nested field in a 2.0 file: the field, the field tree and the
	// column of each field id in the file.
	field  *filepb.Field
	tree   *fieldTree
	cols20 map[int32]int
	// legacy is the field's pages in a legacy (v1) file.
	legacy   *columnInfo
	nullable bool
	name     string // the field, for errors
}

// fieldErr names the field in an error about reading it.
func (s columnSource) fieldErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("lance: field %q: %w", s.name, err)
}

// pages are the column's pages.
func (s columnSource) pages() []pageInfo {
	if s.legacy != nil {
		return s.legacy.pages
	}
	return s.file.columns[s.col].pages
}

// nested reports whether the field is decoded whole (a nested field).
func (s columnSource) nested() bool { return s.leaves != nil || s.cols20 != nil }

// leafColumn is one leaf field's column in a 2.1/2.2 file.
type leafColumn struct {
	col  int
	path leafPath
}

// openFile returns the reader of a data file, from d's FileCache when it
// holds the file's metadata.
func (d *Dataset) openFile(ctx context.Context, df *tablepb.DataFile) (*fileReader, error) {
	legacy := df.GetFileMajorVersion() == 0 && df.GetFileMinorVersion() <= 2
	if !legacy && (df.GetFileMajorVersion() != dataFileMajor || df.GetFileMinorVersion() > 2) {
		return nil, unsupportedf("%s: data file format %d.%d (formats 2.0, 2.1 and 2.2 are read)", df.GetPath(), df.GetFileMajorVersion(), df.GetFileMinorVersion())
	}
	return d.files.open(ctx, d.store, join(d.root, dataDir+"/"+df.GetPath()), int64(df.GetFileSizeBytes()))
}

// sources opens the data files of frag that hold the projected fields.
func (d *Dataset) sources(ctx context.Context, frag Fragment, proj []int) ([]columnSource, error) {
	out := make([]columnSource, len(proj))
	for i, fi := range proj {
		id := d.fields[fi].GetId()
		out[i].dt = d.schema.Field(fi).Type
		out[i].store = d.store
		out[i].name = d.schema.Field(fi).Name
		leaves := d.tree.leaves[fi]
		nested := len(leaves) != 1 || len(leaves[0].path.types) != 1
		for _, df := range frag.pb.GetFiles() {
			// A 2.0 file has a column per field, a 2.1/2.2 file one per
			// leaf field; a top-level leaf is both.
			j := slices.Index(df.GetFields(), id)
			if nested && df.GetFileMinorVersion() > 0 {
				j = slices.Index(df.GetFields(), leaves[0].id)
			}
			if j < 0 {
				continue
			}
			r, err := d.openFile(ctx, df)
			if err != nil {
				return nil, err
			}
			if r.numRows != frag.PhysicalRows {
				return nil, corruptf(r.key, "file has %d rows, fragment %d has %d", r.numRows, frag.ID, frag.PhysicalRows)
			}
			column := func(j int) (int, error) {
				col := j
				if ci := df.GetColumnIndices(); len(ci) > 0 {
					col = int(ci[j])
				}
				if col < 0 || col >= len(r.columns) {
					return 0, corruptf(r.key, "column index %d of %d columns", col, len(r.columns))
				}
				return col, nil
			}
			if r.legacy != nil {
				if nested {
					return nil, unsupportedf("%s: field %q of type %s in a legacy file", r.key, d.fields[fi].GetName(), out[i].dt)
				}
				lo, hi := slices.Min(df.GetFields()), slices.Max(df.GetFields())
				col, err := r.legacyPages(ctx, d.store, id, lo, hi)
				if err != nil {
					return nil, err
				}
				out[i].file, out[i].legacy, out[i].nullable = r, col, d.fields[fi].GetNullable()
				break
			}
			if nested && r.minor > 0 && isPackedStruct(d.fields[fi]) {
				return nil, unsupportedf("%s: field %q is a packed struct (one column of packed children)", r.key, d.fields[fi].GetName())
			}
			if nested {
				out[i].file = r
				if r.minor == 0 {
					out[i].field, out[i].tree = d.fields[fi], d.tree
					out[i].cols20 = make(map[int32]int, len(df.GetFields()))
					for k, fid := range df.GetFields() {
						col, err := column(k)
						if err != nil {
							return nil, err
						}
						out[i].cols20[fid] = col
					}
					break
				}
				for _, l := range leaves {
					k := slices.Index(df.GetFields(), l.id)
					if k < 0 {
						return nil, corruptf(r.key, "file holds field %d but not its sibling leaf %d", leaves[0].id, l.id)
					}
					col, err := column(k)
					if err != nil {
						return nil, err
					}
					out[i].leaves = append(out[i].leaves, leafColumn{col: col, path: l.path})
				}
				out[i].file = r
				break
			}
			col, err := column(j)
			if err != nil {
				return nil, err
			}
			if r.columns[col].rows != r.numRows {
				return nil, corruptf(r.key, "column %d pages hold %d rows, file %d", col, r.columns[col].rows, r.numRows)
			}
			out[i].file, out[i].col = r, col
			break
		}
	}
	return out, nil
}

// readNested decodes a nested field of a 2.1/2.2 file whole: every leaf
// column's pages, merged into one array of the fragment's rows.
func (s columnSource) readNested(ctx context.Context, mem memory.Allocator) (arrow.Array, error) {
	if s.cols20 != nil {
		return s.readNested20(ctx, mem, s.field, s.dt, int(s.file.numRows), 0)
	}
	var tree *ptree
	defer func() { tree.release() }()
	for _, l := range s.leaves {
		ld, err := s.file.readLeafPages(ctx, s.store, l.col)
		if err != nil {
			return nil, err
		}
		t, err := buildLeafTree(mem, s.file.key, l.path, ld, int(s.file.numRows))
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", l.col, err)
		}
		if tree == nil {
			tree = t
		} else if err := mergeTrees(s.file.key, tree, t); err != nil {
			t.release()
			return nil, err
		}
	}
	if tree == nil {
		return nil, corruptf(s.file.key, "nested field without leaf columns")
	}
	a, err := tree.toArrow(mem)
	return a, err
}

// columnCursor reads consecutive row ranges of one column, keeping the
// current decoded page so each page is read and decoded once per scan.
type columnCursor struct {
	src    columnSource
	page   int
	cur    arrow.Array
	curLo  uint64
	curHi  uint64
	loaded bool
}

func (c *columnCursor) release() {
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
}

// read returns rows [lo, hi) of the column as a new array.
func (c *columnCursor) read(ctx context.Context, mem memory.Allocator, lo, hi uint64) (arrow.Array, error) {
	if c.src.file == nil {
		return array.MakeArrayOfNull(mem, c.src.dt, int(hi-lo)), nil
	}
	var parts []arrow.Array
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for lo < hi {
		if !c.loaded || lo < c.curLo || lo >= c.curHi {
			if err := c.seek(ctx, mem, lo); err != nil {
				return nil, err
			}
		}
		end := min(hi, c.curHi)
		parts = append(parts, array.NewSlice(c.cur, int64(lo-c.curLo), int64(end-c.curLo)))
		lo = end
	}
	if len(parts) == 1 {
		a := parts[0]
		parts = nil
		return a, nil
	}
	return array.Concatenate(parts, mem)
}

// seek decodes the page holding row.
func (c *columnCursor) seek(ctx context.Context, mem memory.Allocator, row uint64) error {
	if c.src.nested() {
		arr, err := c.src.readNested(ctx, mem)
		if err != nil {
			return c.src.fieldErr(err)
		}
		c.release()
		c.page, c.cur, c.curLo, c.curHi, c.loaded = 0, arr, 0, c.src.file.numRows, true
		return nil
	}
	pages := c.src.pages()
	i := c.page
	if i >= len(pages) || row < pages[i].first {
		i = 0
	}
	for i < len(pages) && row >= pages[i].first+pages[i].rows {
		i++
	}
	if i == len(pages) {
		return corruptf(c.src.file.key, "row %d past column %d's pages", row, c.src.col)
	}
	var arr arrow.Array
	var err error
	if c.src.legacy != nil {
		arr, err = c.src.file.readLegacyPage(ctx, c.src.store, mem, &pages[i], c.src.dt, c.src.nullable)
	} else {
		arr, err = c.src.file.readPage(ctx, c.src.store, mem, c.src.col, i, c.src.dt)
	}
	if err != nil {
		return c.src.fieldErr(err)
	}
	c.release()
	c.page, c.cur, c.curLo, c.curHi, c.loaded = i, arr, pages[i].first, pages[i].first+pages[i].rows, true
	return nil
}

// Scan streams every fragment's rows in order, projected to columns (nil =
// all), in batches of at most batchRows (DefaultBatchRows if <= 0).
// firstRow is the offset within the fragment of rec's row 0. Deleted rows
// ARE included: callers apply DeletionBitmap. fn must not keep rec after
// returning unless it Retains it.
func (d *Dataset) Scan(ctx context.Context, mem memory.Allocator, columns []string, batchRows int, fn func(frag Fragment, firstRow uint64, rec arrow.RecordBatch) error) error {
	proj, schema, err := d.projection(columns)
	if err != nil {
		return err
	}
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	for _, frag := range d.fragments {
		if err := d.scanFragment(ctx, mem, frag, proj, schema, batchRows, fn); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dataset) scanFragment(ctx context.Context, mem memory.Allocator, frag Fragment, proj []int, schema *arrow.Schema, batchRows int, fn func(Fragment, uint64, arrow.RecordBatch) error) error {
	srcs, err := d.sources(ctx, frag, proj)
	if err != nil {
		return err
	}
	cursors := make([]*columnCursor, len(srcs))
	for i, s := range srcs {
		cursors[i] = &columnCursor{src: s}
	}
	defer func() {
		for _, c := range cursors {
			c.release()
		}
	}()
	for lo, hi := uint64(0), uint64(0); lo < frag.PhysicalRows; lo = hi {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi = min(frag.PhysicalRows, lo+uint64(batchRows))
		// A batch ends where a column's page ends if that still leaves
		// a good share of a batch: the column is then a slice of its
		// decoded page, not a concatenation (a copy) of two. Wide columns
		// (vectors: a page holds ~2,000 rows of 1024 floats) set the pace.
		for _, c := range cursors {
			if c.src.file == nil {
				continue
			}
			if !c.loaded || lo < c.curLo || lo >= c.curHi {
				if err := c.seek(ctx, mem, lo); err != nil {
					return err
				}
			}
			if c.curHi < hi && c.curHi-lo >= uint64(batchRows)/8 {
				hi = c.curHi
			}
		}
		cols := make([]arrow.Array, len(cursors))
		release := func() {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}
		for i, c := range cursors {
			if cols[i], err = c.read(ctx, mem, lo, hi); err != nil {
				release()
				return err
			}
		}
		rec := array.NewRecordBatch(schema, cols, int64(hi-lo))
		release()
		err := fn(frag, lo, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// isPackedStruct reports a struct field Lance stores packed in one column
// (field metadata "lance-encoding:packed" or the older "packed").
func isPackedStruct(f *filepb.Field) bool {
	for _, k := range []string{"lance-encoding:packed", "packed"} {
		if v, ok := f.GetMetadata()[k]; ok && isTrue(string(v)) {
			return true
		}
	}
	return false
}
