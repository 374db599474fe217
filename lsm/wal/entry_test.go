package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/objstore"
)

const dim = 4

var schema = datagen.Schema(dim) // id (primary key), vec, text

func keys(mem memory.Allocator, ids ...int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(ids, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(KeySchema(schema, 0), []arrow.Array{a}, int64(len(ids)))
}

func testCodec(mem memory.Allocator) codec { return codec{mem: mem, schema: schema, pkCol: 0} }

func TestEntryRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := testCodec(mem)
	up := datagen.Batch(mem, dim, 1, 0, 3)
	defer up.Release()
	del := keys(mem, 2)
	defer del.Release()
	data, err := c.encode(nil, 3, 42, 11, []Item{{Rec: up, Seq: 10, Op: OpUpsert}, {Rec: del, Seq: 11, Op: OpDelete}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.decode(data, 42)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release()
	if e.Epoch != 3 || e.Pos != 42 || e.LastSeq != 11 || len(e.Batches) != 2 || e.IsFence() {
		t.Fatalf("decoded %+v", e)
	}
	if b := e.Batches[1]; e.Batches[0].Seq != 10 || b.Op != OpDelete || b.Rec.NumCols() != 1 || b.Rec.NumRows() != 1 {
		t.Fatalf("batches %+v", e.Batches)
	}
	if !e.Batches[0].Rec.Schema().Equal(schema) {
		t.Fatalf("upsert batch schema %s", e.Batches[0].Rec.Schema())
	}
	// Fence entries carry no batches.
	fence, err := c.encode(nil, 4, 43, 11, nil)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := c.decode(fence, 43)
	if err != nil || !fe.IsFence() || fe.Epoch != 4 {
		t.Fatalf("fence: %+v %v", fe, err)
	}
}

func TestBitrevNames(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 3, 1 << 40, ^uint64(0)} {
		name := BitrevName(n)
		if len(name) != 64 {
			t.Fatalf("name of %d has %d characters", n, len(name))
		}
		got, ok := ParseBitrevName("x/wal/"+name+".arrow", ".arrow")
		if !ok || got != n {
			t.Fatalf("round trip of %d: %d %v", n, got, ok)
		}
	}
	if BitrevName(1)[0] != '1' || BitrevName(2)[1] != '1' {
		t.Fatal("sequential positions must differ in their first characters")
	}
	for _, bad := range []string{"wal/1.arrow", "wal/" + BitrevName(1) + ".binpb", "wal/" + BitrevName(1)[:63] + "2.arrow"} {
		if _, ok := ParseBitrevName(bad, ".arrow"); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}

// TestReadCorruptEntry: a damaged, truncated or unparsable entry, or one
// whose batch is not valid Arrow, is a *CorruptionError naming the
// object and position, whatever byte was hit.
func TestReadCorruptEntry(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	store := objstore.NewMem()
	l := Open(store, "_mem_wal/0", schema, 0, mem)
	up := datagen.Batch(mem, dim, 1, 0, 3)
	good, err := l.Encode(3, 7, 11, []Item{{Rec: up, Seq: 10, Op: OpUpsert}})
	up.Release()
	if err != nil {
		t.Fatal(err)
	}
	good = bytes.Clone(good)
	bad := [][]byte{nil, good[:len(good)-1], good[:len(good)/2], []byte("FWAL")}
	for pos := range good {
		b := bytes.Clone(good)
		b[pos] ^= 0x10
		bad = append(bad, b)
	}
	// A valid footer over bytes that are not an IPC stream.
	junk := []byte("not an arrow stream")
	junk = binary.LittleEndian.AppendUint32(junk, crc32.Checksum(junk, castagnoli))
	bad = append(bad, append(junk, magic...))
	// A valid entry of an invalid batch: utf8 offsets past their buffer.
	tb := datagen.BadOffsetsBatch(mem)
	tl := Open(store, "_mem_wal/1", datagen.TextSchema, 0, mem)
	invalid, err := tl.Encode(1, 7, 1, []Item{{Rec: tb, Seq: 1, Op: OpUpsert}})
	tb.Release()
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range append(bad, invalid) {
		log := l
		if i == len(bad) {
			log = tl
		}
		key := log.Key(7)
		store.Delete(ctx, key)
		if err := store.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
		e, err := log.Read(ctx, 7)
		if err == nil {
			e.Release()
			t.Fatalf("damaged entry %d decoded", i)
		}
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Pos != 7 || ce.Key != key {
			t.Fatalf("damaged entry %d: %v is not a CorruptionError naming %s", i, err, key)
		}
	}
}

// FuzzDecodeEntry: any bytes decode or give an error, never a panic or a
// leak (the footer, the metadata bounds and validation stop them), and
// isFence agrees with a full decode.
func FuzzDecodeEntry(f *testing.F) {
	mem := memory.NewGoAllocator()
	up := datagen.Batch(mem, dim, 1, 0, 2)
	data, _ := testCodec(mem).encode(nil, 1, 1, 1, []Item{{Rec: up, Seq: 1}})
	up.Release()
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{})
	// Entries LanceDB wrote: no footer, no flightwal metadata.
	for _, name := range []string{"entry_pos3.arrow", "fence_pos2.arrow"} {
		if lance, err := os.ReadFile("testdata/lance039/" + name); err == nil {
			f.Add(lance)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		e, err := testCodec(cmem).decode(data, 1)
		if err == nil {
			fence, ferr := testCodec(cmem).isFence(data)
			if ferr != nil || fence != e.IsFence() {
				t.Fatalf("isFence %v (%v), decode says %v", fence, ferr, e.IsFence())
			}
			e.Release()
			cmem.AssertSize(t, 0)
		} else {
			testCodec(cmem).isFence(data) // no panic
		}
	})
}
