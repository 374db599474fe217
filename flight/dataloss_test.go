package flight_test

import (
	"context"
	"math/bits"
	"path"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/internal/datagen"
)

// corruptObject flips one byte in the middle of the object key.
func corruptObject(t *testing.T, e *env, key string) {
	t.Helper()
	ctx := context.Background()
	data, err := e.store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := e.store.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
}

// newestObject is the object under prefix whose bit-reversed name
// (manifest version, WAL position) is the highest.
func newestObject(t *testing.T, e *env, prefix, ext string) string {
	t.Helper()
	objs, err := e.store.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var key string
	var newest uint64
	for _, o := range objs {
		base := path.Base(o.Key)
		if !strings.HasSuffix(base, ext) {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSuffix(base, ext), 2, 64)
		if err != nil {
			continue
		}
		if v = bits.Reverse64(v); key == "" || v > newest {
			key, newest = o.Key, v
		}
	}
	if key == "" {
		t.Fatalf("no %s object under %s", ext, prefix)
	}
	return key
}

// TestCorruptRegionManifestIsDataLoss: a region manifest damaged on
// storage is refused when the table is next opened: DoGet and DoPut
// answer DataLoss naming the object, never a garbled table; another
// table is unaffected.
func TestCorruptRegionManifestIsDataLoss(t *testing.T) {
	e := newEnv(t)
	schema := datagen.Schema(4)
	e.createTable("m", schema, nil)
	e.createTable("ok", schema, nil)
	rec := datagen.Batch(e.mem, 4, 1, 0, 50)
	defer rec.Release()
	e.mustPut(pathDesc("m"), rec)
	e.mustPut(pathDesc("ok"), rec)
	e.mustAction("flush", map[string]any{"table": "m"}) // a manifest naming a generation

	e.stop()
	key := newestObject(t, e, "m.lance/_mem_wal/4a388480-a25b-59a8-b058-24217f980256/manifest/", ".binpb")
	corruptObject(t, e, key)
	e.start()

	object := strings.TrimPrefix(key, "m.lance/")
	_, err := e.get(map[string]any{"table": "m"})
	wantCode(t, err, codes.DataLoss, object)
	_, err = e.put(pathDesc("m"), rec)
	wantCode(t, err, codes.DataLoss, object)
	// Asking again gives the same answer: nothing was written over it.
	_, err = e.get(map[string]any{"table": "m", "pk": []int{1}})
	wantCode(t, err, codes.DataLoss, object)

	if got := e.mustGet(map[string]any{"table": "ok"}); got.NumRows() != 50 {
		t.Fatalf("the other table has %d rows, want 50", got.NumRows())
	}
}

// TestCorruptWALEntryIsDataLoss: an acknowledged batch whose WAL entry is
// damaged on storage cannot be replayed: DoGet answers DataLoss naming the
// entry.
func TestCorruptWALEntryIsDataLoss(t *testing.T) {
	e := newEnv(t)
	e.createTable("w", datagen.Schema(4), nil)
	rec := datagen.Batch(e.mem, 4, 1, 0, 50)
	defer rec.Release()
	e.mustPut(pathDesc("w"), rec)

	e.stop()
	key := newestObject(t, e, "w.lance/_mem_wal/4a388480-a25b-59a8-b058-24217f980256/wal/", ".arrow")
	corruptObject(t, e, key)
	e.start()

	_, err := e.get(map[string]any{"table": "w"})
	wantCode(t, err, codes.DataLoss, strings.TrimPrefix(key, "w.lance/"))
}
