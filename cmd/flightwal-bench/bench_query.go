package main

// The query side of flightwal-bench: load the data set through Flight into
// three arrangements and time and check scan, point lookup, FTS and vector
// search on each.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/internal/flightclient"
	"github.com/flightwal/flightwal/lsm"
)

// Arrangements, operations and engines of the query table.
const (
	arrMemtable = "memtable"
	arrOne      = "one_fragment"
	arrMany     = "many_fragments"

	opScan       = "scan"
	opLookup     = "lookup"
	opFTS        = "fts"
	opVector     = "vector"
	opVectorFlat = "vector_flat"

	engineFlightwal = "flightwal"
	engineLance     = "lance"

	statusOK    = "ok"
	statusNA    = "n/a"
	statusError = "error"
)

var (
	benchArrangements = []string{arrMemtable, arrOne, arrMany}
	benchOps          = []string{opScan, opLookup, opFTS, opVector, opVectorFlat}
	benchEngines      = []string{engineFlightwal, engineLance}
)

// minRuns is the fewest timed runs of a cell that exceeds --cell-budget.
const minRuns = 5

// Pass thresholds of the checks that have one.
const (
	minFTSOverlap = 0.9 // flightwal FTS top k vs our brute-force BM25 scorer (ties may swap the last places)
	minRecall     = 0.8 // flightwal vector search recall@k vs exact search
	minFlatRecall = 0.99
)

// benchRun carries the state of one bench run.
type benchRun struct {
	c   benchConfig
	ds  *benchDataset
	cl  flight.Client
	srv benchServer
	pr  *progress
	rep *benchReport
	ref *lanceReference
}

func (b *benchRun) tableName(arr string) string { return "bench_" + arr }

// queries loads each arrangement and measures it.
func (b *benchRun) queries(ctx context.Context) error {
	for _, arr := range benchArrangements {
		name := b.tableName(arr)
		load, err := b.load(ctx, arr, name)
		b.rep.Loads = append(b.rep.Loads, load)
		if err != nil {
			return fmt.Errorf("loading the %s arrangement: %w", arr, err)
		}
		b.measure(ctx, arr, name)
		if arr != arrMemtable {
			// Free the memory of the flushed arrangements' tables before the
			// next one; the memtable table is the only one kept (ingest uses
			// new tables).
			_ = b.action(ctx, "drop_table", map[string]any{"name": name}, nil)
		}
	}
	_ = b.action(ctx, "drop_table", map[string]any{"name": b.tableName(arrMemtable)}, nil)
	return nil
}

