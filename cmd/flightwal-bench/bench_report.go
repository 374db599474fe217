package main

// The bench report: JSON (every cell, check and load) and the Markdown
// tables in the shape of Lance's MemWAL results table.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// benchReport is the JSON of flightwal-bench.
type benchReport struct {
	Config         benchConfig   `json:"config"`
	Command        string        `json:"command"`
	Machine        machineInfo   `json:"machine"`
	Started        string        `json:"started"`
	TotalSeconds   float64       `json:"total_seconds"`
	Server         string        `json:"server"`
	LanceDBVersion string        `json:"lancedb_version,omitempty"`
	NodeVersion    string        `json:"node_version,omitempty"`
	LanceError     string        `json:"lance_error,omitempty"`
	Loads          []loadInfo    `json:"loads"`
	Cells          []queryCell   `json:"cells"`
	Checks         []checkResult `json:"checks"`
	Ingest         []ingestCell  `json:"ingest"`
	ChecksPassed   bool          `json:"checks_passed"`
	Published      []published   `json:"published_lance_memwal"`

	flightwalFTS map[string][][]int64
	flightwalVec map[string][][]int64
}

// checkResult is one correctness check. Status: pass, fail, info (a
// measured agreement without a pass mark), n/a.
type checkResult struct {
	Name        string  `json:"name"`
	Arrangement string  `json:"arrangement"`
	Engine      string  `json:"engine"`
	Status      string  `json:"status"`
	Value       float64 `json:"value"`
	Detail      string  `json:"detail"`
}

// published is a figure of Lance's MemWAL results table (their machine,
// not measured here).
type published struct {
	Op          string  `json:"op"`
	Arrangement string  `json:"arrangement"` // memtable = Lance MemWAL's memtable
	Ms          float64 `json:"ms"`
}

var publishedFigures = []published{
	{opScan, arrMemtable, 0.267}, {opScan, arrOne, 22.5}, {opScan, arrMany, 26.4},
	{opLookup, arrMemtable, 0.946}, {opLookup, arrOne, 2.86}, {opLookup, arrMany, 67.3},
	{opFTS, arrMemtable, 148}, {opFTS, arrOne, 671}, {opFTS, arrMany, 749},
	{opVector, arrMemtable, 1.016}, {opVector, arrOne, 1.005}, {opVector, arrMany, 1.467},
}

