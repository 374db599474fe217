package flight_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/internal/benchutil"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// benchDim is the vector dimension of the throughput benchmarks (the Lance
// MemWAL benchmark's rows: int64 id, 1024-dim float32 vector, ~100-byte text).
const benchDim = 1024

// benchBatches returns rows 0..rows-1 of the seeded data set in batches of
// batchRows. Generating 1024-dim rows is slow and the batches are immutable,
// so they are made once and kept for the life of the test binary, shared by
// every benchmark run (Go-allocated, outside the checked allocators). They
// are decoded from their IPC stream, so their buffers are sized as a
// server's are and the bytes counted are the bytes a server holds.
func benchBatches(rows, batchRows int) []arrow.RecordBatch {
	benchCache.mu.Lock()
	defer benchCache.mu.Unlock()
	key := [2]int{rows, batchRows}
	if recs, ok := benchCache.m[key]; ok {
		return recs
	}
	mem := memory.NewGoAllocator()
	var built []arrow.RecordBatch
	for first := 0; first < rows; first += batchRows {
		built = append(built, datagen.Batch(mem, benchDim, 1, int64(first), int64(min(batchRows, rows-first))))
	}
	recs, err := benchutil.Decoded(mem, built)
	for _, r := range built {
		r.Release()
	}
	if err != nil {
		panic(err)
	}
	benchCache.m[key] = recs
	return recs
}

var benchCache = struct {
	mu sync.Mutex
	m  map[[2]int][]arrow.RecordBatch
}{m: map[[2]int][]arrow.RecordBatch{}}

// benchLSM keeps the whole benchmark data set in the active memtable: the
// limits are far above it, so no freeze or flush runs while a stream is
// timed (each benchmark checks that and says so), and compaction is off.
var benchLSM = lsm.Options{
	MemTableMaxBytes:        4 << 30,
	MemTableMaxRows:         10_000_000,
	MaxUnflushedBytes:       8 << 30,
	CompactAfterGenerations: -1,
}

// discardClient starts a benchutil.DiscardServer (stopped, and its
// allocator checked for leaks, when b ends) and returns a client of it.
func discardClient(b *testing.B) flight.Client {
	dmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	ds, err := benchutil.NewDiscardServer(dmem)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ds.Close(); dmem.AssertSize(b, 0) })
	dc, err := ds.Client()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dc.Close() })
	return dc
}

// regionState is the first region's stats, for the benchmark log.
func (e *env) regionState(table string) lsm.RegionStats {
	e.t.Helper()
	t, err := e.db.Table(context.Background(), table)
	if err != nil {
		e.t.Fatal(err)
	}
	return t.Stats().Regions[0]
}

