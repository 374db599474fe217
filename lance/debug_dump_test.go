package lance

import (
	"context"
	"encoding/hex"
	"os"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
)

// TestDumpDataset prints a dataset's manifest and page encodings
// (LANCE_DUMP=<dir>:<root>); a debugging aid, skipped otherwise.
func TestDumpDataset(t *testing.T) {
	spec := os.Getenv("LANCE_DUMP")
	if spec == "" {
		t.Skip("set LANCE_DUMP=dir:root")
	}
	var dir, root string
	for i := len(spec) - 1; i >= 0; i-- {
		if spec[i] == ':' {
			dir, root = spec[:i], spec[i+1:]
			break
		}
	}
	ctx := context.Background()
	st := newDirStore(dir)
	d, err := OpenDataset(ctx, st, root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("manifest: %s", prototext.Format(d.manifest))
	for _, f := range d.fragments {
		for _, df := range f.pb.GetFiles() {
			r, err := d.openFile(ctx, df)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("file %s rows %d cols %d", df.GetPath(), r.numRows, len(r.columns))
			for ci, c := range r.columns {
				for pi, p := range c.pages {
					if pi < 2 || pi == len(c.pages)-1 {
						enc := prototext.Format(p.enc)
						if p.layout != nil {
							enc = prototext.Format(p.layout)
						}
						t.Logf("  col %d page %d/%d rows %d bufs %v colbufs %d: %s", ci, pi, len(c.pages), p.rows, p.sizes, len(c.colBuf), enc)
						if os.Getenv("LANCE_DUMP_COL") == strconv.Itoa(ci) {
							src, err := r.readPageBuffers(ctx, st, ci, pi)
							if err != nil {
								t.Fatal(err)
							}
							for k, b := range src.page {
								t.Logf("    buffer %d:\n%s", k, hex.Dump(b[:min(len(b), 256)]))
							}
						}
					}
				}
			}
		}
	}
}
