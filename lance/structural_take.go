package lance

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
)

// Point reads of 2.1/2.2 pages of top-level leaf fields (no repetition):
//
//	full-zip, fixed width: row r is bytes [r*s, (r+1)*s) of buffer 0,
//	    s = control byte (if any) + value bytes
//	full-zip, variable width: entries r and r+1 of the repetition index
//	    (buffer 1), then those bytes of buffer 0: a second round trip
//	mini-block: the chunk metadata (buffer 0) and dictionary (buffer 2)
//	    whole, then only the chunks holding the rows
//	constant without levels: nothing is read
//
// Other pages (lists, rep/def in a constant page) are read whole, as Scan
// reads them.

// compileStructuralTake returns the ranged reader of a 2.1/2.2 page of
// rows rows of top-level leaf type dt, or nil for a whole-page read.
func compileStructuralTake(pc *pageCtx, pl *e21.PageLayout, dt arrow.DataType, rows uint64) takeNode {
	switch l := pl.GetLayout().(type) {
	case *e21.PageLayout_FullZipLayout:
		fz := l.FullZipLayout
		if fz.GetBitsRep() != 0 || len(fz.GetLayers()) != 1 || len(pc.page.offsets) < 1 {
			return nil
		}
		cw := 0
		if fz.GetBitsDef() > 0 {
			cw = 1
			if fz.GetBitsDef() > 8 {
				return nil
			}
		}
		if fz.GetNumItems() != uint32(rows) && cw > 0 {
			return nil
		}
		switch d := fz.GetDetails().(type) {
		case *e21.FullZipLayout_BitsPerValue:
			stride := uint64(cw) + uint64(d.BitsPerValue)/8
			if d.BitsPerValue%8 != 0 || stride == 0 || pc.page.sizes[0] < stride*rows {
				return nil
			}
			return &fullZipTake{pc: pc, fz: fz, dt: dt, stride: stride}
		case *e21.FullZipLayout_BitsPerOffset:
			if len(pc.page.offsets) < 2 || pc.page.sizes[1]%(rows+1) != 0 {
				return nil
			}
			w := pc.page.sizes[1] / (rows + 1)
			if w != 1 && w != 2 && w != 4 && w != 8 {
				return nil
			}
			return &fullZipTake{pc: pc, fz: fz, dt: dt, idxWidth: w}
		}
	case *e21.PageLayout_MiniBlockLayout:
		mb := l.MiniBlockLayout
		if rep, _ := hasLevels(mb.GetLayers()); rep || len(mb.GetLayers()) != 1 || mb.GetNumItems() != rows {
			return nil
		}
		nb := 2
		if mb.GetDictionary() != nil {
			nb = 3
		}
		if len(pc.page.offsets) < nb {
			return nil
		}
		return &miniBlockTake{pc: pc, mb: mb, dt: dt, rows: rows}
	case *e21.PageLayout_ConstantLayout:
		if len(pc.page.offsets) == 0 && len(l.ConstantLayout.GetLayers()) == 1 {
			return &constantTake{pc: pc, cl: l.ConstantLayout, dt: dt}
		}
	}
	return nil
}

// leafArray decodes a page made of the wanted rows' bytes.
func leafArray(mem memory.Allocator, key string, pl *e21.PageLayout, bufs [][]byte, dt arrow.DataType, n int) (arrow.Array, error) {
	src := &pageSource{key: key, page: bufs}
	ld, err := decodeStructuralPage(src, pl, n)
	if err != nil {
		return nil, err
	}
	return flatLeafArray(mem, key, dt, ld, n)
}

// fullZipTake reads rows of a full-zip page.
type fullZipTake struct {
	pc       *pageCtx
	fz       *e21.FullZipLayout
	dt       arrow.DataType
	stride   uint64 // fixed width: bytes a row
	idxWidth uint64 // variable width: bytes a repetition index entry
}