// loadInfo describes how an arrangement was built.
type loadInfo struct {
	Engine      string  `json:"engine"`
	Arrangement string  `json:"arrangement"`
	How         string  `json:"how"`
	Seconds     float64 `json:"seconds"`
	Rows        int64   `json:"rows"`
	Fragments   int     `json:"fragments"` // base fragments after the load (-1: none/unknown)
	MemRows     int64   `json:"memtable_rows"`
	SettleSecs  float64 `json:"settle_seconds"` // wait for background indexing after the load
	IndexSecs   float64 `json:"index_seconds,omitempty"`
	Note        string  `json:"note,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// benchIndexes are the search indexes of the bench tables (API.md
// create_table): ivf_pq on the vectors, fts on the text, with defaults.
var benchIndexes = []map[string]any{
	{"name": "vec_idx", "column": "vec", "type": "ivf_pq"},
	{"name": "text_idx", "column": "text", "type": "fts"},
}

func (b *benchRun) createTable(ctx context.Context, name string, indexes []map[string]any) error {
	_ = b.action(ctx, "drop_table", map[string]any{"name": name}, nil) // a leftover of an earlier run on --addr
	body := map[string]any{
		"name":   name,
		"schema": base64.StdEncoding.EncodeToString(flight.SerializeSchema(b.ds.schema, memory.DefaultAllocator)),
	}
	if len(indexes) > 0 {
		body["indexes"] = indexes
	}
	return b.action(ctx, "create_table", body, nil)
}

func (b *benchRun) load(ctx context.Context, arr, name string) (loadInfo, error) {
	li := loadInfo{Engine: engineFlightwal, Arrangement: arr, Rows: int64(b.ds.rows), Fragments: -1}
	fail := func(err error) (loadInfo, error) {
		li.Error = err.Error()
		return li, err
	}
	if err := b.createTable(ctx, name, benchIndexes); err != nil {
		return fail(fmt.Errorf("create_table: %w", err))
	}
	start := time.Now()
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}}
	switch arr {
	case arrMemtable:
		li.How = "DoPut of 1,000-row batches (durable), no flush"
		if err := b.putAll(ctx, desc, 0, b.ds.rows, 1000, "memtable: put"); err != nil {
			return fail(err)
		}
	case arrOne:
		li.How = "DoPut of 1,000-row batches, then actions flush and compact"
		if err := b.putAll(ctx, desc, 0, b.ds.rows, 1000, "1 fragment: put"); err != nil {
			return fail(err)
		}
		if err := b.flushCompact(ctx, name); err != nil {
			return fail(err)
		}
	case arrMany:
		n := (b.ds.rows + b.c.FragmentRows - 1) / b.c.FragmentRows
		li.How = fmt.Sprintf("%d rounds of: DoPut %d rows, flush, compact", n, b.c.FragmentRows)
		for i := range n {
			lo := i * b.c.FragmentRows
			if err := b.putAll(ctx, desc, lo, min(b.ds.rows, lo+b.c.FragmentRows), b.c.FragmentRows, ""); err != nil {
				return fail(err)
			}
			if err := b.flushCompact(ctx, name); err != nil {
				return fail(err)
			}
			b.pr.step(fmt.Sprintf("%d fragments: put+flush+compact", n), i+1, n)
		}
	}
	li.Seconds = time.Since(start).Seconds()
	st, err := b.stats(ctx, name)
	if err != nil {
		return fail(err)
	}
	li.Fragments = st.BaseFragments
	for _, r := range st.Regions {
		li.MemRows += r.ActiveRows + r.FrozenRows
	}
	switch arr {
	case arrMemtable:
		if li.MemRows != int64(b.ds.rows) || st.BaseRows != 0 {
			li.Note = fmt.Sprintf("the server did not keep every row in its memtables (%d in memtables, %d in the base): its memtable limits are below the data set", li.MemRows, st.BaseRows)
		}
	case arrOne:
		if st.BaseFragments != 1 || li.MemRows != 0 {
			li.Note = fmt.Sprintf("expected a base of 1 fragment and empty memtables, got %d fragments and %d memtable rows", st.BaseFragments, li.MemRows)
		}
	case arrMany:
		if want := (b.ds.rows + b.c.FragmentRows - 1) / b.c.FragmentRows; st.BaseFragments != want {
			li.Note = fmt.Sprintf("expected %d base fragments, got %d", want, st.BaseFragments)
		}
	}
	b.pr.logf("%s: %d rows loaded in %.1fs (%s); base fragments %d, memtable rows %d", arr, b.ds.rows, li.Seconds, li.How, li.Fragments, li.MemRows)
	li.SettleSecs = b.settle(ctx, name).Seconds()
	return li, nil
}

func (b *benchRun) putAll(ctx context.Context, desc *flight.FlightDescriptor, lo, hi, batch int, what string) error {
	recs := b.ds.batches(lo, hi, batch)
	defer releaseAll(recs)
	_, err := flightclient.Put(ctx, b.cl, desc, recs, func(i int, _ []byte) {
		if what != "" {
			b.pr.step(what, (i+1)*batch, hi-lo)
		}
	})
	return err // Put checks that every batch got its PutResult
}

func (b *benchRun) flushCompact(ctx context.Context, name string) error {
	if err := b.action(ctx, "flush", map[string]any{"table": name}, nil); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := b.action(ctx, "compact", map[string]any{"table": name}, nil); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return nil
}

// settle waits for the server's background work after a load (memtable
// and fragment index builds, model training) so it does not run during
// the timed queries: until stats shows every memtable row indexed and the
// ivf_pq model trained (once the table holds train_after rows), and, in
// process, until this process's CPU use falls below 10% of a core for a
// quarter second; for a server elsewhere, 2 s more. name "" skips the
// stats part.
func (b *benchRun) settle(ctx context.Context, name string) time.Duration {
	start := time.Now()
	for name != "" && time.Since(start) < b.c.SettleMax {
		st, err := b.stats(ctx, name)
		if err != nil || st.indexed(int64(b.ds.rows)) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !b.srv.inProcess {
		time.Sleep(2 * time.Second)
		return time.Since(start)
	}
	prev := cpuTime()
	for time.Since(start) < b.c.SettleMax {
		time.Sleep(250 * time.Millisecond)
		now := cpuTime()
		if now-prev < 25*time.Millisecond {
			break
		}
		prev = now
	}
	d := time.Since(start)
	if d > 3*time.Second {
		b.pr.logf("background indexing settled after %.1fs", d.Seconds())
	}
	return d
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// action runs a DoAction and decodes its last result into out (if not nil).
func (b *benchRun) action(ctx context.Context, typ string, body any, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var last []byte
	if err := flightclient.Action(ctx, b.cl, typ, raw, func(res []byte) error { last = res; return nil }); err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(last, out)
	}
	return nil
}

type benchStats struct {
	BaseRows      int64 `json:"base_rows"`
	BaseFragments int   `json:"base_fragments"`
	Regions       []struct {
		ActiveRows int64 `json:"active_rows"`
		FrozenRows int64 `json:"frozen_rows"`
	} `json:"regions"`
	IndexStatus []struct {
		Type          string `json:"type"`
		Trained       bool   `json:"trained"`
		UnindexedRows int64  `json:"unindexed_rows"`
	} `json:"index_status"`
}

// indexed reports whether stats shows the search indexes caught up: every
// ivf_pq model trained once the table holds its default train_after rows
// (an untrained index leaves every row unindexed: search is exact), and
// no memtable row left to index.
func (st benchStats) indexed(rows int64) bool {
	for _, x := range st.IndexStatus {
		untrained := x.Type == "ivf_pq" && !x.Trained
		if untrained && rows >= lsm.DefaultTrainAfter || !untrained && x.UnindexedRows > 0 {
			return false
		}
	}
	return true
}

func (b *benchRun) stats(ctx context.Context, name string) (benchStats, error) {
	var st benchStats
	err := b.action(ctx, "stats", map[string]any{"table": name}, &st)
	return st, err
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// queryCell is one timed cell of the query table.
type queryCell struct {
	Op          string    `json:"op"`
	Arrangement string    `json:"arrangement"`
	Engine      string    `json:"engine"`
	Status      string    `json:"status"` // ok, n/a, error
	Reason      string    `json:"reason,omitempty"`
	Runs        int       `json:"runs"`
	Warmup      int       `json:"warmup"`
	P50Ms       float64   `json:"p50_ms"`
	P99Ms       float64   `json:"p99_ms"`
	MeanMs      float64   `json:"mean_ms"`
	SamplesMs   []float64 `json:"samples_ms,omitempty"`
}

func newCell(op, arr, engine string, samples []float64, warmup int) queryCell {
	c := queryCell{Op: op, Arrangement: arr, Engine: engine, Status: statusOK, Runs: len(samples), Warmup: warmup, SamplesMs: samples}
	c.P50Ms, c.P99Ms, c.MeanMs = percentile(samples, 0.50), percentile(samples, 0.99), mean(samples)
	return c
}

// percentile is the nearest-rank percentile (p99 of fewer than 100
// samples is their maximum).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(len(s)-1, i))]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var t float64
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

// timeQuery runs each of the n distinct queries once, untimed, handing
// its result to see (the correctness pass, also a warm-up), then
// ticket(i mod n) for the warm-up and the timed runs.
func (b *benchRun) timeQuery(ctx context.Context, n int, ticket func(i int) []byte, see func(i int, recs []arrow.RecordBatch) error) ([]float64, error) {
	// Tickets are built once, outside the timed runs (a vector query's
	// JSON is tens of microseconds of a millisecond sample).
	tickets := make([][]byte, n)
	for i := range n {
		tickets[i] = ticket(i)
	}
	for i := range n {
		var recs []arrow.RecordBatch
		_, err := flightclient.Get(ctx, b.cl, tickets[i], func(r arrow.RecordBatch) error {
			r.Retain()
			recs = append(recs, r)
			return nil
		})
		if err == nil {
			err = see(i, recs)
		}
		releaseAll(recs)
		if err != nil {
			return nil, err
		}
	}
	var samples []float64
	var timed time.Time
	for run := range b.c.Warmup + b.c.Runs {
		if run == b.c.Warmup {
			timed = time.Now()
		} else if run > b.c.Warmup && len(samples) >= minRuns && time.Since(timed) > b.c.CellBudget {
			break // a slow query: fewer runs (the cell says how many)
		}
		start := time.Now()
		if _, err := flightclient.Get(ctx, b.cl, tickets[run%n], nil); err != nil {
			return samples, err
		}
		if run >= b.c.Warmup {
			samples = append(samples, float64(time.Since(start).Nanoseconds())/1e6)
		}
	}
	return samples, nil
}

// unsupported reports whether err is the server rejecting a ticket kind
// it does not implement (API.md features that land later answer
// InvalidArgument "not supported" until they do).
func unsupported(err error) bool {
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.Unimplemented || st.Code() == codes.InvalidArgument)
}

func ticketJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}

// measure times the four queries on one arrangement and checks them.
func (b *benchRun) measure(ctx context.Context, arr, name string) {
	ds := b.ds
	add := func(op string, samples []float64, err error, naOK bool) {
		c := newCell(op, arr, engineFlightwal, samples, b.c.Warmup)
		switch {
		case err != nil && naOK && unsupported(err):
			c.Status, c.Reason = statusNA, "not supported by this build: "+status.Convert(err).Message()
		case err != nil:
			c.Status, c.Reason = statusError, err.Error()
		}
		if err != nil {
			c.P50Ms, c.P99Ms, c.MeanMs, c.SamplesMs = 0, 0, 0, nil
			b.pr.logf("%s %s: %s (%s)", arr, op, c.Status, c.Reason)
		}
		b.rep.Cells = append(b.rep.Cells, c)
	}

	// Full scan.
	b.pr.logf("%s: full scan", arr)
	var scanRows, idSum int64
	samples, err := b.timeQuery(ctx, 1, func(int) []byte { return ticketJSON(map[string]any{"table": name}) },
		func(_ int, recs []arrow.RecordBatch) error {
			for _, r := range recs {
				scanRows += r.NumRows()
				col := r.Column(int(r.Schema().FieldIndices("id")[0])).(*array.Int64)
				for _, v := range col.Int64Values() {
					idSum += v
				}
			}
			return nil
		})
	add(opScan, samples, err, false)
	if err == nil {
		n := int64(ds.rows)
		ok := scanRows == n && idSum == n*(n-1)/2
		b.rep.check(checkResult{Name: "scan returns every row once", Arrangement: arr, Engine: engineFlightwal,
			Status: passIf(ok), Value: float64(scanRows), Detail: fmt.Sprintf("%d rows, id sum %d (want %d, %d)", scanRows, idSum, n, n*(n-1)/2)})
	}

	// Point lookup by primary key.
	b.pr.logf("%s: point lookup", arr)
	good := 0
	samples, err = b.timeQuery(ctx, len(ds.lookupIDs),
		func(i int) []byte { return ticketJSON(map[string]any{"table": name, "pk": []int64{ds.lookupIDs[i]}}) },
		func(i int, recs []arrow.RecordBatch) error {
			rows := rowsOf(recs)
			if len(rows) == 1 && rows[0].id == ds.lookupIDs[i] && ds.rowMatches(rows[0]) {
				good++
			}
			return nil
		})
	add(opLookup, samples, err, false)
	if err == nil {
		b.rep.check(checkResult{Name: "point lookup returns the right row", Arrangement: arr, Engine: engineFlightwal,
			Status: passIf(good == len(ds.lookupIDs)), Value: float64(good) / float64(len(ds.lookupIDs)),
			Detail: fmt.Sprintf("%d of %d lookups returned exactly the stored row (id, vector, text)", good, len(ds.lookupIDs))})
	}

	// Full-text search.
	b.pr.logf("%s: full-text search", arr)
	ftsGot := make([][]int64, len(ds.ftsQueries))
	samples, err = b.timeQuery(ctx, len(ds.ftsQueries),
		func(i int) []byte {
			return ticketJSON(map[string]any{"table": name, "columns": []string{"id"},
				"search": map[string]any{"query": ds.ftsQueries[i], "columns": []string{"text"}, "k": b.c.K}})
		},
		func(i int, recs []arrow.RecordBatch) error { ftsGot[i] = idsOf(recs); return nil })
	add(opFTS, samples, err, true)
	if err == nil {
		ov := meanOverlap(ftsGot, ds.ftsExpect)
		b.rep.check(checkResult{Name: "FTS top k = brute-force BM25 (same tokenizer)", Arrangement: arr, Engine: engineFlightwal,
			Status: passIf(ov >= minFTSOverlap), Value: ov, Detail: fmt.Sprintf("mean overlap %.3f over %d queries (pass >= %.2f)", ov, len(ftsGot), minFTSOverlap)})
		b.rep.flightwalFTS[arr] = ftsGot
	}

	// Vector search.
	b.pr.logf("%s: vector search", arr)
	vecGot := make([][]int64, len(ds.queryVecs))
	samples, err = b.timeQuery(ctx, len(ds.queryVecs),
		func(i int) []byte {
			return ticketJSON(map[string]any{"table": name, "columns": []string{"id"},
				"nearest": map[string]any{"column": "vec", "vector": ds.queryVecs[i], "k": b.c.K}})
		},
		func(i int, recs []arrow.RecordBatch) error { vecGot[i] = idsOf(recs); return nil })
	add(opVector, samples, err, true)
	if err == nil {
		rc := meanOverlap(vecGot, ds.vecExpect)
		b.rep.check(checkResult{Name: "vector search recall@k vs exact search", Arrangement: arr, Engine: engineFlightwal,
			Status: passIf(rc >= minRecall), Value: rc, Detail: fmt.Sprintf("mean recall %.3f over %d queries (pass >= %.2f)", rc, len(vecGot), minRecall)})
		b.rep.flightwalVec[arr] = vecGot
	}
	b.rep.Cells = append(b.rep.Cells, queryCell{Op: opVectorFlat, Arrangement: arr, Engine: engineFlightwal, Status: statusNA,
		Reason: "flightwal's nearest has no exact-search switch (below the index's train_after rows it is exact)"})
}

// benchRow is one row of a result.
type benchRow struct {
	id   int64
	text string
	vec  []float32
}

func rowsOf(recs []arrow.RecordBatch) []benchRow {
	var out []benchRow
	for _, r := range recs {
		sc := r.Schema()
		idc, vc, tc := sc.FieldIndices("id"), sc.FieldIndices("vec"), sc.FieldIndices("text")
		if len(idc) == 0 {
			continue
		}
		ids := r.Column(idc[0]).(*array.Int64)
		for i := 0; i < int(r.NumRows()); i++ {
			row := benchRow{id: ids.Value(i)}
			if len(tc) > 0 {
				row.text = r.Column(tc[0]).(*array.String).Value(i)
			}
			if len(vc) > 0 {
				l := r.Column(vc[0]).(*array.FixedSizeList)
				vals := l.ListValues().(*array.Float32).Float32Values()
				lo, hi := l.ValueOffsets(i)
				row.vec = slices.Clone(vals[lo:hi])
			}
			out = append(out, row)
		}
	}
	return out
}

func idsOf(recs []arrow.RecordBatch) []int64 {
	var out []int64
	for _, r := range rowsOf(recs) {
		out = append(out, r.id)
	}
	return out
}

// rowMatches reports whether a returned row equals the stored one.
func (d *benchDataset) rowMatches(r benchRow) bool {
	if r.id < 0 || r.id >= int64(d.rows) || r.text != d.texts[r.id] {
		return false
	}
	return slices.Equal(r.vec, d.vecs[int(r.id)*d.dim:int(r.id+1)*d.dim])
}

// meanOverlap is the mean over queries of |got ∩ want| / |want| (1 when
// both are empty): recall@k against want.
func meanOverlap(got, want [][]int64) float64 {
	if len(want) == 0 {
		return 0
	}
	var t float64
	for i := range want {
		var g []int64
		if i < len(got) {
			g = got[i]
		}
		t += overlap(g, want[i])
	}
	return t / float64(len(want))
}

func overlap(got, want []int64) float64 {
	if len(want) == 0 {
		if len(got) == 0 {
			return 1
		}
		return 0
	}
	set := map[int64]bool{}
	for _, x := range got {
		set[x] = true
	}
	n := 0
	for _, x := range want {
		if set[x] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

func parseIDs(ss []string) []int64 {
	out := make([]int64, 0, len(ss))
	for _, s := range ss {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}
