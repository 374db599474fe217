package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The soak: several clients upsert and delete random keys of one table
// (primary key, two regions) with durable DoPuts, some streams cancelled
// mid-way, while flush and compact run, a second table is created, written
// and dropped over and over, and the server is killed with SIGKILL every
// ~10 s and restarted on the same storage. A model keeps, per key, every
// write in the order its client sent it: acknowledged (its durable
// PutResult arrived) or maybe (its stream failed or was cancelled before
// the ack). After each restart and at the end the whole table is read and
// each key must hold the state of its newest acknowledged write or of a
// later maybe write, once.
//
// Each key belongs to one client goroutine with one connection, so a key's
// writes are sent one after another and its versions only grow: a row's
// version says which write it came from. A cancelled stream's batch is a
// maybe write at its place in that order: the server may apply it only if
// the stream was still live when the batch was sequenced, which is before
// the client's next stream on the same connection (the RST_STREAM of the
// cancel precedes that stream's frames).
//
// FLIGHTWAL_SOAK_SEED replays a seed (the workload, not the timing);
// FLIGHTWAL_SOAK_SECONDS sets the length (60).
const (
	soakWorkers       = 4
	soakKeysPerWorker = 250
	soakKillEvery     = 10 * time.Second
	soakOpTimeout     = 20 * time.Second
	soakTable         = "soak"
	churnTable        = "churn"
	churnRacerKeys    = 1_000_000 // the racing churn writer's keys start here
)

var (
	soakPKMeta = arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})
	soakSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: soakPKMeta},
		{Name: "version", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	soakKeySchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
)

func soakText(id, version int64) string { return fmt.Sprintf("k%d v%d", id, version) }

// soakOp is one write of one key.
type soakOp struct {
	version   int64
	del       bool
	acked     bool
	cancelled bool // its stream was cancelled by the client
}

// soakModel is every key's history, in the order the writes were sent.
type soakModel struct {
	mu   sync.Mutex
	hist map[int64][]soakOp
	last map[int64]int64 // newest version given to each key
}

// soakRow is what a read returned for a key.
type soakRow struct {
	version int64
	text    string
}

// soakCounts are logged at the end.
type soakCounts struct {
	streams, cancelled, ackedWrites, ackedDeletes, maybeWrites, maybeDeletes atomic.Int64
	flushes, compacts, churnCycles, churnLeftovers, churnRacerPuts, excused  atomic.Int64
}

// soakHarness coordinates the clients with the kills: while the server is
// down every client parks before its next request; a request's error is
// excused only if the server was killed after the request began.
type soakHarness struct {
	t    *testing.T
	mem  memory.Allocator
	cnt  soakCounts
	mu   sync.Mutex
	cond *sync.Cond
	addr string
	gen  int // server incarnation
	down bool
	stop bool
	// parked counts clients waiting for the server.
	parked   int
	failures []string // requests the server failed while up
}

// enter waits while the server is down; ok is false once the soak ends.
func (h *soakHarness) enter() (gen int, addr string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.down && !h.stop {
		h.parked++
		h.cond.Broadcast()
		h.cond.Wait()
		h.parked--
	}
	return h.gen, h.addr, !h.stop
}

// settle records a request's error: a failure unless the server was
// killed since the request began (gen). It reports whether err was excused.
func (h *soakHarness) settle(gen int, what string, err error) bool {
	if err == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down || h.gen != gen {
		h.cnt.excused.Add(1)
		return true
	}
	h.failures = append(h.failures, fmt.Sprintf("%s (server incarnation %d): %v", what, gen, err))
	return false
}

// client keeps one connection per goroutine, redialled after a restart.
type soakClient struct {
	c   flight.Client
	gen int
}

func (h *soakHarness) conn(sc *soakClient, gen int, addr string) flight.Client {
	if sc.c == nil || sc.gen != gen {
		if sc.c != nil {
			sc.c.Close()
		}
		c, err := dial(addr)
		if err != nil {
			panic(err) // grpc.NewClient fails only on a malformed target
		}
		sc.c, sc.gen = c, gen
	}
	return sc.c
}

func (sc *soakClient) close() {
	if sc.c != nil {
		sc.c.Close()
	}
}

