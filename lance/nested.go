package lance

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/flightwal/flightwal/lance/lancepb/filepb"
)

// From repetition and definition levels to Arrow arrays (2.1/2.2 files).
//
// A 2.1/2.2 file stores one column per leaf field. A top-level field of a
// nested type (struct, list, large_list, and any nesting of them) is
// rebuilt from each of its leaves: every leaf column yields a partial tree
// (ptree) along its path, the trees of one field are merged (struct nodes
// take the union of their children) and the result becomes one Arrow
// array.

// leafPath is the path from a top-level field to one of its leaves.
type leafPath struct {
	types []arrow.DataType // top-level type first, leaf type last
	child []int            // at a struct step, the child index taken
}

// ptree is a partial Arrow array along one or more leaf paths.
type ptree struct {
	dt     arrow.DataType
	n      int
	valid  []byte // bitmap of n bits; nil = all valid
	nulls  int
	offs   []int64        // list: n+1 offsets into child
	child  *ptree         // list item
	fields map[int]*ptree // struct children present
	leaf   arrow.Array    // leaf values (owned)
}

func (p *ptree) release() {
	if p == nil {
		return
	}
	if p.leaf != nil {
		p.leaf.Release()
	}
	p.child.release()
	for _, c := range p.fields {
		c.release()
	}
}

// pnode is a ptree under construction.
type pnode struct {
	dt    arrow.DataType
	list  bool
	valid []bool
	nulls int
	offs  []int64
}

func (b *pnode) push(valid bool) {
	b.valid = append(b.valid, valid)
	if !valid {
		b.nulls++
	}
}

// buildLeafTree turns one leaf's levels and values into a ptree of rows
// top-level rows along path.
func buildLeafTree(mem memory.Allocator, key string, path leafPath, ld *leafData, rows int) (*ptree, error) {
	k := len(path.types) - 1
	if len(ld.layers) != len(path.types) {
		return nil, corruptf(key, "column of %d repetition/definition layers for a field of depth %d", len(ld.layers), len(path.types))
	}
	meanings, err := defMeanings(key, ld.layers)
	if err != nil {
		return nil, err
	}
	nodes := make([]*pnode, len(path.types))
	var listDepths []int
	for t, dt := range path.types {
		isList := isListType(dt)
		if isList != isListLayer(ld.layers[k-t]) {
			return nil, corruptf(key, "layer %v for a field of type %s", ld.layers[k-t], dt)
		}
		nodes[t] = &pnode{dt: dt, list: isList}
		if isList {
			listDepths = append(listDepths, t)
		}
	}
	maxRep := len(listDepths)
	maxVis := maxVisibleDef(ld.layers)
	if ld.rep == nil && maxRep > 0 {
		return nil, corruptf(key, "list column without repetition levels")
	}
	leafValid := make([]bool, 0, ld.vals.n)
	consumed := 0
	// childLen is the length of node t+1 (what a list at t offsets into).
	childLen := func(t int) int64 {
		if t+1 == k {
			return int64(len(leafValid))
		}
		return int64(len(nodes[t+1].valid))
	}
	for e := range ld.entries {
		d := 0
		if ld.def != nil {
			d = int(ld.def[e])
		}
		if d >= len(meanings) {
			return nil, corruptf(key, "definition level %d of %d", d, len(meanings)-1)
		}
		nullDepth, empty := k+1, false
		if d > 0 {
			nullDepth, empty = k-meanings[d].layer, meanings[d].empty
		}
		s := 0
		if ld.rep != nil {
			r := int(ld.rep[e])
			if r > maxRep {
				return nil, corruptf(key, "repetition level %d of %d", r, maxRep)
			}
			if r < maxRep {
				s = listDepths[maxRep-1-r] + 1
				if e == 0 {
					return nil, corruptf(key, "first entry continues a list (repetition %d)", r)
				}
			}
		}
		for t := s; t <= k; t++ {
			valid := t < nullDepth || (t == nullDepth && empty)
			if t == k {
				if d <= maxVis {
					if consumed >= ld.vals.n {
						return nil, corruptf(key, "levels need more than the page's %d values", ld.vals.n)
					}
					consumed++
				} else {
					return nil, corruptf(key, "invisible definition level %d reaches the leaf", d)
				}
				leafValid = append(leafValid, valid)
				break
			}
			nd := nodes[t]
			nd.push(valid)
			if nd.list {
				nd.offs = append(nd.offs, childLen(t))
				if t >= nullDepth {
					break // a null or empty list holds nothing
				}
			}
		}
	}
	if consumed != ld.vals.n {
		return nil, corruptf(key, "levels use %d of the page's %d values", consumed, ld.vals.n)
	}
	top := len(nodes[0].valid)
	if k == 0 {
		top = len(leafValid)
	}
	if top != rows {
		return nil, corruptf(key, "levels make %d rows, want %d", top, rows)
	}
	leaf, err := blockToArray(mem, key, path.types[k], ld.vals, leafValid)
	if err != nil {
		return nil, err
	}
	var p *ptree = &ptree{dt: path.types[k], n: leaf.Len(), leaf: leaf}
	for t := k - 1; t >= 0; t-- {
		nd := nodes[t]
		q := &ptree{dt: nd.dt, n: len(nd.valid), nulls: nd.nulls}
		if nd.nulls > 0 {
			q.valid = boolsToBitmap(nd.valid)
		}
		if nd.list {
			q.offs = append(nd.offs, int64(p.n))
			q.child = p
		} else {
			q.fields = map[int]*ptree{path.child[t]: p}
		}
		p = q
	}
	return p, nil
}

