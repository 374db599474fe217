package lance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeMode is one way Take can read pages.
type takeMode struct {
	name           string
	smallPage, gap uint64
	parallel       int
	ranged         bool
}

var takeModes = []takeMode{
	{"default", 64 << 10, 64 << 10, 16, true},
	// Every page by ranges, none merged, few at a time.
	{"ranged", 0, 0, 3, true},
	// Every page decoded whole (the fallback of encodings without ranges).
	{"whole", 64 << 10, 64 << 10, 16, false},
}

// setTakeMode sets m for the rest of the test.
func setTakeMode(t testing.TB, m takeMode) {
	old := takeMode{smallPage: takeSmallPage, gap: takeCoalesceGap, parallel: takeParallel, ranged: takeRanged}
	takeSmallPage, takeCoalesceGap, takeParallel, takeRanged = m.smallPage, m.gap, m.parallel, m.ranged
	t.Cleanup(func() {
		takeSmallPage, takeCoalesceGap, takeParallel, takeRanged = old.smallPage, old.gap, old.parallel, old.ranged
	})
}

// setPageLimits sets the writer's page limits for the rest of the test.
func setPageLimits(t testing.TB, maxBytes, maxRows int) {
	oldBytes, oldRows := pageMaxBytes, pageMaxRows
	pageMaxBytes, pageMaxRows = maxBytes, maxRows
	t.Cleanup(func() { pageMaxBytes, pageMaxRows = oldBytes, oldRows })
}

// takeSchema is allTypesSchema plus a vector whose items may be null and a
// string column of mostly empty strings.
func takeSchema() *arrow.Schema {
	fields := allTypesSchema().Fields()
	fields = append(fields,
		arrow.Field{Name: "vec_item_nulls", Type: arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32), Nullable: true},
		arrow.Field{Name: "mostly_empty", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	return arrow.NewSchema(fields, nil)
}

// takeRecordOf builds n rows of schema (a selection of takeSchema's
// fields); nullable columns get nulls with probability nullP.
func takeRecordOf(mem memory.Allocator, schema *arrow.Schema, n int, nullP float64, rng *rand.Rand) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for ci, f := range schema.Fields() {
		fb := b.Field(ci)
		for range n {
			if f.Nullable && rng.Float64() < nullP {
				fb.AppendNull()
				continue
			}
			switch f.Name {
			case "vec_item_nulls":
				lb := fb.(*array.FixedSizeListBuilder)
				lb.Append(true)
				vb := lb.ValueBuilder().(*array.Float32Builder)
				for range 3 {
					if rng.IntN(4) == 0 {
						vb.AppendNull()
					} else {
						vb.Append(rng.Float32())
					}
				}
			case "mostly_empty":
				if rng.IntN(5) == 0 {
					fb.(*array.StringBuilder).Append(randString(rng))
				} else {
					fb.(*array.StringBuilder).Append("")
				}
			default:
				appendRandom(fb, rng)
			}
		}
	}
	return b.NewRecordBatch()
}

