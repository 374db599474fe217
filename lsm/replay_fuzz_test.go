package lsm

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// FuzzReplayWALEntry: replay over any entry whose checksum holds (the
// fuzzer's bytes get a valid footer, so they reach the IPC decoder and
// the validation) either refuses the table with an error or opens it, and
// then filters, point lookups and full-text search over the replayed rows
// work: nothing panics, nothing leaks.
func FuzzReplayWALEntry(f *testing.F) {
	mem := memory.NewGoAllocator()
	l := wal.Open(objstore.NewMem(), "_mem_wal/0", textSchema, 0, mem)
	for _, rec := range []arrow.RecordBatch{datagen.TextBatch(mem, []int64{1, 2, 3}, "alpha beta"), badOffsetsBatch(mem)} {
		data, err := l.Encode(1, 2, 1, []wal.Item{{Rec: rec, Seq: 1, Op: OpUpsert, Bytes: 64}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:len(data)-8]) // the IPC stream; the footer is recomputed
		rec.Release()
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<20 {
			return
		}
		ctx := context.Background()
		store := objstore.NewMem()
		db, mem := testDB(t, store, Options{})
		tbl, err := db.CreateTable(ctx, TableSpec{Name: "z", Schema: textSchema, Indexes: []IndexDef{{Name: "t", Column: "text", Type: "fts"}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := tbl.region(ctx, 0, true) // claimed: a fence at position 1
		if err != nil {
			t.Fatal(err)
		}
		key := "z.lance/" + r.walLog.Key(r.walPos.Load()+1)
		db.Close()
		data := append(append([]byte(nil), body...), binary.LittleEndian.AppendUint32(nil, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))...)
		data = append(data, "FWAL"...)
		if err := store.PutIfAbsent(ctx, key, data); err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
		db2, mem2 := testDB(t, store, Options{})
		defer db2.Close()
		t2, err := db2.Table(ctx, "z")
		if err != nil {
			// Refused: fine, as long as it said so. (arrow-go's IPC
			// reader drops a message it failed on without releasing
			// it; the Go allocator reclaims it, so the checked
			// allocator is not asked here.)
			return
		}
		defer func() { db2.Close(); mem2.AssertSize(t, 0) }()
		for _, q := range []Query{{Filter: "text LIKE '%a%' OR id > 1"}, {PK: []any{int64(1), int64(2)}}, {Search: &SearchQuery{Query: "alpha", K: 5}}} {
			p, err := t2.Prepare(q)
			if err != nil {
				t.Fatal(err)
			}
			s := t2.Snapshot()
			err = s.Run(ctx, mem2, p, func(rec arrow.RecordBatch) error { return array.ValidateRecordFull(rec) })
			s.Release()
			if err != nil {
				t.Fatalf("query %+v over a replayed entry: %v", q, err)
			}
		}
	})
}