// timed runs fn after a collection (so no mode pays for garbage another
// left behind) and returns how long fn took.
func timed(b *testing.B, fn func() error) time.Duration {
	b.Helper()
	runtime.GC()
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkIngest streams the same rows (int64 id, 1024-dim float32
// vector, ~100-byte text) over loopback Flight with the real client, in
// batches of 1,000 and 10,000 rows, to three servers in every iteration:
//
//   - discard: benchutil.DiscardServer, which decodes each batch and sends
//     a PutResult (the Flight + gRPC + IPC floor);
//   - async: flightwal, durable=false (PutResult once in the memtable);
//   - durable: flightwal, durable=true (PutResult once the WAL entry is
//     written and fsynced on the local disk store).
//
// Each flightwal stream goes to a fresh table (created and dropped outside
// the timed part); the memtable limits hold the whole stream, so no freeze
// or flush runs during it (logged). It reports rows/s and MB/s (Arrow
// buffer bytes) of each and the ratios async/discard (target >= 0.70) and
// durable/discard (target >= 0.50). async+sync is the time until a sync
// action returned after the async stream: what it costs to make the async
// rows durable too.
//
// After those iterations, disk writes as many bytes as a stream holds the
// way the WAL writes them (10 MiB page-aligned entries, one PutIfAbsent
// after another, local store on the same disk), b.N times, without
// Flight or a memtable: disk-MB/s is the ceiling of durable ingest on
// this machine, and durable/disk how close durable ingest comes to it.
func BenchmarkIngest(b *testing.B) {
	const rows = 120_000
	for _, batchRows := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("batch=%d", batchRows), func(b *testing.B) {
			recs := benchBatches(rows, batchRows)
			bytes := benchutil.Bytes(recs)
			e := newEnv(b, withLSM(benchLSM))
			dc := discardClient(b)
			ctx := context.Background()
			put := func(c flight.Client, desc *flight.FlightDescriptor) func() error {
				return func() error { _, err := benchutil.Put(ctx, c, desc, recs); return err }
			}
			var tDiscard, tAsync, tAsyncSync, tDurable, tDisk time.Duration
			var states []string
			quiet := true // no stream froze or flushed a memtable
			// flightwal streams each go to a fresh table, made and dropped
			// untimed; stats are logged to show what the memtable did.
			flightwal := func(mode string, i int, cmd map[string]any) time.Duration {
				b.StopTimer()
				name := fmt.Sprintf("%s_%d", mode, i)
				cmd["table"] = name
				e.createTable(name, datagen.Schema(benchDim), nil)
				b.StartTimer()
				d := timed(b, put(e.client, cmdDesc(cmd)))
				if mode == "async" {
					start := time.Now()
					e.mustAction("sync", map[string]any{"table": name})
					tAsyncSync += d + time.Since(start)
				}
				b.StopTimer()
				st := e.regionState(name)
				quiet = quiet && st.FrozenMemtables == 0 && len(st.Generations) == 0 && st.ActiveRows == rows
				states = append(states, describe(mode, st))
				e.mustAction("drop_table", map[string]any{"name": name})
				b.StartTimer()
				return d
			}
			// disk writes the same number of bytes the way the WAL writes
			// them (page-aligned entries of wal.max_buffer_bytes, one
			// PutIfAbsent after another, on the same disk): the ceiling of
			// durable ingest on this machine.
			diskDir := b.TempDir()
			entry := objstore.AlignedBytes(int(config.Default().WAL.MaxBufferBytes))
			for i := range entry {
				entry[i] = byte(i*2654435761>>13) ^ byte(i>>7)
			}
			writeDisk := func(i int) {
				dir := filepath.Join(diskDir, strconv.Itoa(i))
				disk, err := objstore.NewLocal(dir)
				if err != nil {
					b.Fatal(err)
				}
				tDisk += timed(b, func() error {
					for off, k := int64(0), 0; off < bytes; k++ {
						n := min(int64(len(entry)), bytes-off)
						if err := disk.PutIfAbsent(ctx, fmt.Sprintf("wal/%06d", k), entry[:n]); err != nil {
							return err
						}
						off += n
					}
					return nil
				})
			}
			modes := []func(i int){
				func(int) { tDiscard += timed(b, put(dc, nil)) },
				func(i int) { tAsync += flightwal("async", i, map[string]any{"durable": false}) },
				func(i int) { tDurable += flightwal("durable", i, map[string]any{"durable": true}) },
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Rotate the order, so no mode always runs first or after
				// the same other one.
				for j := range modes {
					modes[(i+j)%len(modes)](i)
				}
			}
			b.StopTimer()
			// After the rotation, not in it: half a gigabyte of direct
			// writes slowed the Flight steps that followed it by a third.
			for i := 0; i < b.N; i++ {
				writeDisk(i)
			}
			// What validation costs: the full Arrow validation every
			// batch passes before it is sequenced (lsm.validateBatch runs
			// array.ValidateFull per column), over the same batches as
			// the server decodes them, on one goroutine as DoPut does.
			vmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer vmem.AssertSize(b, 0)
			dec, err := benchutil.Decoded(vmem, recs)
			if err != nil {
				b.Fatal(err)
			}
			var tValidate time.Duration
			for i := 0; i < b.N; i++ {
				tValidate += timed(b, func() error {
					for _, r := range dec {
						if err := array.ValidateRecordFull(r); err != nil {
							return err
						}
					}
					return nil
				})
			}
			for _, r := range dec {
				r.Release()
			}
			n := float64(b.N)
			rate := func(d time.Duration) float64 { return n * rows / d.Seconds() }
			mbps := func(d time.Duration) float64 { return n * float64(bytes) / 1e6 / d.Seconds() }
			b.ReportMetric(rate(tDiscard), "discard-rows/s")
			b.ReportMetric(rate(tAsync), "async-rows/s")
			b.ReportMetric(rate(tDurable), "durable-rows/s")
			b.ReportMetric(mbps(tDiscard), "discard-MB/s")
			b.ReportMetric(mbps(tAsync), "async-MB/s")
			b.ReportMetric(mbps(tAsyncSync), "async+sync-MB/s")
			b.ReportMetric(mbps(tDurable), "durable-MB/s")
			b.ReportMetric(tDiscard.Seconds()/tAsync.Seconds(), "async/discard")
			b.ReportMetric(tDiscard.Seconds()/tDurable.Seconds(), "durable/discard")
			b.ReportMetric(mbps(tDisk), "disk-MB/s")
			b.ReportMetric(tDisk.Seconds()/tDurable.Seconds(), "durable/disk")
			b.ReportMetric(tValidate.Seconds()/tDurable.Seconds(), "validate/durable")
			b.Logf("%d rows (%.0f MB of Arrow buffers) in batches of %d, %d iterations: discard %.0f MB/s, async %.0f MB/s (%.2f of discard, target >= 0.70; %.0f MB/s until synced), durable %.0f MB/s (%.2f of discard, target >= 0.50; %.2f of the %.0f MB/s the disk takes WAL-sized puts at)",
				rows, float64(bytes)/1e6, batchRows, b.N, mbps(tDiscard), mbps(tAsync), tDiscard.Seconds()/tAsync.Seconds(), mbps(tAsyncSync), mbps(tDurable), tDiscard.Seconds()/tDurable.Seconds(), tDisk.Seconds()/tDurable.Seconds(), mbps(tDisk))
			if quiet {
				b.Logf("every flightwal stream stayed in its active memtable (no freeze, no flush); e.g. %s", states[len(states)-1])
			} else {
				for _, s := range states {
					b.Log(s)
				}
			}
		})
	}
}

