package lance

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
)

// pageSeed is one fuzz input: [u8 leaf][u16 rows][u16 layout length]
// [layout][u8 buffers]([u32 length][bytes])*.
func pageSeed(leaf int, rows int, layout []byte, bufs [][]byte) []byte {
	b := []byte{byte(leaf)}
	b = binary.LittleEndian.AppendUint16(b, uint16(rows))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(layout)))
	b = append(b, layout...)
	b = append(b, byte(len(bufs)))
	for _, x := range bufs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(x)))
		b = append(b, x...)
	}
	return b
}

// parsePageSeed undoes pageSeed.
func parsePageSeed(b []byte) (leaf, rows int, layout []byte, bufs [][]byte, ok bool) {
	if len(b) < 5 {
		return
	}
	leaf, rows = int(b[0]), int(binary.LittleEndian.Uint16(b[1:]))
	n := int(binary.LittleEndian.Uint16(b[3:]))
	b = b[5:]
	if len(b) < n+1 {
		return
	}
	layout, b = b[:n], b[n:]
	nb := int(b[0])
	b = b[1:]
	for range nb {
		if len(b) < 4 {
			return
		}
		l := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		if l > len(b) {
			return
		}
		bufs = append(bufs, b[:l])
		b = b[l:]
	}
	return leaf, rows, layout, bufs, true
}

// FuzzDecodePage decodes fuzzed 2.1/2.2 pages (layout protobuf and
// buffers; seeds: every page of the types fixtures' 2.1 and 2.2 files) as
// one of the types fixtures' leaf paths: an error wrapping ErrCorrupt or
// ErrUnsupported, or an array, never a panic (the decoder is called
// without its recover) nor an allocation out of proportion to the input.
func FuzzDecodePage(f *testing.F) {
	ctx := context.Background()
	var paths []leafPath
	for _, v := range []string{"2.1", "2.2"} {
		for _, lv := range []string{"0.31.0", "0.39.0"} {
			fx := typesFixture(f, lv, v)
			d, err := OpenDataset(ctx, newLocalStore(f, fx.dir), fx.name+".lance")
			if err != nil {
				f.Fatal(err)
			}
			if paths == nil {
				for _, ls := range d.tree.leaves {
					for _, l := range ls {
						paths = append(paths, l.path)
					}
				}
			}
			df := d.Fragments()[1].pb.GetFiles()[0]
			r, err := d.openFile(ctx, df)
			if err != nil {
				f.Fatal(err)
			}
			for ci, c := range r.columns {
				for pi, p := range c.pages {
					src, err := r.readPageBuffers(ctx, d.store, ci, pi)
					if err != nil {
						f.Fatal(err)
					}
					total := 0
					for _, b := range src.page {
						total += len(b)
					}
					if total > 16<<10 {
						continue // large seeds make minimizing slow
					}
					lb, _ := proto.Marshal(p.layout)
					f.Add(pageSeed(ci, int(p.rows), lb, src.page))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		leaf, rows, layout, bufs, ok := parsePageSeed(data)
		if !ok {
			return
		}
		pl := &e21.PageLayout{}
		if proto.Unmarshal(layout, pl) != nil {
			return
		}
		path := paths[leaf%len(paths)]
		src := &pageSource{key: "fuzz.lance", page: bufs}
		ld, err := decodeLayout(src, pl, rows)
		if err == nil {
			var tree *ptree
			if tree, err = buildLeafTree(memory.DefaultAllocator, "fuzz.lance", path, ld, rows); err == nil {
				var a arrow.Array
				if a, err = tree.toArrow(memory.DefaultAllocator); err == nil {
					if a.Len() != rows {
						t.Fatalf("%d rows, want %d", a.Len(), rows)
					}
					a.Release()
				}
			}
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}

// TestCorrupt21DataFile truncates and flips bytes of a 2.2 data file
// LanceDB wrote: reads fail with errors naming the file (truncation) or
// succeed or fail cleanly (flips), never panic.
func TestCorrupt21DataFile(t *testing.T) {
	ctx := context.Background()
	src := typesFixture(t, "0.39.0", "2.2")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src.dir)); err != nil {
		t.Fatal(err)
	}
	root := src.name + ".lance"
	d, err := OpenDataset(ctx, newLocalStore(t, dir), root)
	if err != nil {
		t.Fatal(err)
	}
	df := d.Fragments()[1].pb.GetFiles()[0]
	path := filepath.Join(dir, root, "data", df.GetPath())
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, data []byte, mustFail bool) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st := newLocalStore(t, dir)
		d, err := OpenDataset(ctx, st, root)
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewGoAllocator()
		err = d.Scan(ctx, mem, nil, 0, func(Fragment, uint64, arrow.RecordBatch) error { return nil })
		if err == nil {
			var rec arrow.RecordBatch
			if rec, err = d.Take(ctx, mem, 1, []uint64{0, 50, 99}, nil); err == nil {
				rec.Release()
			}
		}
		switch {
		case err == nil && mustFail:
			t.Fatalf("%s: read succeeded", what)
		case err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported):
			t.Fatalf("%s: %v, want ErrCorrupt or ErrUnsupported", what, err)
		case err != nil && !strings.Contains(err.Error(), df.GetPath()):
			t.Fatalf("%s: %v does not name the file", what, err)
		}
	}
	// The manifest records the size: a shorter file is a short read.
	for _, cut := range []int{0, 39, 40, len(good) / 2, len(good) - 41, len(good) - 1} {
		check("truncated", good[:cut], true)
	}
	// Flips: a sample of the pages, and the metadata at the end closely.
	for i := 0; i < len(good); i += 397 {
		bad := bytes.Clone(good)
		bad[i] ^= 0xA5
		check("flipped", bad, false)
	}
	for i := max(0, len(good)-4096); i < len(good); i += 7 {
		bad := bytes.Clone(good)
		bad[i] ^= 0xA5
		check("flipped", bad, false)
	}
}