func isListType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.LIST, arrow.LARGE_LIST:
		return true
	}
	return false
}

func boolsToBitmap(v []bool) []byte {
	b := make([]byte, (len(v)+7)/8)
	for i, ok := range v {
		if ok {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return b
}

// mergeTrees merges b into a (same field, another leaf).
func mergeTrees(key string, a, b *ptree) error {
	if a.n != b.n {
		return corruptf(key, "leaf columns of one field disagree: %d and %d values", a.n, b.n)
	}
	switch {
	case a.fields != nil:
		for i, c := range b.fields {
			if have, ok := a.fields[i]; ok {
				if err := mergeTrees(key, have, c); err != nil {
					return err
				}
			} else {
				a.fields[i] = c
			}
		}
		b.fields = nil
	case a.child != nil:
		if err := mergeTrees(key, a.child, b.child); err != nil {
			return err
		}
		b.child = nil
	default:
		return corruptf(key, "two columns for one leaf")
	}
	b.release()
	return nil
}

// toArrow builds the Arrow array of a complete tree (consuming it).
func (p *ptree) toArrow(mem memory.Allocator) (arrow.Array, error) {
	if p.leaf != nil {
		a := p.leaf
		p.leaf = nil
		return a, nil
	}
	var validity *memory.Buffer
	if p.valid != nil {
		validity = memory.NewBufferBytes(p.valid)
	}
	var children []arrow.ArrayData
	defer func() {
		for _, c := range children {
			c.Release()
		}
	}()
	var bufs []*memory.Buffer
	switch t := p.dt.(type) {
	case *arrow.StructType:
		for i := range t.NumFields() {
			c, ok := p.fields[i]
			var ca arrow.Array
			if !ok {
				ca = array.MakeArrayOfNull(mem, t.Field(i).Type, p.n)
			} else {
				var err error
				if ca, err = c.toArrow(mem); err != nil {
					return nil, err
				}
			}
			children = append(children, ca.Data())
			ca.Data().Retain()
			ca.Release()
		}
		bufs = []*memory.Buffer{validity}
	case *arrow.ListType, *arrow.LargeListType:
		ca, err := p.child.toArrow(mem)
		if err != nil {
			return nil, err
		}
		children = append(children, ca.Data())
		ca.Data().Retain()
		ca.Release()
		var ob *memory.Buffer
		if t.ID() == arrow.LIST {
			o := make([]int32, len(p.offs))
			for i, v := range p.offs {
				o[i] = int32(v)
			}
			ob = memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(o))
		} else {
			ob = memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(p.offs))
		}
		bufs = []*memory.Buffer{validity, ob}
	default:
		return nil, fmt.Errorf("lance: nested type %s", p.dt)
	}
	d := array.NewData(p.dt, p.n, bufs, children, p.nulls, 0)
	defer d.Release()
	return array.MakeFromData(d), nil
}

