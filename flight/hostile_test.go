package flight_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

var textSchema = datagen.TextSchema

func textBatch(mem memory.Allocator, ids []int64, text string) arrow.RecordBatch {
	return datagen.TextBatch(mem, ids, text)
}

func badOffsetsBatch(mem memory.Allocator) arrow.RecordBatch { return datagen.BadOffsetsBatch(mem) }

// TestDoPutRejectsMalformedBatch: a batch with out-of-bounds utf8 offsets
// is InvalidArgument naming the column, never durable; the filter and the
// text indexer that used to crash on it keep working.
func TestDoPutRejectsMalformedBatch(t *testing.T) {
	e := newEnv(t)
	e.createTable("m", textSchema, map[string]any{"indexes": []map[string]any{{"name": "t", "column": "text", "type": "fts"}}})
	good := textBatch(e.mem, []int64{7}, "quick brown fox")
	defer good.Release()
	e.mustPut(pathDesc("m"), good)

	bad := badOffsetsBatch(e.mem)
	defer bad.Release()
	res, err := e.put(pathDesc("m"), bad)
	wantCode(t, err, codes.InvalidArgument, "text")
	if len(res) != 0 {
		t.Fatalf("malformed batch acknowledged: %+v", res)
	}
	e.mustAction("sync", map[string]any{"table": "m"})
	got := e.mustGet(map[string]any{"table": "m", "filter": "text = 'x' OR id >= 0"})
	if ids := sortedIDs(got); len(ids) != 1 || ids[0] != 7 {
		t.Fatalf("after a refused batch the table holds %v, want [7]", ids)
	}
	if hits := e.mustGet(map[string]any{"table": "m", "search": map[string]any{"query": "fox"}}); hits.NumRows() != 1 {
		t.Fatalf("search after a refused batch: %d rows", hits.NumRows())
	}
	e.restart() // the refused batch is not in the WAL either
	if got := e.mustGet(map[string]any{"table": "m"}); got.NumRows() != 1 {
		t.Fatalf("after restart: %d rows", got.NumRows())
	}
}