// TestSoak is the randomized soak described above (about 60 s; skipped
// with -short).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: about a minute")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLIGHTWAL_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FLIGHTWAL_SOAK_SEED: %v", err)
		}
		seed = v
	}
	length := 60 * time.Second
	if s := os.Getenv("FLIGHTWAL_SOAK_SECONDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("FLIGHTWAL_SOAK_SECONDS: %v", err)
		}
		length = time.Duration(v) * time.Second
	}
	t.Logf("seed %d (FLIGHTWAL_SOAK_SEED=%d replays the workload)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	st := testStorage(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	h := &soakHarness{t: t, mem: mem}
	h.cond = sync.NewCond(&h.mu)
	model := &soakModel{hist: map[int64][]soakOp{}, last: map[int64]int64{}}

	srv := startServer(t, st.args...)
	h.addr = srv.addr
	{
		c := dialT(t, srv.addr)
		if err := soakCreate(context.Background(), c, soakTable, 2); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}

	var wg sync.WaitGroup
	clients := 0
	spawn := func(f func(r *rand.Rand), stream uint64) {
		clients++
		r := rand.New(rand.NewPCG(seed, stream))
		wg.Add(1)
		go func() { defer wg.Done(); f(r) }()
	}
	for w := range soakWorkers {
		spawn(func(r *rand.Rand) { h.writer(r, model, int64(w)*soakKeysPerWorker) }, uint64(1+w))
	}
	spawn(h.maintainer, 100)
	spawn(h.churner, 101)
	spawn(h.churnRacer, 102)

	var bad []string // violations found by the checks
	checks, kills := 0, 0
	check := func(c flight.Client, when string) bool {
		checks++
		v, err := h.verify(c, model, when)
		if err != nil {
			t.Errorf("%s: reading the table: %v", when, err)
			return false
		}
		bad = append(bad, v...)
		return true
	}
	start := time.Now()
	for {
		wait := soakKillEvery - 2*time.Second + time.Duration(rng.Int64N(int64(4*time.Second)))
		if left := length - time.Since(start); wait > left {
			time.Sleep(max(left, 0))
			break
		}
		time.Sleep(wait)
		// Kill, wait for every client to notice and park, restart, check.
		h.mu.Lock()
		h.down = true
		h.mu.Unlock()
		srv.kill()
		kills++
		h.mu.Lock()
		for h.parked < clients {
			h.cond.Wait()
		}
		h.mu.Unlock()
		srv = startServer(t, st.args...)
		c := dialT(t, srv.addr)
		ok := check(c, fmt.Sprintf("after restart %d", kills))
		c.Close()
		h.mu.Lock()
		h.gen++
		h.addr = srv.addr
		h.down = false
		if !ok {
			h.stop = true
		}
		h.cond.Broadcast()
		h.mu.Unlock()
		if !ok {
			break
		}
	}
	h.mu.Lock()
	h.stop = true
	h.cond.Broadcast()
	h.mu.Unlock()
	wg.Wait()

	// At the end: on the live server, then once more after a last kill.
	c := dialT(t, srv.addr)
	check(c, "at the end")
	c.Close()
	srv.kill()
	kills++
	srv = startServer(t, st.args...)
	c = dialT(t, srv.addr)
	check(c, "at the end, after a last restart")
	c.Close()

	n := &h.cnt
	t.Logf("%d streams (%d cancelled); acknowledged: %d writes, %d deletes; maybe: %d writes, %d deletes; "+
		"%d flushes, %d compactions, %d churn cycles (%d tables left by a kill, %d racing puts); %d kills, %d checks; %d errors excused by a kill",
		n.streams.Load(), n.cancelled.Load(), n.ackedWrites.Load(), n.ackedDeletes.Load(), n.maybeWrites.Load(), n.maybeDeletes.Load(),
		n.flushes.Load(), n.compacts.Load(), n.churnCycles.Load(), n.churnLeftovers.Load(), n.churnRacerPuts.Load(), kills, checks, n.excused.Load())
	for _, f := range h.failures {
		t.Errorf("the server failed a request while up: %s", f)
	}
	for _, v := range bad {
		t.Errorf("%s", v)
	}
	if t.Failed() {
		t.Logf("seed %d", seed)
	}
}