// blockToArray makes the Arrow array of leaf type dt from decoded values
// and their validity (one bool per value; nil = all valid).
func blockToArray(mem memory.Allocator, key string, dt arrow.DataType, v *block, valid []bool) (arrow.Array, error) {
	n := v.n
	if valid != nil && len(valid) != n {
		return nil, corruptf(key, "%d validity entries for %d values", len(valid), n)
	}
	var bm *memory.Buffer
	nulls := 0
	if valid != nil {
		for _, ok := range valid {
			if !ok {
				nulls++
			}
		}
		if nulls > 0 {
			bm = memory.NewBufferBytes(boolsToBitmap(valid))
		}
	}
	if v.bits == -1 { // an all-null page: no values stored
		if nulls != n {
			return nil, corruptf(key, "constant page without a value has valid rows")
		}
		return array.MakeArrayOfNull(mem, dt, n), nil
	}
	if d, ok := dt.(*arrow.DictionaryType); ok {
		vals, err := blockToArray(mem, key, d.ValueType, v, valid)
		if err != nil {
			return nil, err
		}
		defer vals.Release()
		return dictionaryEncode(mem, d, vals)
	}
	mk := func(bufs []*memory.Buffer, children []arrow.ArrayData) arrow.Array {
		d := array.NewData(dt, n, bufs, children, nulls, 0)
		defer d.Release()
		return array.MakeFromData(d)
	}
	switch t := dt.(type) {
	case *arrow.StringType, *arrow.BinaryType, *arrow.LargeStringType, *arrow.LargeBinaryType:
		if v.bits != 0 {
			return nil, corruptf(key, "%d-bit values for %s", v.bits, dt)
		}
		base := v.offs[0]
		data := v.data[base:v.offs[n]]
		var ob []byte
		if t.ID() == arrow.STRING || t.ID() == arrow.BINARY {
			if v.offs[n]-base > 1<<31-1 {
				return nil, unsupportedf("%s: page of %d bytes of %s", key, v.offs[n]-base, dt)
			}
			o := make([]int32, n+1)
			for i := range o {
				o[i] = int32(v.offs[i] - base)
			}
			ob = arrow.Int32Traits.CastToBytes(o)
		} else {
			o := make([]int64, n+1)
			for i := range o {
				o[i] = int64(v.offs[i] - base)
			}
			ob = arrow.Int64Traits.CastToBytes(o)
		}
		return mk([]*memory.Buffer{bm, memory.NewBufferBytes(ob), memory.NewBufferBytes(data)}, nil), nil
	case *arrow.FixedSizeListType:
		ew, ok := bitWidth(t.Elem())
		if !ok || v.bits != ew || v.dim != int(t.Len()) {
			return nil, corruptf(key, "values of %d x %d bits for %s", v.dim, v.bits, dt)
		}
		var ivb *memory.Buffer
		inulls := 0
		if v.itemValid != nil {
			inulls = n*v.dim - bitutil.CountSetBits(v.itemValid, 0, n*v.dim)
			if inulls > 0 {
				ivb = memory.NewBufferBytes(v.itemValid)
			}
		}
		cd := array.NewData(t.Elem(), n*v.dim, []*memory.Buffer{ivb, memory.NewBufferBytes(v.data[:fixedLen(v)])}, nil, inulls, 0)
		defer cd.Release()
		return mk([]*memory.Buffer{bm}, []arrow.ArrayData{cd}), nil
	}
	w, ok := bitWidth(dt)
	if !ok {
		return nil, unsupportedf("%s: column type %s", key, dt)
	}
	if v.bits != w || v.dim != 1 {
		return nil, corruptf(key, "values of %d bits for %s", v.bits*v.dim, dt)
	}
	return mk([]*memory.Buffer{bm, memory.NewBufferBytes(v.data[:fixedLen(v)])}, nil), nil
}

// dictionaryEncode turns values into a dictionary array of type d.
func dictionaryEncode(mem memory.Allocator, d *arrow.DictionaryType, vals arrow.Array) (arrow.Array, error) {
	b := array.NewDictionaryBuilder(mem, d)
	defer b.Release()
	if err := b.AppendArray(vals); err != nil {
		return nil, fmt.Errorf("lance: dictionary of %s: %w", d, err)
	}
	return b.NewArray(), nil
}

