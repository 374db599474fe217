package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
)

// buildBinary compiles flightwal once per test binary.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flightwal-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "flightwal")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// serverProc is a flightwal server in its own process.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
}

func startServer(t *testing.T, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics.listen", "127.0.0.1:0", "--log.level", "warn"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		var addr string
		if _, err := fmt.Sscanf(line, "flightwal listening on %s", &addr); err != nil {
			t.Fatalf("unexpected first line %q", line)
		}
		p := &serverProc{cmd: cmd, addr: addr}
		t.Cleanup(func() { p.kill() })
		return p
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start within 20s")
	}
	return nil
}

// kill ends the process with SIGKILL: no shutdown code runs.
func (p *serverProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

const crashRows = 100

// TestCrashRecovery kills the server with SIGKILL in the middle of a stream
// of durable writes, at several random points, restarting on the same
// directory each time. Every acknowledged batch must be back exactly once,
// and every other batch must be wholly present or wholly absent.
func TestCrashRecovery(t *testing.T) {
	st := testStorage(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	const dim = 16
	acked := map[int]bool{} // batch number -> acknowledged
	sent := map[int]bool{}
	next := 0
	for round := 0; round < 6; round++ {
		srv := startServer(t, st.args...)
		c := dialT(t, srv.addr)
		if round == 0 {
			createTable(t, c, "crash", datagen.Schema(dim))
		}
		verify(t, c, mem, dim, seed, acked, sent)
		// Stream batches until killed after a random delay.
		killAfter := time.Duration(20+rng.IntN(250)) * time.Millisecond
		first := next
		done := make(chan struct{})
		var mu sync.Mutex
		go func() {
			defer close(done)
			stream, err := c.DoPut(context.Background())
			if err != nil {
				return
			}
			w := flight.NewRecordWriter(stream, ipc.WithSchema(datagen.Schema(dim)), ipc.WithAllocator(mem))
			w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"crash"}})
			go func() {
				for {
					r, err := stream.Recv()
					if err != nil {
						return
					}
					var md struct{ Batch int }
					json.Unmarshal(r.AppMetadata, &md)
					mu.Lock()
					acked[first+md.Batch] = true
					mu.Unlock()
				}
			}()
			for i := 0; i < 100000; i++ {
				b := first + i
				rec := datagen.Batch(mem, dim, seed, int64(b)*crashRows, crashRows)
				mu.Lock()
				sent[b] = true
				next = b + 1
				mu.Unlock()
				err := w.Write(rec)
				rec.Release()
				if err != nil {
					break
				}
			}
			w.Close()
		}()
		time.Sleep(killAfter)
		srv.kill()
		<-done
		c.Close()
		mu.Lock()
		n := 0
		for b := first; b < next; b++ {
			if acked[b] {
				n++
			}
		}
		t.Logf("round %d: killed after %v: %d batches sent, %d acknowledged", round, killAfter, next-first, n)
		mu.Unlock()
	}
	srv := startServer(t, st.args...)
	c := dialT(t, srv.addr)
	defer c.Close()
	verify(t, c, mem, dim, seed, acked, sent)
}

// verify reads the whole table and checks it against what was acknowledged.
func verify(t *testing.T, c flight.Client, mem memory.Allocator, dim int, seed uint64, acked, sent map[int]bool) {
	t.Helper()
	rec := doGet(t, c, mem, `{"table": "crash"}`)
	defer rec.Release()
	ids := rec.Column(0).(*array.Int64)
	texts := rec.Column(2).(*array.String)
	perBatch := map[int]int{}
	seen := map[int64]bool{}
	for i := 0; i < ids.Len(); i++ {
		id := ids.Value(i)
		if seen[id] {
			t.Fatalf("id %d returned twice", id)
		}
		seen[id] = true
		if texts.Value(i) != datagen.Text(seed, id) {
			t.Fatalf("id %d has the wrong text", id)
		}
		b := int(id / crashRows)
		if !sent[b] {
			t.Fatalf("id %d belongs to batch %d that was never sent", id, b)
		}
		perBatch[b]++
	}
	for b := range sent {
		switch n := perBatch[b]; {
		case acked[b] && n != crashRows:
			t.Fatalf("acknowledged batch %d has %d of %d rows after restart", b, n, crashRows)
		case n != 0 && n != crashRows:
			t.Fatalf("unacknowledged batch %d is half applied: %d of %d rows", b, n, crashRows)
		}
	}
}

func dialT(t *testing.T, addr string) flight.Client {
	t.Helper()
	c, err := dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createTable(t *testing.T, c flight.Client, name string, schema *arrow.Schema) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "schema": base64.StdEncoding.EncodeToString(flight.SerializeSchema(schema, memory.DefaultAllocator))})
	stream, err := c.DoAction(context.Background(), &flight.Action{Type: "create_table", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
}

func doGet(t *testing.T, c flight.Client, mem memory.Allocator, ticket string) arrow.RecordBatch {
	t.Helper()
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(ticket)})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		r := rdr.RecordBatch()
		r.Retain()
		recs = append(recs, r)
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	cols := make([]arrow.Array, rdr.Schema().NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i := range cols {
		var parts []arrow.Array
		for _, r := range recs {
			parts = append(parts, r.Column(i))
		}
		if len(parts) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, rdr.Schema().Field(i).Type, 0)
			continue
		}
		a, err := array.Concatenate(parts, mem)
		if err != nil {
			t.Fatal(err)
		}
		cols[i] = a
	}
	out := array.NewRecordBatch(rdr.Schema(), cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return out
}

// TestCLI drives the client subcommands against a server process: put
// generated rows and a CSV file, get them back, run actions.
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, "--storage.uri", filepath.Join(dir, "data"))
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary(t), append([]string{args[0], "--addr", srv.addr}, args[1:]...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("flightwal %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("put", "--table", "gen", "--generate", "2500", "--dim", "8", "--batch-rows", "1000", "--create", "--pk", "id"); !strings.Contains(out, "put 2500 rows") {
		t.Fatalf("put: %s", out)
	}
	csvPath := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(csvPath, []byte("name,age,city\nann,31,oslo\nbob,42,rome\ncid,27,oslo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run("put", "--table", "people", "--file", csvPath, "--create"); !strings.Contains(out, "put 3 rows") {
		t.Fatalf("put csv: %s", out)
	}
	out := run("get", "--format", "json", `{"table": "people", "filter": "city = 'oslo'", "columns": ["name"]}`)
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, `"ann"`) || !strings.Contains(out, `"cid"`) {
		t.Fatalf("get: %q", out)
	}
	out = run("get", "--format", "json", `{"table": "gen", "pk": [7, 2499, 99999], "columns": ["id"]}`)
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "2499") {
		t.Fatalf("get pk: %q", out)
	}
	out = run("action", "stats", `{"table": "gen"}`)
	var st struct {
		PrimaryKey string `json:"primary_key"`
		Regions    []struct {
			ActiveRows int64 `json:"active_rows"`
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.PrimaryKey != "id" || st.Regions[0].ActiveRows != 2500 {
		t.Fatalf("stats: %v %s", err, out)
	}
	run("action", "flush", `{"table": "gen"}`)
	out = run("get", `{"table": "gen", "limit": 3}`)
	if strings.Count(out, "id=") != 3 {
		t.Fatalf("get after flush: %q", out)
	}
}
