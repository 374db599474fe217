package lsm

import (
	"context"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/flightwal/flightwal/objstore"
)

// TestShadowingRowAndBitmapAgree: the row form of the liveness rule
// (shadowed, probing one key down the stack) and its bitmap form
// (shadowedRows, pushing newer keys into a layer) mark the same rows
// dead, in every layer of a stack of memtables and generations with
// upserts and deletes of overlapping keys; newest agrees with both.
func TestShadowingRowAndBitmapAgree(t *testing.T) {
	ctx := context.Background()
	db, mem := testDB(t, objstore.NewMem(), Options{CompactAfterGenerations: -1})
	defer func() { db.Close(); mem.AssertSize(t, 0) }()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "s", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	del := func(ids ...int64) {
		rec := delBatch(mem, ids)
		defer rec.Release()
		w, err := tbl.NewWriter(rec.Schema(), OpDelete)
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.Write(ctx, mem, rec)
		if err == nil {
			err = tbl.WaitDurable(ctx, res)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	step := func(v int64, ids ...int64) {
		if err := writeIDs(t, tbl, mem, v, ids...); err != nil {
			t.Fatal(err)
		}
	}
	step(1, 1, 2, 3, 4, 5, 6)
	del(6)
	mustFlush := func() {
		if _, err := tbl.Flush(ctx, -1); err != nil {
			t.Fatal(err)
		}
	}
	mustFlush() // generation 1
	step(2, 2, 3)
	del(4)
	mustFlush() // generation 2
	step(3, 3, 6)
	tbl.Freeze(ctx, -1) // a frozen memtable
	step(4, 1)
	del(2) // the active memtable

	s := tbl.Snapshot()
	defer s.Release()
	rs := &s.regions[0]
	for li := range rs.layers() {
		if li >= len(rs.mems) {
			if err := rs.gen(li).load(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for li := range rs.layers() {
		var newer [][]Key
		for j := range li {
			newer = append(newer, rs.keysOf(j))
		}
		bitmap := map[uint64]*roaring.Bitmap{}
		rs.shadowedRows(li, newer, func(f uint64) *roaring.Bitmap { return deadOf(bitmap, f) })
		rows := map[uint64]*roaring.Bitmap{}
		if li < len(rs.mems) {
			mv := rs.mems[li]
			for _, b := range mv.list {
				if b.op != OpUpsert || b.seq > rs.w {
					continue
				}
				read := keyReader(b.rec.Column(0))
				for i := 0; i < b.rows(); i++ {
					// Rows a newer batch of the same memtable replaced
					// are not the layer's version of their key.
					if b.live(i, rs.w) && rs.shadowed(read(i), li) {
						deadOf(rows, 0).Add(b.first + uint32(i))
					}
				}
			}
		} else {
			g := rs.gen(li)
			for frag, keys := range g.rowKeys {
				for row, k := range keys {
					// A row that is not its key's version in the
					// generation (a _tombstone row) is dead already.
					if g.live(frag, uint32(row)) && rs.shadowed(k, li) {
						deadOf(rows, frag).Add(uint32(row))
					}
				}
			}
		}
		for _, m := range []map[uint64]*roaring.Bitmap{bitmap, rows} {
			for f, bm := range m {
				if bm.IsEmpty() {
					delete(m, f)
				}
			}
		}
		if len(bitmap) != len(rows) {
			t.Fatalf("layer %d: bitmap form marks fragments %v, row form %v", li, bitmap, rows)
		}
		for f, bm := range bitmap {
			if !bm.Equals(rows[f]) {
				t.Fatalf("layer %d fragment %d: bitmap form %v, row form %v", li, f, bm, rows[f])
			}
		}
	}
	// newest: key 2 was deleted in the active memtable (layer 0), key 3
	// last written to the frozen one (layer 1), key 5 only in generation 1
	// (the oldest layer), key 7 nowhere.
	for key, want := range map[int64]int{2: 0, 3: 1, 5: rs.layers() - 1, 7: -1} {
		if got, err := rs.newest(ctx, signedKey(key)); err != nil || got.layer != want {
			t.Fatalf("newest(%d) = layer %d (%v), want %d", key, got.layer, err, want)
		}
	}
}