type machineInfo struct {
	CPUs      int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	MemoryGiB string `json:"memory"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
}

func newBenchReport(c benchConfig) *benchReport {
	return &benchReport{
		Config: c, Command: commandLine(), Machine: describeMachine(), Started: time.Now().UTC().Format(time.RFC3339),
		Published: publishedFigures, flightwalFTS: map[string][][]int64{}, flightwalVec: map[string][][]int64{},
	}
}

func commandLine() string {
	args := append([]string{"flightwal-bench"}, os.Args[1:]...)
	if strings.HasSuffix(os.Args[0], ".test") {
		args = []string{"flightwal-bench", "(from go test)"}
	}
	return strings.Join(args, " ")
}

func describeMachine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if out, err := exec.Command("nproc").Output(); err == nil {
		fmt.Sscan(strings.TrimSpace(string(out)), &m.CPUs)
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
				m.MemoryGiB = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.OS = strings.TrimSpace(string(out)) + " " + runtime.GOARCH
	}
	return m
}

func (r *benchReport) check(c checkResult) { r.Checks = append(r.Checks, c) }

func passIf(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func (r *benchReport) failedChecks() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == "fail" {
			n++
		}
	}
	for _, c := range r.Cells {
		if c.Status == statusError {
			n++
		}
	}
	for _, c := range r.Ingest {
		if c.Status == statusError {
			n++
		}
	}
	return n
}

// finish adds the Lance column and the verdict.
func (r *benchReport) finish(ref *lanceReference, ds *benchDataset, total time.Duration) {
	r.addLance(ref, ds)
	r.TotalSeconds = total.Seconds()
	r.ChecksPassed = r.failedChecks() == 0
}

func (r *benchReport) cell(op, arr, engine string) (queryCell, bool) {
	for _, c := range r.Cells {
		if c.Op == op && c.Arrangement == arr && c.Engine == engine {
			return c, true
		}
	}
	return queryCell{}, false
}

// fmtDur formats milliseconds: 812 µs, 3.41 ms, 27.9 ms, 1.23 s.
func fmtDur(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0f µs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
}

func fmtCell(c queryCell, ok bool) string {
	switch {
	case !ok:
		return "—"
	case c.Status == statusOK:
		return fmtDur(c.P50Ms) + " / " + fmtDur(c.P99Ms)
	case c.Status == statusNA && strings.HasPrefix(c.Reason, "not supported by this build"):
		return "n/a (not supported by this build)"
	case c.Status == statusNA:
		return "—"
	default:
		return "error"
	}
}

func ratio(a, b queryCell, okA, okB bool) string {
	if !okA || !okB || a.Status != statusOK || b.Status != statusOK || b.P50Ms <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a.P50Ms/b.P50Ms)
}

var opTitles = map[string]string{
	opScan:       "full scan (every column)",
	opLookup:     "point lookup by id",
	opFTS:        "FTS, 2 terms, k=%d",
	opVector:     "vector search, k=%d (indexed: flightwal ivf_pq, Lance IVF_PQ)",
	opVectorFlat: "vector search, k=%d, exact (Lance flat)",
}

func opTitle(op string, k int) string {
	t := opTitles[op]
	if strings.Contains(t, "%d") {
		return fmt.Sprintf(t, k)
	}
	return t
}

func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// markdown renders the report.
func (r *benchReport) markdown() string {
	var b strings.Builder
	c := r.Config
	many := (c.Rows + c.FragmentRows - 1) / c.FragmentRows
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# flightwal benchmarks\n\n")
	p("Made by `%s` on %s.\n\n", r.Command, r.Started)
	p("Machine: %d CPUs (`nproc`), %s, %s memory, %s, %s", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGiB, r.Machine.OS, r.Machine.GoVersion)
	if r.NodeVersion != "" {
		p(", node %s, LanceDB (npm) %s", r.NodeVersion, r.LanceDBVersion)
	}
	p(". Total run time %s.\n\n", time.Duration(r.TotalSeconds*float64(time.Second)).Round(time.Second))
	p("Data set: %s rows of (int64 id primary key, %d-dim float32 vector from %d Gaussian clusters, ~100-word text from a Zipf corpus), seed %d. ", fmtCount(int64(c.Rows)), c.Dim, c.Clusters, c.Seed)
	p("Server: %s. Client: arrow-go Flight over loopback gRPC; every time includes the request, the server's work and reading the whole answer.\n\n", r.Server)

	p("## Queries\n\n")
	p("p50 / p99 of %d timed runs after %d warm-up runs (p99 of fewer than 100 runs is the maximum); the runs cycle through %d lookup ids, FTS queries and query vectors. ", c.Runs, c.Warmup, c.Queries)
	p("A query slower than --cell-budget (%s) stops after at least %d runs and says how many. ", c.CellBudget, minRuns)
	p("× columns are flightwal p50 ÷ Lance p50 (above 1: flightwal is slower). Lance is timed inside node (LanceDB's Rust engine through its node binding, no network).\n\n")
	p("| operation | flightwal memtable | flightwal 1 fragment | Lance 1 fragment | × | flightwal %d fragments | Lance %d fragments | × |\n", many, many)
	p("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	fmtCell := func(cl queryCell, ok bool) string {
		out := fmtCell(cl, ok)
		if ok && cl.Status == statusOK && cl.Runs < c.Runs {
			out += fmt.Sprintf(" (%d runs)", cl.Runs)
		}
		return out
	}
	for _, op := range benchOps {
		fm, okm := r.cell(op, arrMemtable, engineFlightwal)
		f1, ok1 := r.cell(op, arrOne, engineFlightwal)
		l1, okl1 := r.cell(op, arrOne, engineLance)
		fn, okn := r.cell(op, arrMany, engineFlightwal)
		ln, okln := r.cell(op, arrMany, engineLance)
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", opTitle(op, c.K), fmtCell(fm, okm), fmtCell(f1, ok1), fmtCell(l1, okl1), ratio(f1, l1, ok1, okl1),
			fmtCell(fn, okn), fmtCell(ln, okln), ratio(fn, ln, okn, okln))
	}
	p("\nLance's published MemWAL table (62,000 rows, 1024-dim; their machine, not measured here) for the same shape, memtable / Lance 1 fragment / Lance 620 fragments: ")
	var pub []string
	for _, op := range []string{opScan, opLookup, opFTS, opVector} {
		var v []string
		for _, f := range r.Published {
			if f.Op == op {
				v = append(v, fmtDur(f.Ms))
			}
		}
		pub = append(pub, fmt.Sprintf("%s %s", strings.SplitN(opTitle(op, 10), ",", 2)[0], strings.Join(v, " / ")))
	}
	p("%s.\n\n", strings.Join(pub, "; "))

	var notes []string
	for _, cl := range r.Cells {
		if cl.Status != statusOK && cl.Reason != "" && !strings.HasPrefix(cl.Reason, "LanceDB has no memtable") && cl.Op != opVectorFlat {
			notes = append(notes, fmt.Sprintf("%s %s on %s: %s — %s", cl.Engine, cl.Op, cl.Arrangement, cl.Status, cl.Reason))
		}
	}
	p("Not measured: Lance's memtable column (LanceDB 0.39 reads its MemWAL with useLsm, but this reference does not load an arrangement through it yet; BenchmarkMemWALIngestVsLanceDB compares ingest through it); flightwal has no exact-search switch (its nearest is exact only below the index's train_after rows).")
	if len(notes) > 0 {
		p(" Also:\n\n")
		for _, n := range dedupe(notes) {
			p("- %s\n", n)
		}
	}
	p("\n\n### Loading the arrangements\n\n")
	p("| engine | arrangement | how | time | base fragments | memtable rows | then |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, l := range r.Loads {
		then := ""
		if l.Engine == engineFlightwal {
			then = fmt.Sprintf("background indexing settled in %.1f s", l.SettleSecs)
		} else {
			then = l.Note
		}
		if l.Engine == engineFlightwal && l.Note != "" {
			then += "; " + l.Note
		}
		if l.Error != "" {
			then += "; error: " + l.Error
		}
		frags, memRows := fmt.Sprint(l.Fragments), fmtCount(l.MemRows)
		if l.Engine == engineLance {
			memRows = "—"
		}
		p("| %s | %s | %s | %.1f s | %s | %s | %s |\n", l.Engine, arrTitle(l.Arrangement, many), l.How, l.Seconds, frags, memRows, then)
	}

	p("\n### Correctness\n\n")
	p("Every timed query's answers are checked. Exact vector search is our brute force (the same as Lance's flat search, checked below); FTS is also compared with our brute-force BM25 scorer. The overlap with Lance's FTS is reported, not judged: the tokenizers and BM25 details differ.\n\n")
	p("| check | engine | arrangement | result | value |\n| --- | --- | --- | --- | --- |\n")
	for _, ch := range r.Checks {
		p("| %s | %s | %s | %s | %s |\n", ch.Name, ch.Engine, arrTitle(ch.Arrangement, many), ch.Status, ch.Detail)
	}
	verdict := "all checks passed"
	if !r.ChecksPassed {
		verdict = fmt.Sprintf("%d check(s) or cell(s) FAILED", r.failedChecks())
	}
	p("\nVerdict: %s.\n", verdict)

	if len(r.Ingest) > 0 {
		p("\n## Ingest\n\n")
		p("DoPut into a new table without search indexes, every writer on its own connection streaming its batches without waiting for acks; rows/s and MB/s (Arrow buffer bytes) until the last PutResult. durable = PATH descriptor (acked once the WAL entry is persisted); async = CMD `{\"table\": ..., \"durable\": false}` (acked once in the memtable; \"sync\" is the `sync` action after the last ack). Ack latency is from the start of a batch's write to its PutResult: \"closed loop\" has each writer wait for a batch's PutResult before sending the next (up to %d batches per writer), \"streaming\" is measured in the throughput run, where it includes the batches queued ahead. The discard server decodes the same streams and answers each batch at once (`internal/benchutil`), in the same run; × is flightwal rows/s ÷ discard rows/s.\n\n", c.AckSamples)
		p("| mode | writers | batch rows | rows | flightwal rows/s | MB/s | ack p50 / p99, closed loop | ack p50 / p99, streaming | sync | discard rows/s | discard MB/s | discard ack p50 / p99, closed loop | × |\n")
		p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, in := range r.Ingest {
			if in.Target == targetDiscard {
				continue
			}
			base := r.discardFor(in.Writers, in.BatchRows)
			if in.Status != statusOK {
				p("| %s | %d | %s | %s | error: %s | | | | | | | | |\n", in.Mode, in.Writers, fmtCount(int64(in.BatchRows)), fmtCount(in.Rows), in.Reason)
				continue
			}
			sync := "—"
			if in.Mode == "async" {
				sync = fmtDur(in.SyncMs)
			}
			vs := "—"
			if in.VsDiscard > 0 {
				vs = fmt.Sprintf("%.2f", in.VsDiscard)
			}
			p("| %s | %d | %s | %s | %s | %.0f | %s / %s | %s / %s | %s | %s | %.0f | %s / %s | %s |\n", in.Mode, in.Writers, fmtCount(int64(in.BatchRows)), fmtCount(in.Rows),
				fmtCount(int64(in.RowsPerS)), in.MBPerS, fmtDur(in.AckP50Ms), fmtDur(in.AckP99Ms), fmtDur(in.StreamAckP50Ms), fmtDur(in.StreamAckP99Ms),
				sync, fmtCount(int64(base.RowsPerS)), base.MBPerS, fmtDur(base.AckP50Ms), fmtDur(base.AckP99Ms), vs)
		}
	}
	return b.String()
}

func (r *benchReport) discardFor(writers, batch int) ingestCell {
	for _, in := range r.Ingest {
		if in.Target == targetDiscard && in.Writers == writers && in.BatchRows == batch {
			return in
		}
	}
	return ingestCell{}
}

func arrTitle(arr string, many int) string {
	switch arr {
	case arrMemtable:
		return "memtable"
	case arrOne:
		return "1 fragment"
	case arrMany:
		return fmt.Sprintf("%d fragments", many)
	}
	return arr
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