// pageStarts returns the first row of every page of every column of the
// fragment's data files.
func pageStarts(t *testing.T, d *Dataset, frag Fragment) []uint64 {
	t.Helper()
	var out []uint64
	for _, df := range frag.pb.GetFiles() {
		r, err := d.openFile(context.Background(), df)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.columns {
			for _, p := range c.pages {
				out = append(out, p.first)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// takeRowSets returns row lists for a fragment of n rows whose pages
// start at starts: edges, page boundaries, runs across them, repeats,
// random picks and all rows.
func takeRowSets(rng *rand.Rand, n uint64, starts []uint64) [][]uint64 {
	sets := [][]uint64{{}, {0}, {n - 1}, {0, n - 1}, {0, 0, n - 1, n - 1}}
	all := make([]uint64, n)
	for i := range all {
		all[i] = uint64(i)
	}
	sets = append(sets, all)
	if len(starts) > 40 {
		// A sample, first and last page included.
		sample := []uint64{starts[0], starts[len(starts)-1]}
		for _, i := range rng.Perm(len(starts) - 2)[:38] {
			sample = append(sample, starts[1+i])
		}
		slices.Sort(sample)
		starts = sample
	}
	var boundary []uint64
	for _, s := range starts {
		if s == 0 {
			continue
		}
		sets = append(sets, []uint64{s - 1}, []uint64{s}, []uint64{s - 1, s})
		boundary = append(boundary, s-1, s)
		// A run across the boundary.
		var run []uint64
		for r := s - min(s, 3); r < min(n, s+3); r++ {
			run = append(run, r)
		}
		sets = append(sets, run)
	}
	if len(boundary) > 0 {
		sets = append(sets, boundary)
	}
	for range 20 {
		k := 1 + rng.IntN(25)
		rows := make([]uint64, k)
		for i := range rows {
			rows[i] = rng.Uint64N(n)
		}
		slices.Sort(rows)
		sets = append(sets, rows)
	}
	// Every other row, and a long run from the middle.
	var odd, mid []uint64
	for r := uint64(1); r < n; r += 2 {
		odd = append(odd, r)
	}
	for r := n / 3; r < 2*n/3; r++ {
		mid = append(mid, r)
	}
	return append(sets, odd, mid)
}

// checkTake compares Take of rows (projected to columns; nil = all) with
// the same rows of want, the scan of the fragment with every column.
func checkTake(t *testing.T, mem memory.Allocator, d *Dataset, fragID uint64, want arrow.RecordBatch, rows []uint64, columns []string) {
	t.Helper()
	got, err := d.Take(context.Background(), mem, fragID, rows, columns)
	if err != nil {
		t.Fatalf("take %v: %v", rows, err)
	}
	defer got.Release()
	idx := make([]int, 0, want.NumCols())
	if columns == nil {
		for i := range int(want.NumCols()) {
			idx = append(idx, i)
		}
	} else {
		for _, c := range columns {
			idx = append(idx, want.Schema().FieldIndices(c)[0])
		}
	}
	proj := projectRecord(want, idx)
	defer proj.Release()
	if len(rows) == 0 {
		if got.NumRows() != 0 || got.NumCols() != proj.NumCols() {
			t.Fatalf("take of no rows: %dx%d", got.NumRows(), got.NumCols())
		}
		for i, c := range got.Columns() {
			if !arrow.TypeEqual(c.DataType(), proj.Column(i).DataType()) {
				t.Fatalf("column %d: %s, want %s", i, c.DataType(), proj.Column(i).DataType())
			}
		}
		return
	}
	exp := takeRuns(t, mem, proj, rows)
	defer exp.Release()
	if !got.Schema().Equal(proj.Schema()) {
		t.Fatalf("schema %s, want %s", got.Schema(), proj.Schema())
	}
	for i := range int(exp.NumCols()) {
		if !array.Equal(got.Column(i), exp.Column(i)) {
			t.Fatalf("take %v: column %s differs:\ngot  %v\nwant %v", rows, exp.ColumnName(i), got.Column(i), exp.Column(i))
		}
	}
}

// TestTakeMatchesScan: Take of edge rows, page boundaries, runs, repeats
// and random rows equals the scanned rows, for every column type, with
// and without nulls, with one and many pages per column, in every read
// mode.
func TestTakeMatchesScan(t *testing.T) {
	schema := takeSchema()
	for _, pages := range []struct {
		name              string
		maxBytes, maxRows int
	}{{"one-page", 8 << 20, 1 << 20}, {"many-pages", 1000, 50}, {"tiny-pages", 64, 7}} {
		for _, nullP := range []float64{0, 0.3, 1} {
			t.Run(fmt.Sprintf("%s/nulls=%v", pages.name, nullP), func(t *testing.T) {
				ctx := context.Background()
				mem := checkedMem(t)
				setPageLimits(t, pages.maxBytes, pages.maxRows)
				rng := rand.New(rand.NewPCG(uint64(nullP*10), uint64(pages.maxRows)))
				var recs []arrow.RecordBatch
				for _, n := range []int{123, 7, 301} {
					recs = append(recs, takeRecordOf(mem, schema, n, nullP, rng))
				}
				st := newTestStore()
				_, err := WriteDataset(ctx, st, "take.lance", schema, recs, nil)
				for _, r := range recs {
					r.Release()
				}
				if err != nil {
					t.Fatal(err)
				}
				d, err := OpenDataset(ctx, st, "take.lance")
				if err != nil {
					t.Fatal(err)
				}
				frag := d.Fragments()[0]
				want := scanAll(t, mem, d, nil, 0)
				defer want.Release()
				starts := pageStarts(t, d, frag)
				if pages.maxRows < 100 && len(starts) < 5 {
					t.Fatalf("pages start at %v", starts)
				}
				sets := takeRowSets(rng, frag.PhysicalRows, starts)
				if n, whole := rangedPages(t, d, frag); len(whole) > 0 || n < len(schema.Fields()) {
					t.Fatalf("%d pages read by ranges; whole: %v", n, whole)
				}
				for _, mode := range takeModes {
					t.Run(mode.name, func(t *testing.T) {
						setTakeMode(t, mode)
						for _, rows := range sets {
							checkTake(t, mem, d, frag.ID, want, rows, nil)
						}
						// Projected, in another order.
						cols := []string{"mostly_empty", schema.Field(20).Name, schema.Field(0).Name, "vec_item_nulls", schema.Field(35).Name}
						for _, rows := range sets[:8] {
							checkTake(t, mem, d, frag.ID, want, rows, cols)
						}
					})
				}
			})
		}
	}
}

// TestTakeRandomized writes random selections of columns with random page
// limits and null rates over several fragments and compares random Takes
// in every mode with the scan.
func TestTakeRandomized(t *testing.T) {
	ctx := context.Background()
	all := takeSchema().Fields()
	iters := 40
	if testing.Short() {
		iters = 8
	}
	for it := range iters {
		rng := rand.New(rand.NewPCG(uint64(it), 99))
		mem := checkedMem(t)
		setPageLimits(t, 16+rng.IntN(3000), 1+rng.IntN(120))
		var fields []arrow.Field
		for _, i := range rng.Perm(len(all))[:1+rng.IntN(8)] {
			fields = append(fields, all[i])
		}
		schema := arrow.NewSchema(fields, nil)
		nullP := []float64{0, 0.05, 0.5, 0.95, 1}[rng.IntN(5)]
		st := newTestStore()
		d, err := CreateDataset(ctx, st, "r.lance", schema, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 1 + rng.IntN(3) {
			var recs []arrow.RecordBatch
			for range 1 + rng.IntN(4) {
				recs = append(recs, takeRecordOf(mem, schema, 1+rng.IntN(200), nullP, rng))
			}
			nf, err := WriteFragment(ctx, st, "r.lance", schema, recs)
			for _, r := range recs {
				r.Release()
			}
			if err != nil {
				t.Fatal(err)
			}
			if d, err = d.Commit(ctx, st, Transaction{NewFragments: []NewFragment{nf}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, frag := range d.Fragments() {
			// The scan of this fragment alone.
			var parts []arrow.RecordBatch
			err := d.Scan(ctx, mem, nil, 1+rng.IntN(100), func(f Fragment, _ uint64, rec arrow.RecordBatch) error {
				if f.ID == frag.ID {
					rec.Retain()
					parts = append(parts, rec)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := concatRecords(t, mem, schema, parts)
			for _, p := range parts {
				p.Release()
			}
			n := frag.PhysicalRows
			for range 10 {
				setTakeMode(t, takeModes[rng.IntN(len(takeModes))])
				if rng.IntN(3) == 0 {
					takeSmallPage, takeCoalesceGap = uint64(rng.IntN(2000)), uint64(rng.IntN(2000))
				}
				rows := make([]uint64, rng.IntN(30))
				for i := range rows {
					rows[i] = rng.Uint64N(n)
				}
				slices.Sort(rows)
				var cols []string
				if rng.IntN(2) == 0 {
					for _, i := range rng.Perm(len(fields))[:1+rng.IntN(len(fields))] {
						cols = append(cols, fields[i].Name)
					}
				}
				checkTake(t, mem, d, frag.ID, want, rows, cols)
			}
			want.Release()
		}
	}
}

// TestTakeReadsOnlyTheRows: with the file's metadata cached, a 1-row Take
// reads the row's bytes of each column and nothing else: no tail, no
// page.
func TestTakeReadsOnlyTheRows(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	const n, dim = 20000, 64
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vec", Type: arrow.FixedSizeListOf(dim, arrow.PrimitiveTypes.Float32)},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	text := func(i int) string { return fmt.Sprintf("row %d %s", i, bytes.Repeat([]byte("x"), i%50)) }
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		vb := b.Field(1).(*array.FixedSizeListBuilder)
		vb.Append(true)
		for j := range dim {
			vb.ValueBuilder().(*array.Float32Builder).Append(float32(i + j))
		}
		if i%3 == 0 {
			b.Field(2).AppendNull()
			b.Field(3).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(text(i))
			b.Field(3).(*array.BooleanBuilder).Append(i%2 == 0)
		}
	}
	rec := b.NewRecordBatch()
	b.Release()
	st := newTestStore()
	_, err := WriteDataset(ctx, st, "rows.lance", schema, []arrow.RecordBatch{rec}, nil)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenDataset(ctx, st, "rows.lance")
	if err != nil {
		t.Fatal(err)
	}
	fragID := d.Fragments()[0].ID
	st.tailReads = 0
	// The first Take reads the file's metadata; with defaults, the small
	// flag page (5 KB) is read whole, in the first round trip.
	for _, r := range []int{7, 8} {
		st.getRanges, st.rangeBytes = 0, 0
		got, err := d.Take(ctx, mem, fragID, []uint64{uint64(r)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got.Release()
		if r == 8 && (st.tailReads != 1 || st.getRanges != 5 || st.rangeBytes > 8+4*dim+16+len(text(r))+5000+64) {
			t.Fatalf("default take read %d ranges, %d bytes, metadata %d times", st.getRanges, st.rangeBytes, st.tailReads)
		}
	}
	// Exact row ranges with the small-page and coalescing rules off.
	setTakeMode(t, takeModes[1])
	for k, r := range []uint64{0, 1, 2, 3, 5000, 9999, n - 2, n - 1} {
		st.getRanges, st.rangeBytes = 0, 0
		got, err := d.Take(ctx, mem, fragID, []uint64{r}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id := got.Column(0).(*array.Int64).Value(0); id != int64(r) {
			t.Fatalf("row %d: id %d", r, id)
		}
		if v := got.Column(1).(*array.FixedSizeList).ListValues().(*array.Float32).Value(dim - 1); v != float32(int(r)+dim-1) {
			t.Fatalf("row %d: vec ends with %v", r, v)
		}
		s := got.Column(2).(*array.String)
		if (r%3 == 0) != s.IsNull(0) || (!s.IsNull(0) && s.Value(0) != text(int(r))) {
			t.Fatalf("row %d: text %v", r, s)
		}
		got.Release()
		if st.tailReads != 1 {
			t.Fatalf("take of row %d re-read the file's metadata", r)
		}
		// id 8 bytes; vec 256; text: 2 end offsets (1 for row 0) and the
		// bytes; flag: a validity byte and a value byte.
		wantBytes := 8 + 4*dim + 16 + 2
		wantReads := 6
		if k == 0 {
			wantBytes -= 8 // row 0 starts at 0
		}
		if r%3 != 0 {
			wantBytes += len(text(int(r)))
		} else {
			wantReads-- // a null has no bytes
		}
		if st.rangeBytes != wantBytes || st.getRanges != wantReads {
			t.Fatalf("take of row %d read %d ranges, %d bytes; want %d, %d", r, st.getRanges, st.rangeBytes, wantReads, wantBytes)
		}
	}
}

// TestFileCache: the cache is bounded, shared by the Datasets its owner
// opens and by versions Commit makes, does not keep errors, and reads a
// file's metadata once when many Takes race for it.
func TestFileCache(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	st := newTestStore()
	rec := pkRecord(mem, 0, 30)
	defer rec.Release()
	d, err := WriteDataset(ctx, st, "fc.lance", pkSchema(), []arrow.RecordBatch{rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		nf, err := WriteFragment(ctx, st, "fc.lance", pkSchema(), []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		if d, err = d.Commit(ctx, st, Transaction{NewFragments: []NewFragment{nf}}); err != nil {
			t.Fatal(err)
		}
	}
	take := func(d *Dataset, frag int) {
		t.Helper()
		got, err := d.Take(ctx, mem, d.Fragments()[frag].ID, []uint64{3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got.Release()
	}
	cache := NewFileCache(2)
	d1, err := OpenDatasetWith(ctx, st, "fc.lance", OpenOptions{FileCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	st.tailReads = 0
	take(d1, 0)
	take(d1, 1)
	take(d1, 2)
	if st.tailReads != 3 || cache.Len() != 2 {
		t.Fatalf("%d metadata reads, %d cached", st.tailReads, cache.Len())
	}
	take(d1, 2)
	take(d1, 1)
	if st.tailReads != 3 {
		t.Fatalf("cached files re-read: %d", st.tailReads)
	}
	take(d1, 0) // evicted
	if st.tailReads != 4 {
		t.Fatalf("evicted file not re-read: %d", st.tailReads)
	}
	// Another Dataset of the owner, a version committed from it, an old
	// version: all share the cache.
	d2, err := OpenDatasetWith(ctx, st, "fc.lance", OpenOptions{FileCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	take(d2, 0)
	d3, err := d2.Commit(ctx, st, Transaction{Config: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	take(d3, 0)
	d4, err := OpenDatasetWith(ctx, st, "fc.lance", OpenOptions{FileCache: cache, Version: 2})
	if err != nil || d4.Version() != 2 {
		t.Fatal(d4, err)
	}
	take(d4, 0)
	if st.tailReads != 4 {
		t.Fatalf("shared cache missed: %d", st.tailReads)
	}
	// A plain OpenDataset has a private cache.
	d5, err := OpenDataset(ctx, st, "fc.lance")
	if err != nil {
		t.Fatal(err)
	}
	take(d5, 0)
	if st.tailReads != 5 {
		t.Fatalf("private cache: %d", st.tailReads)
	}
	// Errors are not cached.
	key := "fc.lance/data/" + d5.Fragments()[1].Files[0]
	data := st.objs[key]
	delete(st.objs, key)
	if _, err := d5.Take(ctx, mem, d5.Fragments()[1].ID, []uint64{0}, nil); err == nil {
		t.Fatal("take of a missing file")
	}
	st.objs[key] = data
	take(d5, 1)
	// Concurrent first Takes read the metadata once.
	d6, err := OpenDataset(ctx, st, "fc.lance")
	if err != nil {
		t.Fatal(err)
	}
	st.tailReads = 0
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			got, err := d6.Take(ctx, mem, d6.Fragments()[2].ID, []uint64{1, 2, 29}, nil)
			if err != nil {
				errs <- err
				return
			}
			got.Release()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st.tailReads != 1 {
		t.Fatalf("concurrent takes read the metadata %d times", st.tailReads)
	}
	// A canceled context fails the Take.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d6.Take(cctx, mem, d6.Fragments()[2].ID, []uint64{1}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled take: %v", err)
	}
}

// TestTakeCorruptRanged flips and truncates bytes of a data file and takes
// rows with every page read by ranges: an error wrapping ErrCorrupt or
// ErrUnsupported, or rows, never a panic.
func TestTakeCorruptRanged(t *testing.T) {
	ctx := context.Background()
	setTakeMode(t, takeModes[1])
	st, _, key := smallDataset(t)
	good := st.objs[key]
	rng := rand.New(rand.NewPCG(5, 5))
	check := func(what string) {
		d, err := OpenDataset(ctx, st, "k.lance")
		if err != nil {
			t.Fatal(err)
		}
		f := d.Fragments()[0]
		for _, rows := range [][]uint64{{0}, {f.PhysicalRows - 1}, {3, 4, 5, 17, 30}, {rng.Uint64N(f.PhysicalRows)}} {
			rec, err := d.Take(ctx, memory.NewGoAllocator(), f.ID, rows, nil)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("%s: %v", what, err)
				}
				continue
			}
			rec.Release()
		}
	}
	for i := 0; i < len(good); i += 3 {
		bad := bytes.Clone(good)
		bad[i] ^= 0xA5
		st.objs[key] = bad
		check(fmt.Sprintf("flip at %d", i))
	}
}

// fragmentScan is the scan of one fragment, all columns.
func fragmentScan(t *testing.T, mem memory.Allocator, d *Dataset, fragID uint64) arrow.RecordBatch {
	t.Helper()
	var parts []arrow.RecordBatch
	err := d.Scan(context.Background(), mem, nil, 0, func(f Fragment, _ uint64, rec arrow.RecordBatch) error {
		if f.ID == fragID {
			rec.Retain()
			parts = append(parts, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	return concatRecords(t, mem, d.Schema(), parts)
}

// rangedPages counts the pages of the fragment's columns that Take reads
// by ranges and those it decodes whole, by encoding.
func rangedPages(t *testing.T, d *Dataset, frag Fragment) (ranged int, whole map[string]int) {
	t.Helper()
	proj, _, err := d.projection(nil)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := d.sources(context.Background(), frag, proj)
	if err != nil {
		t.Fatal(err)
	}
	whole = map[string]int{}
	f := &rangeFetcher{}
	for _, s := range srcs {
		if s.file == nil {
			continue
		}
		c := s.file.columns[s.col]
		for pi := range c.pages {
			p := &c.pages[pi]
			pc := &pageCtx{file: f.file(s.file), page: p, colBuf: c.colBuf}
			if compileTake(pc, p.enc, s.dt, p.rows) != nil {
				ranged++
			} else {
				whole[fmt.Sprintf("%s %T", s.dt, p.enc.GetArrayEncoding())]++
			}
		}
	}
	return ranged, whole
}

// checkTakeAgainstScan compares, for every fragment of d and every read
// mode, Takes of edge, boundary and random rows with the fragment's scan.
func checkTakeAgainstScan(t *testing.T, mem memory.Allocator, d *Dataset, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, frag := range d.Fragments() {
		want := fragmentScan(t, mem, d, frag.ID)
		sets := takeRowSets(rng, frag.PhysicalRows, pageStarts(t, d, frag))
		for _, mode := range takeModes {
			setTakeMode(t, mode)
			for _, rows := range sets {
				checkTake(t, mem, d, frag.ID, want, rows, nil)
			}
		}
		want.Release()
	}
}

// takeRuns is takeRecord with runs of consecutive rows sliced at once.
func takeRuns(t *testing.T, mem memory.Allocator, r arrow.RecordBatch, rows []uint64) arrow.RecordBatch {
	var parts []arrow.RecordBatch
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j] == rows[j-1]+1 {
			j++
		}
		parts = append(parts, r.NewSlice(int64(rows[i]), int64(rows[j-1])+1))
		i = j
	}
	out := concatRecords(t, mem, r.Schema(), parts)
	for _, p := range parts {
		p.Release()
	}
	return out
}