func (f *fullZipTake) want(runs []rowRun, round int) error {
	if f.stride > 0 {
		if round == 0 {
			for _, r := range runs {
				f.pc.pageBuf(0).want(r.first*f.stride, (r.first+r.n)*f.stride)
			}
		}
		return nil
	}
	idx := f.pc.pageBuf(1)
	if round == 0 {
		for _, r := range runs {
			idx.want(r.first*f.idxWidth, (r.first+r.n+1)*f.idxWidth)
		}
		return nil
	}
	for _, r := range runs {
		lo, hi, err := f.span(r)
		if err != nil {
			return err
		}
		f.pc.pageBuf(0).want(lo, hi)
	}
	return nil
}

// span is the bytes of buffer 0 holding the rows of r (variable width).
func (f *fullZipTake) span(r rowRun) (uint64, uint64, error) {
	b, _, err := f.pc.pageBuf(1).get(r.first*f.idxWidth, (r.first+r.n+1)*f.idxWidth)
	if err != nil {
		return 0, 0, err
	}
	lo, hi := getUint(b, int(f.idxWidth)), getUint(b[r.n*f.idxWidth:], int(f.idxWidth))
	if lo > hi || hi > f.pc.page.sizes[0] {
		return 0, 0, corruptf(f.pc.file.key, "full-zip repetition index %d..%d of a %d-byte buffer", lo, hi, f.pc.page.sizes[0])
	}
	return lo, hi, nil
}

func (f *fullZipTake) build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error) {
	var data []byte
	for _, r := range runs {
		lo, hi := r.first*f.stride, (r.first+r.n)*f.stride
		if f.stride == 0 {
			var err error
			if lo, hi, err = f.span(r); err != nil {
				return nil, err
			}
		}
		b, _, err := f.pc.pageBuf(0).get(lo, hi)
		if err != nil {
			return nil, err
		}
		if len(runs) == 1 {
			data = b
		} else {
			data = append(data, b...)
		}
	}
	fz := proto.Clone(f.fz).(*e21.FullZipLayout)
	fz.NumItems, fz.NumVisibleItems = uint32(total), uint32(total)
	pl := &e21.PageLayout{Layout: &e21.PageLayout_FullZipLayout{FullZipLayout: fz}}
	return leafArray(mem, f.pc.file.key, pl, [][]byte{data}, f.dt, total)
}

// miniBlockTake reads the chunks of a mini-block page holding the rows.
type miniBlockTake struct {
	pc     *pageCtx
	mb     *e21.MiniBlockLayout
	dt     arrow.DataType
	rows   uint64
	chunks []chunkSpan // from the metadata, after round 0
}

// chunkSpan is one chunk: its values [first, first+n) and bytes.
type chunkSpan struct {
	first, n uint64
	off, len uint64
	word     uint64
}

func (m *miniBlockTake) wordWidth() uint64 {
	if m.mb.GetHasLargeChunk() {
		return 4
	}
	return 2
}

func (m *miniBlockTake) want(runs []rowRun, round int) error {
	if round == 0 {
		m.pc.pageBuf(0).want(0, m.pc.page.sizes[0])
		if m.mb.GetDictionary() != nil {
			m.pc.pageBuf(2).want(0, m.pc.page.sizes[2])
		}
		return nil
	}
	if err := m.parseChunks(); err != nil {
		return err
	}
	for _, c := range m.needed(runs) {
		m.pc.pageBuf(1).want(c.off, c.off+c.len)
	}
	return nil
}