// TestCancelledStreamNeverOvertakesRetry: stream A sends many versions of
// a key and is cancelled; the client then writes the key again on the
// same connection and gets a durable ack. No read after that ack may show
// one of A's versions: a batch is sequenced only while its stream is live.
func TestCancelledStreamNeverOvertakesRetry(t *testing.T) {
	e := newEnv(t)
	e.createTable("c", textSchema, nil)
	const rounds, batchesA = 8, 64
	for round := range rounds {
		key := int64(round)
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := e.client.DoPut(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w := flight.NewRecordWriter(stream, ipc.WithSchema(textSchema))
		w.SetFlightDescriptor(pathDesc("c"))
		ids := make([]int64, 2000) // big enough that the server lags behind
		for i := range ids {
			ids[i] = key + int64(i+1)*rounds
		}
		ids[0] = key
		for i := range batchesA {
			rec := textBatch(e.mem, ids, fmt.Sprintf("A%d", i))
			err := w.Write(rec)
			rec.Release()
			if err != nil {
				break
			}
		}
		cancel()
		w.Close()
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
		retry := textBatch(e.mem, []int64{key}, "B")
		e.mustPut(pathDesc("c"), retry)
		retry.Release()
		for range 20 {
			got := e.mustGet(map[string]any{"table": "c", "pk": []int64{key}, "columns": []string{"text"}})
			if v := got.Column(0).(*array.String).Value(0); v != "B" {
				t.Fatalf("round %d: key %d reads %q after the retry was acknowledged, want %q", round, key, v, "B")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// mountTmpfs mounts a tmpfs of the given size at a fresh directory (root
// only; the test is skipped where mounting is not allowed).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if onMinIO() {
		t.Skip("a local file system test")
	}
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillDisk writes a file until the file system is full.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	small := make([]byte, 512)
	for {
		if _, err := f.Write(small); err != nil {
			return p
		}
	}
}

// TestDiskFullIsResourceExhausted: on a full disk a durable write answers
// ResourceExhausted, the region keeps its epoch (no reopen, no new
// manifest or fence per failed write), and writes resume by themselves
// once space is back.
func TestDiskFullIsResourceExhausted(t *testing.T) {
	dir := mountTmpfs(t, "16m")
	store, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withStore(store), withLSM(lsm.Options{Retry: objstore.RetryPolicy{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}}))
	e.createTable("d", textSchema, nil)
	ok := textBatch(e.mem, []int64{1}, "one")
	defer ok.Release()
	e.mustPut(pathDesc("d"), ok)
	st0 := regionStats(e, "d")
	objects := func() int {
		objs, _ := store.List(context.Background(), "d.lance/_mem_wal/")
		return len(objs)
	}
	n0 := objects()

	filler := fillDisk(t, dir)
	for i := range 5 {
		rec := textBatch(e.mem, []int64{int64(10 + i)}, "full")
		_, err := e.put(pathDesc("d"), rec)
		rec.Release()
		wantCode(t, err, codes.ResourceExhausted, "")
	}
	st1 := regionStats(e, "d")
	if st1["writer_epoch"] != st0["writer_epoch"] || st1["manifest_version"] != st0["manifest_version"] || st1["failure"] != nil {
		t.Fatalf("after failed puts: %v, before %v", st1, st0)
	}
	if n := objects(); n != n0 {
		t.Fatalf("%d region objects after failed puts, %d before", n, n0)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	again := textBatch(e.mem, []int64{2}, "two")
	defer again.Release()
	if !eventually(t, 10*time.Second, func() bool { _, err := e.put(pathDesc("d"), again); return err == nil }) {
		t.Fatal("writes did not resume once space was back")
	}
	got := e.mustGet(map[string]any{"table": "d", "pk": []int64{1, 2}})
	if got.NumRows() != 2 {
		t.Fatalf("after recovery: %d of keys 1, 2", got.NumRows())
	}
	if st := regionStats(e, "d"); st["writer_epoch"] != st0["writer_epoch"] {
		t.Fatalf("epoch moved: %v, before %v", st, st0)
	}
	e.mustAction("flush", map[string]any{"table": "d"})
}

// TestReadOnlyStorageServesReads: a table on storage remounted read-only
// opens and serves DoGet and stats; a write is refused without harm.
func TestReadOnlyStorageServesReads(t *testing.T) {
	dir := mountTmpfs(t, "64m")
	store, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withStore(store))
	e.createTable("r", textSchema, nil)
	rec := textBatch(e.mem, []int64{1, 2, 3}, "x")
	defer rec.Release()
	e.mustPut(pathDesc("r"), rec)
	e.stop()
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	e.start()
	if got := e.mustGet(map[string]any{"table": "r", "filter": "id >= 2"}); got.NumRows() != 2 {
		t.Fatalf("read on read-only storage: %d rows", got.NumRows())
	}
	e.mustAction("stats", map[string]any{"table": "r"})
	_, err = e.put(pathDesc("r"), rec)
	if err == nil {
		t.Fatal("write on read-only storage succeeded")
	}
	wantCode(t, err, codes.FailedPrecondition, "read-only")
	if got := e.mustGet(map[string]any{"table": "r"}); got.NumRows() != 3 {
		t.Fatalf("read after a refused write: %d rows", got.NumRows())
	}
	e.stop()
	exec.Command("mount", "-o", "remount,rw", dir).Run()
	e.start()
}

// regionStats is region 0 of the stats action.
func regionStats(e *env, table string) map[string]any {
	e.t.Helper()
	st := e.mustAction("stats", map[string]any{"table": table})
	raw, _ := json.Marshal(st["regions"])
	var regions []map[string]any
	if err := json.Unmarshal(raw, &regions); err != nil || len(regions) == 0 {
		e.t.Fatalf("stats regions: %s (%v)", raw, err)
	}
	return regions[0]
}