// readNested20 decodes a nested field of a 2.0 file whole. A 2.0 file has
// a column per field: a struct column holds no data (2.0 has no struct
// validity), a list column holds end offsets like binary's (a null list's
// end plus null_offset_adjustment), and its item field's column holds the
// items of all rows.
func (s columnSource) readNested20(ctx context.Context, mem memory.Allocator, f *filepb.Field, dt arrow.DataType, n int, depth int) (arrow.Array, error) {
	key := s.file.key
	if depth > 64 {
		return nil, unsupportedf("%s: fields nested more than 64 deep", key)
	}
	col, ok := s.cols20[f.GetId()]
	if !ok {
		return nil, corruptf(key, "no column for field %q (id %d)", f.GetName(), f.GetId())
	}
	kids := s.tree.children[f.GetId()]
	switch t := dt.(type) {
	case *arrow.StructType:
		if len(kids) != t.NumFields() {
			return nil, corruptf(key, "struct %q of %d fields has %d child fields", f.GetName(), t.NumFields(), len(kids))
		}
		children := make([]arrow.ArrayData, 0, len(kids))
		defer func() {
			for _, c := range children {
				c.Release()
			}
		}()
		for i, k := range kids {
			c, err := s.readNested20(ctx, mem, k, t.Field(i).Type, n, depth+1)
			if err != nil {
				return nil, err
			}
			children = append(children, c.Data())
			c.Data().Retain()
			c.Release()
		}
		d := array.NewData(dt, n, []*memory.Buffer{nil}, children, 0, 0)
		defer d.Release()
		return array.MakeFromData(d), nil
	case *arrow.ListType, *arrow.LargeListType:
		if len(kids) != 1 {
			return nil, corruptf(key, "list %q with %d child fields", f.GetName(), len(kids))
		}
		offs := make([]int64, 1, n+1)
		var valid []bool
		nulls := 0
		for pi := range s.file.columns[col].pages {
			p := &s.file.columns[col].pages[pi]
			l := p.enc.GetList()
			if l == nil {
				return nil, unsupportedf("%s: list page encoding %T", key, p.enc.GetArrayEncoding())
			}
			src, err := s.file.readPageBuffers(ctx, s.store, col, pi)
			if err != nil {
				return nil, err
			}
			rows := int(p.rows)
			ends, err := decodeUints(src, l.GetOffsets(), rows)
			if err != nil {
				return nil, err
			}
			base := offs[len(offs)-1]
			adj := l.GetNullOffsetAdjustment()
			prev := uint64(0)
			for i := range rows {
				v := ends(i)
				null := adj > 0 && v >= adj
				if adj > 0 {
					v %= adj
				}
				if v < prev || v > l.GetNumItems() {
					return nil, corruptf(key, "list end offset %d at row %d (previous %d, %d items)", v, i, prev, l.GetNumItems())
				}
				if null {
					if valid == nil {
						valid = make([]bool, len(offs)-1, n)
						for j := range valid {
							valid[j] = true
						}
					}
					nulls++
				}
				if valid != nil {
					valid = append(valid, !null)
				}
				offs = append(offs, base+int64(v))
				prev = v
			}
			if prev != l.GetNumItems() {
				offs[len(offs)-1] = base + int64(l.GetNumItems())
				if len(offs) > 1 && offs[len(offs)-1] < offs[len(offs)-2] {
					return nil, corruptf(key, "list page of %d items ends at %d", l.GetNumItems(), prev)
				}
			}
		}
		if len(offs) != n+1 {
			return nil, corruptf(key, "list column of %d rows, want %d", len(offs)-1, n)
		}
		items, err := s.readNested20(ctx, mem, kids[0], t.(arrow.ListLikeType).Elem(), int(offs[n]), depth+1)
		if err != nil {
			return nil, err
		}
		p := &ptree{dt: dt, n: n, offs: offs, nulls: nulls, child: &ptree{leaf: items, n: items.Len(), dt: items.DataType()}}
		if nulls > 0 {
			p.valid = boolsToBitmap(valid)
		}
		return p.toArrow(mem)
	}
	// a leaf: its column's pages, concatenated
	if n == 0 {
		return array.MakeArrayOfNull(mem, dt, 0), nil
	}
	if s.file.columns[col].rows != uint64(n) {
		return nil, corruptf(key, "column %d of %d values, want %d", col, s.file.columns[col].rows, n)
	}
	parts := make([]arrow.Array, 0, len(s.file.columns[col].pages))
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for pi := range s.file.columns[col].pages {
		a, err := s.file.readPage(ctx, s.store, mem, col, pi, dt)
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	if len(parts) == 1 {
		a := parts[0]
		parts = nil
		return a, nil
	}
	return array.Concatenate(parts, mem)
}
