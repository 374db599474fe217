package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// procStatusKiB reads a "VmHWM:"-style field of /proc/<pid>/status in KiB.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// bigBatch is rows of (id int64, vec fixed_size_list<float32>[dim]).
func bigBatch(mem memory.Allocator, dim int, first, rows int64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vec", Type: arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32)},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	vecs := b.Field(1).(*array.FixedSizeListBuilder)
	vals := vecs.ValueBuilder().(*array.Float32Builder)
	ids.Reserve(int(rows))
	vecs.Reserve(int(rows))
	vals.Reserve(int(rows) * dim)
	for i := first; i < first+rows; i++ {
		ids.UnsafeAppend(i)
		vecs.Append(true)
		for j := 0; j < dim; j++ {
			vals.UnsafeAppend(float32(i) + float32(j))
		}
	}
	return b.NewRecordBatch()
}

// putOne streams one batch and returns the error the stream ended with.
func putOne(c flight.Client, desc *flight.FlightDescriptor, rec arrow.RecordBatch) (acked int, err error) {
	stream, err := c.DoPut(context.Background())
	if err != nil {
		return 0, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(desc)
	werr := w.Write(rec)
	w.Close()
	stream.CloseSend()
	for {
		r, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = werr
			}
			return acked, err
		}
		var md struct{ Rows int64 }
		if json.Unmarshal(r.AppMetadata, &md) == nil && md.Rows == rec.NumRows() {
			acked++
		}
	}
}

// TestInflightBudgetBoundsRSS sends four concurrent ~200 MiB DoPut
// messages to a server with the defaults but a 512 MiB in-flight budget
// and checks that the server's peak RSS (VmHWM) stays under twice the
// budget (a message's frames beside its decoded copy) plus the memtables
// (backpressure.max_unflushed_bytes, 1 GiB: the accepted batches stay in
// memory until flushed) plus 512 MiB for the WAL's and the flush's
// encoding buffers, and that the server keeps serving. Measured on a
// 2-core machine: about 2.0 GiB; without the budget 2.8 GiB (4.4 GiB with
// eight such clients, 2.2 GiB with the budget).
func TestInflightBudgetBoundsRSS(t *testing.T) {
	const budget = 512 << 20
	// Local disk on every pass: this is about the server's memory, and
	// 800 MiB of WAL to MinIO would only make it slow.
	srv := startServer(t, "--flight.max_inflight_bytes", "512MiB", "--storage.uri", t.TempDir())
	pid := srv.cmd.Process.Pid
	c := dialT(t, srv.addr)
	defer c.Close()

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const dim, rows = 1024, 50_000 // 4 KiB a row: ~195 MiB a message
	rec := bigBatch(mem, dim, 0, rows)
	defer rec.Release()
	createTable(t, c, "big", rec.Schema())
	base := procStatusKiB(t, pid, "VmRSS")

	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	acked := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := dialT(t, srv.addr)
			defer cl.Close()
			n, err := putOne(cl, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"big"}}, rec)
			mu.Lock()
			defer mu.Unlock()
			acked += n
			codesSeen[status.Code(err)]++
			if err != nil && status.Code(err) != codes.ResourceExhausted {
				t.Errorf("put: %v", err)
			}
		}()
	}
	wg.Wait()
	hwm := procStatusKiB(t, pid, "VmHWM") << 10

	t.Logf("4 x %d MiB puts in %v: %d acknowledged, codes %v; RSS baseline %d MiB, peak (VmHWM) %d MiB",
		int64(util.TotalRecordSize(rec))>>20, time.Since(start).Round(time.Millisecond), acked, codesSeen, base>>10, hwm>>20)
	if bound := 2*budget + 1<<30 + 512<<20 + base<<10; hwm > bound {
		t.Errorf("peak RSS %d MiB is over the bound of %d MiB", hwm>>20, bound>>20)
	}
	if acked == 0 {
		t.Errorf("no batch was acknowledged: %v", codesSeen)
	}

	// The server is alive and holds exactly the acknowledged batches.
	got := doGet(t, c, mem, `{"table": "big", "columns": ["id"]}`)
	defer got.Release()
	if got.NumRows() != int64(acked)*rows {
		t.Fatalf("table has %d rows, want %d (%d acknowledged batches)", got.NumRows(), int64(acked)*rows, acked)
	}
}
