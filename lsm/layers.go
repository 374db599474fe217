package lsm

import (
	"context"

	"github.com/RoaringBitmap/roaring/v2"
)

// The one liveness rule.
//
// A region's snapshot is a stack of layers, newest first: its memtables
// (the active one, then the frozen ones, newest first, each as of the
// snapshot's watermark), then its flushed generations (highest number
// first). The base table lies below the layers of every region. A version
// of a key (a row or a tombstone) is shadowed when a newer layer holds a
// version of the same key, or, within a memtable, when a newer batch at
// or below the watermark superseded it (memBatch.live, kept by the
// memtable's key index, so MemTable.lookup returns only the newest). The
// newest version of a key is its live one, unless it is a tombstone; base
// rows also honour the base's deletion files. Newest is thus: the newer
// layer, then the higher sequence number.
//
// Scans, point lookups, nearest and full-text search (through their
// segments) and compaction decide with the functions of this file, and
// nothing else: shadowed and newest probe one key down the stack (the row
// form), shadowedRows pushes the keys of newer layers into an older one
// (the bitmap form, whose cost grows with the rows above a layer, not with
// the layer).

// layers is the number of layers of the region's stack; layer index
// layers() stands for the base, below them all.
func (rs *regionSnap) layers() int { return len(rs.mems) + len(rs.gens) }

// gen is the generation at layer li (li >= len(rs.mems)).
func (rs *regionSnap) gen(li int) *Generation { return rs.gens[li-len(rs.mems)] }

// holds reports whether layer li has a version of key (row or tombstone)
// visible at the watermark. A generation must be loaded.
func (rs *regionSnap) holds(li int, key Key) bool {
	if li < len(rs.mems) {
		_, _, ok := rs.mems[li].m.lookup(key, rs.w)
		return ok
	}
	return rs.gen(li).has(key)
}

// shadowed reports whether a layer newer than layer li holds a version of
// key (li = layers(): whether any layer does, which shadows a base row).
// The generations above li must be loaded.
func (rs *regionSnap) shadowed(key Key, li int) bool {
	for j := range li {
		if rs.holds(j, key) {
			return true
		}
	}
	return false
}

// version locates the newest version of a key: its layer (-1: none) and,
// in a memtable, its batch and row.
type version struct {
	layer int
	b     *memBatch
	row   int
}

// newest finds the newest version of key; it loads generations as it
// reaches them.
func (rs *regionSnap) newest(ctx context.Context, key Key) (version, error) {
	for li, mv := range rs.mems {
		if b, row, ok := mv.m.lookup(key, rs.w); ok {
			return version{layer: li, b: b, row: row}, nil
		}
	}
	for li := len(rs.mems); li < rs.layers(); li++ {
		if err := rs.gen(li).load(ctx); err != nil {
			return version{layer: -1}, err
		}
		if rs.holds(li, key) {
			return version{layer: li}, nil
		}
	}
	return version{layer: -1}, nil
}

// keysOf lists the keys of every version in layer li (rows and
// tombstones), to shadow the layers below it.
func (rs *regionSnap) keysOf(li int) []Key {
	if li >= len(rs.mems) {
		g := rs.gen(li)
		keys := make([]Key, 0, len(g.keys)+len(g.tombs))
		for k := range g.keys {
			keys = append(keys, k)
		}
		for k := range g.tombs {
			keys = append(keys, k)
		}
		return keys
	}
	mv := &rs.mems[li]
	var keys []Key
	for _, b := range mv.list {
		if b.seq > rs.w {
			break // lists are in sequence order
		}
		read := keyReader(b.rec.Column(mv.m.keyColumn(b.op)))
		for i := 0; i < b.rows(); i++ {
			keys = append(keys, read(i))
		}
	}
	return keys
}

// shadowedRows marks, in dead, the rows of layer li that a newer layer
// shadows, given the keys of the newer layers (keysOf each): the version
// of each such key that li holds, if it is a row. Memtable rows are
// marked at their memtable position in fragment 0; generation rows at
// their fragment and row. It is shadowed's rule, applied to whole layers.
func (rs *regionSnap) shadowedRows(li int, newer [][]Key, dead func(frag uint64) *roaring.Bitmap) {
	for _, keys := range newer {
		for _, k := range keys {
			if li < len(rs.mems) {
				if b, row, ok := rs.mems[li].m.lookup(k, rs.w); ok && b.op == OpUpsert {
					dead(0).Add(b.first + uint32(row))
				}
			} else if loc, ok := rs.gen(li).keys[k]; ok {
				dead(loc.frag).Add(loc.row)
			}
		}
	}
}

// shadowedBaseRows marks the base rows that a layer of any region shadows,
// given the keys of every region's layers.
func shadowedBaseRows(b *baseLayer, newer [][]Key, dead func(frag uint64) *roaring.Bitmap) {
	for _, keys := range newer {
		for _, k := range keys {
			if loc, ok := b.keys[k]; ok {
				dead(loc.frag).Add(loc.row)
			}
		}
	}
}