func describe(mode string, st lsm.RegionStats) string {
	return fmt.Sprintf("%s table after the stream: active memtable %d rows / %d bytes, %d frozen memtables, %d flushed generations, %d WAL entries",
		mode, st.ActiveRows, st.ActiveBytes, st.FrozenMemtables, len(st.Generations), st.WALPosition)
}

// BenchmarkScan reads a table of 62,000 rows (1024-dim vectors) with a
// full-table DoGet over loopback Flight, in every iteration from:
//
//   - slice: benchutil.SliceServer streaming the very batches that were
//     put (the Flight + gRPC + IPC floor);
//   - memtable: a flightwal table holding them in its active memtable;
//   - generation: a flightwal table holding them in one flushed generation
//     (the flush action wrote it; a Lance dataset on the local disk store).
//
// It reports rows/s of each and the ratios memtable/slice (target >= 0.80)
// and generation/memtable (target >= 0.50). One untimed read of each comes
// first (the generation's primary-key map is built on first use).
func BenchmarkScan(b *testing.B) {
	const rows, batchRows = 62_000, 1_000
	recs := benchBatches(rows, batchRows)
	bytes := benchutil.Bytes(recs)
	e := newEnv(b, withLSM(benchLSM))
	smem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	ss, err := benchutil.NewSliceServer(smem, recs[0].Schema(), recs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ss.Close(); smem.AssertSize(b, 0) })
	sc, err := ss.Client()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sc.Close() })
	ctx := context.Background()
	for _, name := range []string{"mem", "gen"} {
		e.createTable(name, datagen.Schema(benchDim), nil)
		if _, err := benchutil.Put(ctx, e.client, pathDesc(name), recs); err != nil {
			b.Fatal(err)
		}
	}
	e.mustAction("flush", map[string]any{"table": "gen"})
	if st := e.regionState("mem"); st.ActiveRows != rows || len(st.Generations) != 0 {
		b.Fatalf("memtable table: %s", describe("mem", st))
	}
	if st := e.regionState("gen"); st.ActiveRows != 0 || st.FrozenMemtables != 0 || len(st.Generations) != 1 {
		b.Fatalf("generation table: %s", describe("gen", st))
	}
	ticket := func(table string) []byte { raw, _ := json.Marshal(map[string]any{"table": table}); return raw }
	drain := func(c flight.Client, tk []byte) func() error {
		return func() error {
			// The plain allocator, as a client would use: the checked one's
			// per-allocation bookkeeping would be part of every reader's time.
			n, err := benchutil.Drain(ctx, c, memory.DefaultAllocator, tk)
			if err == nil && n != rows {
				err = fmt.Errorf("scan returned %d rows, want %d", n, rows)
			}
			return err
		}
	}
	readers := []struct {
		name string
		read func() error
	}{
		{"slice", drain(sc, nil)},
		{"memtable", drain(e.client, ticket("mem"))},
		{"generation", drain(e.client, ticket("gen"))},
	}
	for _, r := range readers {
		if err := r.read(); err != nil {
			b.Fatalf("%s: %v", r.name, err)
		}
	}
	var took [3]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range readers {
			k := (i + j) % len(readers) // rotate the order
			took[k] += timed(b, readers[k].read)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	rate := func(d time.Duration) float64 { return n * rows / d.Seconds() }
	mbps := func(d time.Duration) float64 { return n * float64(bytes) / 1e6 / d.Seconds() }
	for j, r := range readers {
		b.ReportMetric(rate(took[j]), r.name+"-rows/s")
	}
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "memtable/slice")
	b.ReportMetric(took[1].Seconds()/took[2].Seconds(), "generation/memtable")
	b.Logf("%d rows (%.0f MB), %d iterations: slice %.0f MB/s, memtable %.0f MB/s (%.2f of slice, target >= 0.80), generation %.0f MB/s (%.2f of memtable, target >= 0.50)",
		rows, float64(bytes)/1e6, b.N, mbps(took[0]), mbps(took[1]), took[0].Seconds()/took[1].Seconds(), mbps(took[2]), took[1].Seconds()/took[2].Seconds())
}