// writer upserts and deletes keys [first, first+soakKeysPerWorker).
func (h *soakHarness) writer(rng *rand.Rand, model *soakModel, first int64) {
	var sc soakClient
	defer sc.close()
	for {
		gen, addr, ok := h.enter()
		if !ok {
			return
		}
		c := h.conn(&sc, gen, addr)
		switch p := rng.IntN(100); {
		case p < 55:
			h.writeStream(c, gen, rng, model, first, nil, false, false)
		case p < 75:
			h.writeStream(c, gen, rng, model, first, nil, true, false)
		default:
			keys := h.writeStream(c, gen, rng, model, first, nil, rng.IntN(4) == 0, true)
			if rng.IntN(2) == 0 {
				// At once, the same keys again: if the cancelled batch
				// were applied after this one, the keys would read stale.
				h.writeStream(c, gen, rng, model, first, keys, false, false)
			}
		}
	}
}

// writeStream sends one DoPut stream of 1-3 batches of upserts (or
// deletes) of distinct random keys (or one batch of the given keys), and
// waits for the acknowledgements, or cancels the stream after a random
// number of batches. It returns the keys sent.
func (h *soakHarness) writeStream(c flight.Client, gen int, rng *rand.Rand, model *soakModel, first int64, keys []int64, del, cancelIt bool) []int64 {
	h.cnt.streams.Add(1)
	if cancelIt {
		h.cnt.cancelled.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
	defer cancel()
	nb := 1 + rng.IntN(3)
	sendBatches := nb
	if cancelIt {
		sendBatches = 1 + rng.IntN(nb)
	}
	if keys != nil {
		sendBatches = 1
	}
	// The keys and versions of every batch, drawn first so that the
	// workload depends on the seed alone.
	type batchKeys struct {
		ids, versions []int64
		ops           []int // index of each key's op in model.hist
	}
	batches := make([]batchKeys, sendBatches)
	model.mu.Lock()
	for b := range batches {
		ids := keys
		if ids == nil {
			seen := map[int64]bool{}
			for range 1 + rng.IntN(16) {
				id := first + rng.Int64N(soakKeysPerWorker)
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		for _, id := range ids {
			model.last[id]++
			batches[b].ids = append(batches[b].ids, id)
			batches[b].versions = append(batches[b].versions, model.last[id])
		}
	}
	model.mu.Unlock()
	cancelDelay := time.Duration(rng.IntN(3000)) * time.Microsecond

	stream, err := c.DoPut(ctx)
	if err != nil {
		h.settle(gen, "DoPut", err)
		return nil
	}
	schema := soakSchema
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{soakTable}}
	if del {
		schema = soakKeySchema
		desc = &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"table": "` + soakTable + `", "op": "delete"}`)}
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema), ipc.WithAllocator(h.mem))
	w.SetFlightDescriptor(desc)

	type ackResult struct {
		acked []int
		err   error
	}
	done := make(chan ackResult, 1)
	rowsOf := make([]int64, len(batches))
	for b := range batches {
		rowsOf[b] = int64(len(batches[b].ids))
	}
	if !cancelIt {
		go func() {
			var res ackResult
			for {
				r, err := stream.Recv()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						res.err = err
					}
					done <- res
					return
				}
				var md struct {
					Batch   int
					Rows    int64
					Durable bool
				}
				if err := json.Unmarshal(r.AppMetadata, &md); err != nil || !md.Durable || md.Batch < 0 || md.Batch >= len(rowsOf) || md.Rows != rowsOf[md.Batch] {
					res.err = fmt.Errorf("bad PutResult %s (%v)", r.AppMetadata, err)
					done <- res
					return
				}
				res.acked = append(res.acked, md.Batch)
			}
		}()
	}
	var werr error
	sent := 0
	for b := range batches {
		// Recorded as maybe before it is sent.
		model.mu.Lock()
		for i, id := range batches[b].ids {
			batches[b].ops = append(batches[b].ops, len(model.hist[id]))
			model.hist[id] = append(model.hist[id], soakOp{version: batches[b].versions[i], del: del, cancelled: cancelIt})
		}
		model.mu.Unlock()
		sent++
		rec := soakBatch(h.mem, batches[b].ids, batches[b].versions, del)
		werr = w.Write(rec)
		rec.Release()
		if werr != nil {
			break
		}
	}
	batches = batches[:sent]
	var sentKeys []int64 // once each
	seen := map[int64]bool{}
	for _, b := range batches {
		for _, id := range b.ids {
			if !seen[id] {
				seen[id] = true
				sentKeys = append(sentKeys, id)
			}
		}
	}
	if cancelIt {
		time.Sleep(cancelDelay)
		cancel()
		w.Close()
		// The client sees its stream cancelled before it writes again
		// (the README's guarantee is for a client that saw Canceled:
		// grpc-go queues the stream's RST_STREAM by the time Recv
		// returns the error, so it reaches the server before the next
		// stream on this connection).
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
		for _, b := range batches {
			if del {
				h.cnt.maybeDeletes.Add(int64(len(b.ids)))
			} else {
				h.cnt.maybeWrites.Add(int64(len(b.ids)))
			}
		}
		return sentKeys
	}
	w.Close()
	if err := stream.CloseSend(); err != nil && werr == nil {
		werr = err
	}
	res := <-done
	acked := map[int]bool{}
	model.mu.Lock()
	for _, b := range res.acked {
		acked[b] = true
		for i, id := range batches[b].ids {
			model.hist[id][batches[b].ops[i]].acked = true
		}
	}
	model.mu.Unlock()
	for b := range batches {
		n := int64(len(batches[b].ids))
		switch {
		case acked[b] && del:
			h.cnt.ackedDeletes.Add(n)
		case acked[b]:
			h.cnt.ackedWrites.Add(n)
		case del:
			h.cnt.maybeDeletes.Add(n)
		default:
			h.cnt.maybeWrites.Add(n)
		}
	}
	err = res.err
	if err == nil && werr != nil && !errors.Is(werr, io.EOF) {
		err = werr
	}
	if err == nil && len(acked) != len(batches) {
		err = fmt.Errorf("stream ended with %d of %d batches acknowledged", len(acked), len(batches))
	}
	what := "upsert stream"
	if del {
		what = "delete stream"
	}
	h.settle(gen, what, err)
	return sentKeys
}

// soakBatch is an upsert batch (id, version, text) or a delete batch (id).
func soakBatch(mem memory.Allocator, ids, versions []int64, del bool) arrow.RecordBatch {
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.AppendValues(ids, nil)
	idArr := ib.NewArray()
	defer idArr.Release()
	if del {
		return array.NewRecordBatch(soakKeySchema, []arrow.Array{idArr}, int64(len(ids)))
	}
	vb := array.NewInt64Builder(mem)
	defer vb.Release()
	vb.AppendValues(versions, nil)
	vArr := vb.NewArray()
	defer vArr.Release()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	for i, id := range ids {
		sb.Append(soakText(id, versions[i]))
	}
	sArr := sb.NewArray()
	defer sArr.Release()
	return array.NewRecordBatch(soakSchema, []arrow.Array{idArr, vArr, sArr}, int64(len(ids)))
}

// maintainer flushes (all regions or one) and compacts the soak table.
func (h *soakHarness) maintainer(rng *rand.Rand) {
	var sc soakClient
	defer sc.close()
	for {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		gen, addr, ok := h.enter()
		if !ok {
			return
		}
		c := h.conn(&sc, gen, addr)
		ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
		switch rng.IntN(3) {
		case 0:
			h.cnt.flushes.Add(1)
			h.settle(gen, "flush", action(ctx, c, "flush", map[string]any{"table": soakTable}))
		case 1:
			h.cnt.flushes.Add(1)
			h.settle(gen, "flush of one region", action(ctx, c, "flush", map[string]any{"table": soakTable, "region": rng.IntN(2)}))
		default:
			h.cnt.compacts.Add(1)
			h.settle(gen, "compact", action(ctx, c, "compact", map[string]any{"table": soakTable}))
		}
		cancel()
	}
}

// churner creates the churn table, checks it starts empty of its keys,
// writes rows labelled with the incarnation, reads them back and drops
// the table, over and over. After a kill it does not know what exists: it
// creates first (as a client would), and drops and creates again on
// AlreadyExists.
func (h *soakHarness) churner(rng *rand.Rand) {
	var sc soakClient
	defer sc.close()
	known := true // whether the table is known not to exist
	for inc := int64(1); ; inc++ {
		gen, addr, ok := h.enter()
		if !ok {
			return
		}
		c := h.conn(&sc, gen, addr)
		if !h.churnCycle(c, gen, rng, inc, known) {
			known = false
			continue
		}
		known = true
		h.cnt.churnCycles.Add(1)
	}
}

// churnCycle is one create, check, put, check, drop; false if the server
// was killed meanwhile (the table's state is then unknown).
func (h *soakHarness) churnCycle(c flight.Client, gen int, rng *rand.Rand, inc int64, known bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
	defer cancel()
	regions := 1 + int(inc%2)
	err := soakCreate(ctx, c, churnTable, regions)
	if status.Code(err) == codes.AlreadyExists && !known {
		// Left over from before a kill: drop it and create again.
		h.cnt.churnLeftovers.Add(1)
		if err = action(ctx, c, "drop_table", map[string]any{"name": churnTable}); err == nil {
			err = soakCreate(ctx, c, churnTable, regions)
		}
	}
	if h.settle(gen, "create_table of the churn table", err) || err != nil {
		return false
	}
	rows, err := soakRead(ctx, c, h.mem, churnTable)
	if h.settle(gen, "reading the new churn table", err) || err != nil {
		return false
	}
	for id, rs := range rows {
		if id < churnRacerKeys {
			h.fail(gen, fmt.Sprintf("churn incarnation %d: the table just created holds key %d (%+v) of a dropped incarnation", inc, id, rs))
		}
	}
	n := 1 + rng.IntN(50)
	ids := make([]int64, n)
	versions := make([]int64, n)
	for i := range ids {
		ids[i], versions[i] = int64(i), inc
	}
	err = soakPut(ctx, c, h.mem, churnTable, ids, versions)
	if h.settle(gen, "put into the churn table", err) || err != nil {
		return false
	}
	rows, err = soakRead(ctx, c, h.mem, churnTable)
	if h.settle(gen, "reading the churn table", err) || err != nil {
		return false
	}
	got := 0
	for id, rs := range rows {
		if id >= churnRacerKeys {
			continue
		}
		got++
		if len(rs) != 1 || id >= int64(n) || rs[0].version != inc || rs[0].text != soakText(id, inc) {
			h.fail(gen, fmt.Sprintf("churn incarnation %d: key %d read as %+v, want one row of version %d", inc, id, rs, inc))
		}
	}
	if got != n {
		h.fail(gen, fmt.Sprintf("churn incarnation %d: %d of the %d rows just acknowledged read back", inc, got, n))
	}
	err = action(ctx, c, "drop_table", map[string]any{"name": churnTable})
	return !h.settle(gen, "drop_table of the churn table", err) && err == nil
}

// fail records a wrong answer (not excused by kills: the answer arrived).
func (h *soakHarness) fail(gen int, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, fmt.Sprintf("%s (server incarnation %d)", msg, gen))
}

// churnRacer writes to and reads the churn table while it is created and
// dropped under it: each answer must be a success or say the table is
// missing (NotFound) or was closed under the request (Unavailable).
func (h *soakHarness) churnRacer(rng *rand.Rand) {
	var sc soakClient
	defer sc.close()
	for {
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		gen, addr, ok := h.enter()
		if !ok {
			return
		}
		c := h.conn(&sc, gen, addr)
		ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
		var err error
		what := "racing put into the churn table"
		if rng.IntN(2) == 0 {
			ids := []int64{churnRacerKeys + rng.Int64N(100), churnRacerKeys + 100 + rng.Int64N(100)}
			err = soakPut(ctx, c, h.mem, churnTable, ids, []int64{1, 1})
			h.cnt.churnRacerPuts.Add(1)
		} else {
			what = "racing read of the churn table"
			_, err = soakRead(ctx, c, h.mem, churnTable)
		}
		cancel()
		switch status.Code(err) {
		case codes.OK, codes.NotFound, codes.Unavailable:
		default:
			h.settle(gen, what, err)
		}
	}
}

// verify reads the soak table and checks every key against the model.
// It returns one line per violated rule.
func (h *soakHarness) verify(c flight.Client, model *soakModel, when string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
	defer cancel()
	rows, err := soakRead(ctx, c, h.mem, soakTable)
	if err != nil {
		return nil, err
	}
	model.mu.Lock()
	defer model.mu.Unlock()
	kinds := map[string][]string{}
	add := func(kind string, format string, args ...any) {
		kinds[kind] = append(kinds[kind], fmt.Sprintf(format, args...))
	}
	for id, rs := range rows {
		if _, ok := model.hist[id]; !ok {
			add("phantom", "key %d was never written but reads as %+v", id, rs)
		}
	}
	keys := 0
	for id, hist := range model.hist {
		keys++
		rs := rows[id]
		if len(rs) > 1 {
			add("duplicated", "key %d has %d rows: %+v", id, len(rs), rs)
		}
		got := int64(0) // 0: absent
		if len(rs) > 0 {
			got = rs[0].version
			if rs[0].text != soakText(id, got) {
				add("garbled", "key %d version %d has text %q", id, got, rs[0].text)
			}
		}
		newest := -1 // the newest acknowledged write
		for i, op := range hist {
			if op.acked {
				newest = i
			}
		}
		state := func(i int) int64 {
			if i < 0 || hist[i].del {
				return 0
			}
			return hist[i].version
		}
		allowed := state(newest) == got
		for j := newest + 1; j < len(hist) && !allowed; j++ {
			allowed = state(j) == got
		}
		if allowed {
			continue
		}
		describe := func(i int) string {
			if i < 0 {
				return "none"
			}
			op := hist[i]
			kind := "upsert"
			if op.del {
				kind = "delete"
			}
			return fmt.Sprintf("%s v%d (acked %v, cancelled %v)", kind, op.version, op.acked, op.cancelled)
		}
		src := -1 // the write the row came from
		for i, op := range hist {
			if !op.del && op.version == got {
				src = i
			}
		}
		switch {
		case got == 0:
			add("lost", "key %d is missing; newest acknowledged write: %s", id, describe(newest))
		case src < 0:
			add("phantom", "key %d reads version %d, which was never written", id, got)
		case state(newest) == 0 && hist[src].cancelled:
			add("resurrected by a cancelled stream", "key %d reads %s, written before the acknowledged %s", id, describe(src), describe(newest))
		case state(newest) == 0:
			add("resurrected", "key %d reads %s, written before the acknowledged %s", id, describe(src), describe(newest))
		case hist[src].cancelled:
			add("stale from a cancelled stream", "key %d reads %s, older than the acknowledged %s", id, describe(src), describe(newest))
		default:
			add("stale", "key %d reads %s, older than the acknowledged %s", id, describe(src), describe(newest))
		}
	}
	var out []string
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		ex := kinds[k]
		sort.Strings(ex)
		out = append(out, fmt.Sprintf("%s: %d keys %s, e.g. %s", when, len(ex), k, strings.Join(ex[:min(3, len(ex))], "; ")))
	}
	h.t.Logf("check %s: %d keys, %d rows, %d violations", when, keys, len(rows), len(out))
	return out, nil
}

// soakCreate creates a table of soakSchema with the given regions.
func soakCreate(ctx context.Context, c flight.Client, name string, regions int) error {
	return action(ctx, c, "create_table", map[string]any{
		"name": name, "regions": regions,
		"schema": base64.StdEncoding.EncodeToString(flight.SerializeSchema(soakSchema, memory.DefaultAllocator)),
	})
}

// soakPut writes one upsert batch and waits for its durable PutResult.
func soakPut(ctx context.Context, c flight.Client, mem memory.Allocator, table string, ids, versions []int64) error {
	rec := soakBatch(mem, ids, versions, false)
	defer rec.Release()
	return putRecord(ctx, c, mem, table, rec)
}

// soakRead reads a whole table of soakSchema: the rows of each key.
func soakRead(ctx context.Context, c flight.Client, mem memory.Allocator, table string) (map[int64][]soakRow, error) {
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte(`{"table": "` + table + `"}`)})
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	if sc := rdr.Schema(); sc.NumFields() != 3 || !arrow.TypeEqual(sc.Field(0).Type, arrow.PrimitiveTypes.Int64) ||
		!arrow.TypeEqual(sc.Field(1).Type, arrow.PrimitiveTypes.Int64) || !arrow.TypeEqual(sc.Field(2).Type, arrow.BinaryTypes.String) {
		return nil, fmt.Errorf("table %s has schema %s", table, sc)
	}
	rows := map[int64][]soakRow{}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		ids := rec.Column(0).(*array.Int64)
		vs := rec.Column(1).(*array.Int64)
		ts := rec.Column(2).(*array.String)
		for i := range ids.Len() {
			rows[ids.Value(i)] = append(rows[ids.Value(i)], soakRow{version: vs.Value(i), text: ts.Value(i)})
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return rows, nil
}