// TestUnsupportedEncodingNamesFileFieldAndEncoding: a 2.2 page in an
// encoding this package does not decode (packed_struct, which Lance
// writes only for struct fields marked packed) fails Scan and Take with
// ErrUnsupported naming the data file, the field and the encoding. And a
// byte_stream_split page (written when compression is asked for) reads.
func TestUnsupportedEncodingNamesFileFieldAndEncoding(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	src := typesFixture(t, "0.39.0", "2.2")
	d := src.open(t)
	df := d.Fragments()[0].pb.GetFiles()[0]
	r, err := d.openFile(ctx, df) // the Dataset's FileCache keeps r
	if err != nil {
		t.Fatal(err)
	}
	// Make the page of the column "u64" (mini-block, flat{64}) claim
	// packed_struct.
	col := slices.Index(df.GetFields(), int32(4)) // u64
	p := &r.columns[col].pages[0]
	good := p.layout
	p.layout = proto.Clone(p.layout).(*e21.PageLayout)
	p.layout.GetMiniBlockLayout().ValueCompression = &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_PackedStruct{
		PackedStruct: &e21.PackedStruct{BitsPerValue: []uint64{64}, Values: flatEnc21(64)},
	}}
	defer func() { p.layout = good }()
	check := func(what string, err error) {
		t.Helper()
		t.Logf("%s: %v", what, err)
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("%s: %v, want ErrUnsupported", what, err)
		}
		for _, want := range []string{df.GetPath(), `field "u64"`, "packed_struct"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not name %s", what, err, want)
			}
		}
	}
	check("CheckReadable", d.CheckReadable(ctx))
	err = d.Scan(ctx, mem, []string{"id", "u64"}, 0, func(Fragment, uint64, arrow.RecordBatch) error { return nil })
	check("scan", err)
	old := takeSmallPage
	takeSmallPage = 0
	defer func() { takeSmallPage = old }()
	rec, err := d.Take(ctx, mem, d.Fragments()[0].ID, []uint64{1, 2}, []string{"u64"})
	if rec != nil {
		rec.Release()
	}
	check("take", err)
}

// TestByteStreamSplitChunk decodes a byte_stream_split chunk of four
// int32 values.
func TestByteStreamSplitChunk(t *testing.T) {
	vals := []uint32{0x04030201, 0x14131211, 0x24232221, 0x34333231}
	var split []byte
	for j := range 4 {
		for _, v := range vals {
			split = append(split, byte(v>>(8*j)))
		}
	}
	enc := &e21.CompressiveEncoding{Compression: &e21.CompressiveEncoding_ByteStreamSplit{ByteStreamSplit: &e21.ByteStreamSplit{Values: flatEnc21(32)}}}
	blk, err := decodeMiniValuesC("t", enc, [][]byte{split}, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := binary.LittleEndian.Uint32(blk.data[4*i:]); got != v {
			t.Errorf("value %d = %#x, want %#x", i, got, v)
		}
	}
}
