package lsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/objstore"
)

func TestWALEntryRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	up := kvBatch(mem, []int64{1, 2, 3}, 7)
	defer up.Release()
	del := delBatch(mem, []int64{2})
	defer del.Release()
	items := []walItem{{rec: up, seq: 10, op: OpUpsert}, {rec: del, seq: 11, op: OpDelete}}
	data, err := encodeWALEntry(nil, mem, testSchema, 0, 3, 42, 11, items)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeWALEntry(mem, data, testSchema, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.release()
	if e.epoch != 3 || e.pos != 42 || e.lastSeq != 11 || len(e.recs) != 2 {
		t.Fatalf("decoded %+v", e)
	}
	if e.batches[0].Seq != 10 || e.batches[1].Op != "delete" || e.recs[1].NumCols() != 1 || e.recs[1].NumRows() != 1 {
		t.Fatalf("batches %+v", e.batches)
	}
	if !e.recs[0].Schema().Equal(testSchema) {
		t.Fatalf("upsert batch schema %s", e.recs[0].Schema())
	}
	// Fence entries carry no batches.
	fence, err := encodeWALEntry(nil, mem, testSchema, 0, 4, 43, 11, nil)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := decodeWALEntry(mem, fence, testSchema, 0)
	if err != nil || len(fe.recs) != 0 || fe.epoch != 4 {
		t.Fatalf("fence: %+v %v", fe, err)
	}
}

func TestBitrevNames(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 3, 1 << 40, ^uint64(0)} {
		name := bitrevName(n)
		if len(name) != 64 {
			t.Fatalf("name of %d has %d characters", n, len(name))
		}
		got, ok := parseBitrevName("x/wal/"+name+".arrow", ".arrow")
		if !ok || got != n {
			t.Fatalf("round trip of %d: %d %v", n, got, ok)
		}
	}
	if bitrevName(1)[0] != '1' || bitrevName(2)[1] != '1' {
		t.Fatal("sequential positions must differ in their first characters")
	}
	for _, bad := range []string{"wal/1.arrow", "wal/" + bitrevName(1) + ".binpb", "wal/" + bitrevName(1)[:63] + "2.arrow"} {
		if _, ok := parseBitrevName(bad, ".arrow"); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}

// TestWALEntryDataLoss: a damaged or unparsable entry is an error wrapping
// ErrDataLoss, whatever byte was hit.
func TestWALEntryDataLoss(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	up := kvBatch(mem, []int64{1, 2, 3}, 7)
	defer up.Release()
	good, err := encodeWALEntry(nil, mem, testSchema, 0, 3, 42, 11, []walItem{{rec: up, seq: 10, op: OpUpsert}})
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
	// A valid footer over bytes that are not an IPC stream: a parse error.
	junk := []byte("not an arrow stream")
	junk = binary.LittleEndian.AppendUint32(junk, crc32.Checksum(junk, castagnoli))
	bad = append(bad, append(junk, walMagic...))
	for i, data := range bad {
		e, err := decodeWALEntry(mem, data, testSchema, 0)
		if err == nil {
			e.release()
			t.Fatalf("damaged entry %d decoded", i)
		}
		if !errors.Is(err, ErrDataLoss) {
			t.Fatalf("damaged entry %d: %v does not wrap ErrDataLoss", i, err)
		}
	}
}

// FuzzDecodeWALEntry: corrupt entries give errors, never panics or leaks
// (the checksum footer stops them before the IPC parser).
func FuzzDecodeWALEntry(f *testing.F) {
	mem := memory.NewGoAllocator()
	up := kvBatch(mem, []int64{1, 2}, 1)
	data, _ := encodeWALEntry(nil, mem, testSchema, 0, 1, 1, 1, []walItem{{rec: up, seq: 1}})
	up.Release()
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		e, err := decodeWALEntry(cmem, data, testSchema, 0)
		if err == nil {
			e.release()
		} else if !errors.Is(err, ErrDataLoss) {
			t.Fatalf("error %v does not wrap ErrDataLoss", err)
		}
		cmem.AssertSize(t, 0)
	})
}

// TestIdleRegionDropsWALBuffers pins that encode buffers are pooled while
// a region writes and let go once a flush interval passes without a batch.
func TestIdleRegionDropsWALBuffers(t *testing.T) {
	ctx := context.Background()
	// The interval is long enough that no idle tick falls between the
	// write becoming durable and the first check.
	db, mem := testDB(t, objstore.NewMem(), Options{WALFlushInterval: 300 * time.Millisecond, CompactAfterGenerations: -1})
	defer func() { db.Close(); mem.AssertSize(t, 0) }()
	tbl, err := db.CreateTable(ctx, TableSpec{Name: "idle", Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	rec := kvBatch(mem, []int64{1, 2, 3}, 7)
	defer rec.Release()
	writeAll(t, tbl, mem, rec)
	r, err := tbl.region(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.walBufs); n != 1 {
		t.Fatalf("%d pooled encode buffers right after a durable write, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.walBufs) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d encode buffers still pooled after 5 s idle", len(r.walBufs))
		}
		time.Sleep(time.Millisecond)
	}
}