// parseChunks reads the chunk metadata.
func (m *miniBlockTake) parseChunks() error {
	if m.chunks != nil {
		return nil
	}
	meta, _, err := m.pc.pageBuf(0).get(0, m.pc.page.sizes[0])
	if err != nil {
		return err
	}
	ww := m.wordWidth()
	n := uint64(len(meta)) / ww
	var first, off uint64
	for i := range n {
		w := getUint(meta[i*ww:], int(ww))
		size := ((w >> 4) + 1) * 8
		cnt := uint64(1) << (w & 15)
		if i == n-1 {
			if first > m.rows {
				return corruptf(m.pc.file.key, "mini-block chunks hold more than %d rows", m.rows)
			}
			cnt = m.rows - first
		}
		if off+size > m.pc.page.sizes[1] || first+cnt > m.rows {
			return corruptf(m.pc.file.key, "mini-block chunk %d past its page", i)
		}
		m.chunks = append(m.chunks, chunkSpan{first: first, n: cnt, off: off, len: size, word: w})
		first += cnt
		off += size
	}
	if first != m.rows {
		return corruptf(m.pc.file.key, "mini-block chunks hold %d rows, page %d", first, m.rows)
	}
	return nil
}

// needed lists the chunks holding rows of runs, in order, once each.
func (m *miniBlockTake) needed(runs []rowRun) []chunkSpan {
	var out []chunkSpan
	ci := 0
	for _, r := range runs {
		for row := r.first; row < r.first+r.n; {
			for ci < len(m.chunks) && m.chunks[ci].first+m.chunks[ci].n <= row {
				ci++
			}
			if ci == len(m.chunks) {
				return out
			}
			c := m.chunks[ci]
			if len(out) == 0 || out[len(out)-1].first != c.first {
				out = append(out, c)
			}
			row = c.first + c.n
		}
	}
	return out
}

func (m *miniBlockTake) build(mem memory.Allocator, runs []rowRun, total int) (arrow.Array, error) {
	if err := m.parseChunks(); err != nil {
		return nil, err
	}
	chunks := m.needed(runs)
	// The needed chunks as a page of their own: their metadata words
	// (the last one's count is implied), their bytes, the dictionary.
	var meta, data []byte
	ww := int(m.wordWidth())
	rows := uint64(0)
	for _, c := range chunks {
		meta = append(meta, make([]byte, ww)...)
		putUint(meta[len(meta)-ww:], ww, c.word)
		b, _, err := m.pc.pageBuf(1).get(c.off, c.off+c.len)
		if err != nil {
			return nil, err
		}
		if len(chunks) == 1 {
			data = b
		} else {
			data = append(data, b...)
		}
		rows += c.n
	}
	bufs := [][]byte{meta, data}
	if m.mb.GetDictionary() != nil {
		d, _, err := m.pc.pageBuf(2).get(0, m.pc.page.sizes[2])
		if err != nil {
			return nil, err
		}
		bufs = append(bufs, d)
	}
	mb := proto.Clone(m.mb).(*e21.MiniBlockLayout)
	mb.NumItems = rows
	pl := &e21.PageLayout{Layout: &e21.PageLayout_MiniBlockLayout{MiniBlockLayout: mb}}
	arr, err := leafArray(mem, m.pc.file.key, pl, bufs, m.dt, int(rows))
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	// The runs, relative to the decoded chunks.
	rel := make([]rowRun, 0, len(runs))
	ci, base := 0, uint64(0)
	for _, r := range runs {
		for ci < len(chunks) && chunks[ci].first+chunks[ci].n <= r.first {
			base += chunks[ci].n
			ci++
		}
		rel = append(rel, rowRun{first: base + r.first - chunks[ci].first, n: r.n})
	}
	return sliceRuns(mem, arr, rel)
}

// constantTake builds rows of a constant page without levels.
type constantTake struct {
	pc *pageCtx
	cl *e21.ConstantLayout
	dt arrow.DataType
}

func (c *constantTake) want([]rowRun, int) error { return nil }

func (c *constantTake) build(mem memory.Allocator, _ []rowRun, total int) (arrow.Array, error) {
	pl := &e21.PageLayout{Layout: &e21.PageLayout_ConstantLayout{ConstantLayout: c.cl}}
	return leafArray(mem, c.pc.file.key, pl, nil, c.dt, total)
}
