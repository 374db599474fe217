package lance

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestReadsOnlyRequestedColumns pins that readers use ranged reads and
// never fetch pages of columns (or rows) that were not asked for.
func TestReadsOnlyRequestedColumns(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	st := newTestStore()
	oldRows := pageMaxRows
	pageMaxRows = 100
	defer func() { pageMaxRows = oldRows }()
	// 1,000 rows: id (8 KB), vec (16 KB), text.
	rec := pkRecord(mem, 0, 1000)
	d, err := WriteDataset(ctx, st, "io.lance", pkSchema(), []arrow.RecordBatch{rec}, nil)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	fileSize := int(d.Fragments()[0].pb.GetFiles()[0].GetFileSizeBytes())
	d, _ = OpenDataset(ctx, st, "io.lance")
	// Opening a file reads its last 64 KiB (here: all of it) once; count
	// what the scan reads after that.
	if _, err := d.openFile(ctx, d.Fragments()[0].pb.GetFiles()[0]); err != nil {
		t.Fatal(err)
	}
	st.getRanges, st.rangeBytes, st.gets = 0, 0, 0
	got := scanAll(t, mem, d, []string{"id"}, 0)
	if got.NumRows() != 1000 {
		t.Fatal(got.NumRows())
	}
	got.Release()
	r, _ := d.openFile(ctx, d.Fragments()[0].pb.GetFiles()[0])
	meta := 0
	for _, c := range r.columns {
		for _, p := range c.pages {
			for _, s := range p.sizes {
				meta += int(s)
			}
		}
	}
	metaBytes := fileSize - meta // footer, tables, schema, column metadata, padding
	if st.gets != 0 {
		t.Fatalf("%d whole-object reads of data files", st.gets)
	}
	// id pages: 10 pages x 800 bytes.
	if st.rangeBytes != 8000 || st.getRanges != 10 {
		t.Fatalf("scan of id read %d bytes (file %d, metadata %d)", st.rangeBytes, fileSize, metaBytes)
	}
	// Take of two rows reads only those rows' 16 bytes...
	take := func() {
		t.Helper()
		st.getRanges, st.rangeBytes = 0, 0
		tk, err := d.Take(ctx, mem, 0, []uint64{5, 950}, []string{"vec"})
		if err != nil {
			t.Fatal(err)
		}
		tk.Release()
	}
	setTakeMode(t, takeModes[1])
	take()
	if st.getRanges != 2 || st.rangeBytes != 2*16 {
		t.Fatalf("ranged take read %d ranges, %d bytes", st.getRanges, st.rangeBytes)
	}
	// ... but by default pages this small are read whole, and ranges less
	// than 64 KiB apart in one read: here the vec column's ten pages.
	setTakeMode(t, takeModes[0])
	take()
	if st.getRanges != 1 || st.rangeBytes != 10*100*16 {
		t.Fatalf("take read %d ranges, %d bytes", st.getRanges, st.rangeBytes)
	}
}
