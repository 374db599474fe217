package lance

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// pkRecord builds rows [lo, hi) of pkSchema.
func pkRecord(mem memory.Allocator, lo, hi int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, pkSchema())
	defer b.Release()
	for i := lo; i < hi; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		vb := b.Field(1).(*array.FixedSizeListBuilder)
		vb.Append(true)
		for j := range 4 {
			vb.ValueBuilder().(*array.Float32Builder).Append(float32(i*4 + j))
		}
		if i%5 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(strings.Repeat("x", i%7))
		}
	}
	return b.NewRecordBatch()
}

func TestCommitAppendDeleteRemove(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	st := newTestStore()
	schema := pkSchema()
	d, err := CreateDataset(ctx, st, "c.lance", schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	var nfs []NewFragment
	for _, r := range [][2]int{{0, 100}, {100, 150}} {
		rec := pkRecord(mem, r[0], r[1])
		nf, err := WriteFragment(ctx, st, "c.lance", schema, []arrow.RecordBatch{rec})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		nfs = append(nfs, nf)
	}
	d, err = d.Commit(ctx, st, Transaction{NewFragments: nfs})
	if err != nil {
		t.Fatal(err)
	}
	fr := d.Fragments()
	if d.Version() != 2 || len(fr) != 2 || fr[0].ID != 0 || fr[1].ID != 1 || d.CountRows() != 150 {
		t.Fatalf("v%d frags %+v", d.Version(), fr)
	}
	// Small deletion (Arrow file), then a merge with a large one (Roaring .bin).
	d, err = d.Commit(ctx, st, Transaction{Deletions: map[uint64][]uint32{0: {3, 5, 99}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.manifest.GetReaderFeatureFlags() != flagDeletionFiles || d.CountRows() != 147 {
		t.Fatalf("flags %d rows %d", d.manifest.GetReaderFeatureFlags(), d.CountRows())
	}
	bm, err := d.DeletionBitmap(ctx, 0)
	if err != nil || bm.GetCardinality() != 3 || !bm.Contains(99) {
		t.Fatalf("bitmap %v %v", bm, err)
	}
	if df := d.Fragments()[0].pb.GetDeletionFile(); !strings.HasSuffix(deletionKey("c.lance", 0, df), ".arrow") {
		t.Fatal("small deletion not an arrow file")
	}
	old := arrowDeletionMax
	arrowDeletionMax = 2
	d, err = d.Commit(ctx, st, Transaction{Deletions: map[uint64][]uint32{0: {4, 5}}})
	arrowDeletionMax = old
	if err != nil {
		t.Fatal(err)
	}
	if df := d.Fragments()[0].pb.GetDeletionFile(); !strings.HasSuffix(deletionKey("c.lance", 0, df), ".bin") || df.GetNumDeletedRows() != 4 {
		t.Fatalf("merged deletion %v", df)
	}
	d, err = OpenDataset(ctx, st, "c.lance")
	if err != nil {
		t.Fatal(err)
	}
	bm, err = d.DeletionBitmap(ctx, 0)
	if err != nil || !bm.Equals(roaring.BitmapOf(3, 4, 5, 99)) {
		t.Fatalf("reopened bitmap %v %v", bm, err)
	}
	if bm, err := d.DeletionBitmap(ctx, 1); err != nil || bm != nil {
		t.Fatalf("fragment 1 bitmap %v %v", bm, err)
	}
	// Remove fragment 0, append one more: ids keep growing.
	rec := pkRecord(mem, 150, 160)
	nf, err := WriteFragment(ctx, st, "c.lance", schema, []arrow.RecordBatch{rec})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	d, err = d.Commit(ctx, st, Transaction{RemoveFragments: []uint64{0}, NewFragments: []NewFragment{nf}})
	if err != nil {
		t.Fatal(err)
	}
	fr = d.Fragments()
	if len(fr) != 2 || fr[0].ID != 1 || fr[1].ID != 2 || d.CountRows() != 60 || d.manifest.GetReaderFeatureFlags() != 0 {
		t.Fatalf("after remove: %+v rows %d", fr, d.CountRows())
	}
	// Deleting every row drops the fragment.
	all := make([]uint32, 10)
	for i := range all {
		all[i] = uint32(i)
	}
	d, err = d.Commit(ctx, st, Transaction{Deletions: map[uint64][]uint32{2: all}})
	if err != nil || len(d.Fragments()) != 1 {
		t.Fatalf("delete all: %v %+v", err, d.Fragments())
	}
	// Bad transactions.
	for _, tx := range []Transaction{
		{RemoveFragments: []uint64{9}},
		{Deletions: map[uint64][]uint32{1: {50}}},
		{Deletions: map[uint64][]uint32{7: {1}}},
		{NewFragments: []NewFragment{{Path: "x.lance", Rows: 1, Schema: arrow.NewSchema([]arrow.Field{{Name: "nope", Type: arrow.PrimitiveTypes.Int64}}, nil)}}},
	} {
		if _, err := d.Commit(ctx, st, tx); err == nil {
			t.Fatalf("bad transaction %+v committed", tx)
		}
	}
	// Concurrent commits from one snapshot: exactly one wins.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := d.Commit(ctx, st, Transaction{Config: map[string]string{"k": "v"}})
			errs <- err
		}()
	}
	wins := 0
	for range 8 {
		if err := <-errs; err == nil {
			wins++
		} else if !errors.Is(err, ErrConflict) {
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d commits won", wins)
	}
}

func TestScanWithDeletionsIncluded(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	st := newTestStore()
	rec := pkRecord(mem, 0, 20)
	d, err := WriteDataset(ctx, st, "s.lance", pkSchema(), []arrow.RecordBatch{rec}, nil)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	d, err = d.Commit(ctx, st, Transaction{Deletions: map[uint64][]uint32{0: {0, 19}}})
	if err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, mem, d, []string{"id"}, 0)
	defer got.Release()
	if got.NumRows() != 20 || d.CountRows() != 18 {
		t.Fatalf("scan %d rows, count %d", got.NumRows(), d.CountRows())
	}
}

func TestDeletionFileForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bm := roaring.New()
	for range 5000 {
		bm.Add(rng.Uint32N(100000))
	}
	a, err := encodeArrowDeletions(bm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeDeletionFile("x.arrow", 0, a, 100000)
	if err != nil || !got.Equals(bm) {
		t.Fatalf("arrow form: %v", err)
	}
	b, err := bm.ToBytes()
	if err != nil {
		t.Fatal(err)
	}
	got, err = decodeDeletionFile("x.bin", 1, b, 100000)
	if err != nil || !got.Equals(bm) {
		t.Fatalf("bitmap form: %v", err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, a[:len(a)/2], b[:len(b)/2]} {
		for typ := range 2 {
			if _, err := decodeDeletionFile("bad", tablepbType(typ), bad, 100000); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("corrupt deletion file type %d: %v", typ, err)
			}
		}
	}
}

func tablepbType(i int) tablepb.DeletionFile_DeletionFileType {
	return tablepb.DeletionFile_DeletionFileType(i)
}

func roaringOf(v ...uint32) *roaring.Bitmap { return roaring.BitmapOf(v...) }
