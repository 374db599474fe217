// Command flightwal-bench is flightwal's benchmark: the Lance MemWAL
// results table (scan, point lookup, FTS and vector search on a memtable,
// a 1-fragment base and a 620-fragment base), the ingest side, and the
// real Lance engine as a reference column, in one run. docs/benchmarks.md
// explains the method; this file holds the command, its options, the data
// set and the in-process server. It is a binary of its own so that the
// server binary links neither it nor its test helpers (internal/lancejs).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"
	"unicode"

	_ "time/tzdata" // the in-process server's filters read named time zones, as flightwal serve's do

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/pflag"

	fwflight "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/fts"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/flightclient"
	"github.com/flightwal/flightwal/internal/serverconf"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
	"github.com/flightwal/flightwal/vector"
)

// benchConfig is the bench command's options.
type benchConfig struct {
	Rows            int           `json:"rows"`
	Dim             int           `json:"dim"`
	Seed            int64         `json:"seed"`
	Runs            int           `json:"runs"`
	Warmup          int           `json:"warmup"`
	Queries         int           `json:"queries"` // distinct lookup ids, FTS queries, query vectors
	K               int           `json:"k"`
	FragmentRows    int           `json:"fragment_rows"`
	IngestRows      int           `json:"ingest_rows"`
	Ingest          bool          `json:"ingest"`
	LanceRef        bool          `json:"lance_ref"`
	IVFPQ           bool          `json:"lance_ivf_pq"`
	IVFPQMaxSeconds float64       `json:"lance_ivf_pq_max_seconds"`
	LanceVariant    string        `json:"lance_variant"`
	LanceTimeout    time.Duration `json:"lance_timeout_ns"`
	Addr            string        `json:"addr,omitempty"`
	JSONPath        string        `json:"-"`
	MarkdownPath    string        `json:"-"`
	TempDir         string        `json:"-"`
	Clusters        int           `json:"clusters"`
	SettleMax       time.Duration `json:"settle_max_ns"`
	CellBudget      time.Duration `json:"cell_budget_ns"`
	AckSamples      int           `json:"ack_samples"`
}

func main() {
	_, err := runBenchTo(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flightwal-bench:", err)
		os.Exit(1)
	}
}

// runBenchTo runs the bench command, printing the Markdown report to out
// and progress to progressOut.
func runBenchTo(args []string, out, progressOut io.Writer) (*benchReport, error) {
	fs := pflag.NewFlagSet("flightwal-bench", pflag.ContinueOnError)
	c := benchConfig{}
	fs.IntVar(&c.Rows, "rows", 62000, "rows in the data set")
	fs.IntVar(&c.Dim, "dim", 1024, "vector dimension")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of the data set and the queries")
	fs.IntVar(&c.Runs, "runs", 20, "timed runs of each query (after the warm-up)")
	fs.IntVar(&c.Warmup, "warmup", 3, "untimed warm-up runs of each query")
	fs.IntVar(&c.Queries, "queries", 10, "distinct lookup ids, FTS queries and query vectors (the runs cycle through them)")
	fs.IntVar(&c.K, "k", 10, "k of FTS and vector search")
	fs.IntVar(&c.FragmentRows, "fragment-rows", 100, "rows per fragment of the many-fragment arrangement (62,000 / 100 = 620 fragments)")
	fs.IntVar(&c.IngestRows, "ingest-rows", 0, "rows each ingest configuration writes at least (0 = --rows)")
	fs.BoolVar(&c.Ingest, "ingest", true, "run the ingest section")
	fs.BoolVar(&c.LanceRef, "lance-ref", true, "run the real Lance engine (LanceDB's npm package, make deps) as the reference column")
	fs.BoolVar(&c.IVFPQ, "lance-ivf-pq", true, "also build an IVF_PQ index in the Lance reference tables")
	fs.Float64Var(&c.IVFPQMaxSeconds, "lance-ivf-pq-max-seconds", 90, "skip Lance's second IVF_PQ build when the first took longer than this")
	fs.StringVar(&c.LanceVariant, "lance-variant", "v039", `LanceDB install under $FLIGHTWAL_CACHE: "v039" (node-v039, LanceDB 0.39) or "" (node, LanceDB 0.31, whose FTS index build stalls on 40,000+ rows)`)
	fs.DurationVar(&c.LanceTimeout, "lance-timeout", 10*time.Minute, "give up on the Lance reference after this long")
	fs.StringVar(&c.Addr, "addr", "", "benchmark a running server at this address (default: start one in this process over a temporary directory)")
	fs.StringVar(&c.JSONPath, "json", "", "write the results as JSON to this file")
	fs.StringVar(&c.MarkdownPath, "markdown", "", "write the Markdown report to this file")
	fs.StringVar(&c.TempDir, "tmp", "", "directory for the temporary tables and files (default: the system's)")
	fs.IntVar(&c.Clusters, "clusters", 0, "vector clusters of the data set (0 = rows/250, at least 4)")
	fs.DurationVar(&c.CellBudget, "cell-budget", 15*time.Second, "stop a query's timed runs after this long once it has 5 (the cell reports its run count)")
	fs.IntVar(&c.AckSamples, "ack-samples", 20, "batches per writer of the closed-loop ack latency runs of the ingest section")
	fs.DurationVar(&c.SettleMax, "settle-max", 3*time.Minute, "longest wait for the server's background indexing after loading an arrangement")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("unexpected argument %q: flightwal-bench takes only flags (see flightwal-bench --help)", fs.Arg(0))
	}
	rep, err := bench(context.Background(), c, progressOut)
	if rep != nil {
		md := rep.markdown()
		fmt.Fprint(out, md)
		if c.MarkdownPath != "" {
			if werr := os.WriteFile(c.MarkdownPath, []byte(md), 0o644); werr != nil && err == nil {
				err = werr
			}
		}
		if c.JSONPath != "" {
			raw, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(c.JSONPath, append(raw, '\n'), 0o644); werr != nil && err == nil {
				err = werr
			}
		}
		if err == nil && !rep.ChecksPassed {
			err = fmt.Errorf("bench: %d correctness check(s) failed (see the report)", rep.failedChecks())
		}
	}
	return rep, err
}

func (c *benchConfig) validate() error {
	switch {
	case c.Rows < 1:
		return fmt.Errorf("--rows must be at least 1")
	case c.Dim < 1:
		return fmt.Errorf("--dim must be at least 1")
	case c.Runs < 1:
		return fmt.Errorf("--runs must be at least 1")
	case c.Warmup < 0:
		return fmt.Errorf("--warmup must not be negative")
	case c.Queries < 1:
		return fmt.Errorf("--queries must be at least 1")
	case c.K < 1 || c.K > lsm.MaxK:
		return fmt.Errorf("--k must be between 1 and %d", lsm.MaxK)
	case c.FragmentRows < 1:
		return fmt.Errorf("--fragment-rows must be at least 1")
	}
	if c.IngestRows <= 0 {
		c.IngestRows = c.Rows
	}
	if c.Clusters <= 0 {
		c.Clusters = max(4, c.Rows/250)
	}
	return nil
}

// bench runs the whole suite. Progress goes to progressOut. It returns the
// report even when a phase failed (with what was measured), and an error
// for failures that stopped the run.
func bench(ctx context.Context, c benchConfig, progressOut io.Writer) (*benchReport, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	pr := newProgress(progressOut)
	rep := newBenchReport(c)

	tmp, err := os.MkdirTemp(c.TempDir, "flightwal-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	pr.logf("generating %d rows (%d-dim clustered vectors, ~100-word texts), seed %d", c.Rows, c.Dim, c.Seed)
	ds := newBenchDataset(c)
	defer ds.release()

	srv := benchServer{addr: c.Addr}
	if c.Addr == "" {
		if srv, err = startBenchServer(ctx, tmp, ds); err != nil {
			return nil, err
		}
		defer srv.stop()
		rep.Server = fmt.Sprintf("in-process flightwal server on %s over a local temporary directory (memtable limits raised to hold the whole data set: %d rows, %d MiB)", srv.addr, srv.memRows, srv.memBytes>>20)
	} else {
		rep.Server = "running server at " + c.Addr
	}

	// The Lance reference runs in node, in the same run, before the
	// flightwal phases so the two do not share the CPU.
	var ref *lanceReference
	if c.LanceRef {
		ref, err = runLanceReference(ctx, c, ds, tmp, pr)
		if err != nil {
			rep.LanceError = err.Error()
			pr.logf("Lance reference unavailable: %v", err)
		} else {
			rep.LanceDBVersion = ref.Version
			rep.NodeVersion = ref.NodeVersion
		}
	} else {
		rep.LanceError = "disabled (--lance-ref=false)"
	}

	cl, err := flightclient.Dial(srv.addr)
	if err != nil {
		return rep, err
	}
	defer cl.Close()
	b := &benchRun{c: c, ds: ds, cl: cl, srv: srv, pr: pr, rep: rep, ref: ref}
	defer func() {
		rep.finish(ref, ds, time.Since(start))
		pr.logf("done in %s", time.Since(start).Round(time.Second))
	}()
	if err := b.queries(ctx); err != nil {
		return rep, err
	}
	if c.Ingest {
		if err := b.ingest(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// benchDataset is the seeded data set, its queries and their exact answers.
type benchDataset struct {
	rows, dim int
	schema    *arrow.Schema
	vecs      []float32 // rows x dim
	texts     []string
	rec       arrow.RecordBatch // all rows; batches are zero-copy slices of it
	bytes     int64             // Arrow buffer bytes of rec

	lookupIDs  []int64
	ftsQueries []string
	queryVecs  [][]float32

	ftsExpect [][]int64 // our brute-force BM25 scorer's top k per FTS query
	vecExpect [][]int64 // exact (flat L2) top k per query vector
}

func newBenchDataset(c benchConfig) *benchDataset {
	d := &benchDataset{rows: c.Rows, dim: c.Dim, schema: datagen.Schema(c.Dim)}
	// Rows and held-out query vectors in one call: the tail is drawn from
	// the same clusters (vector.GenerateClustered).
	all := vector.GenerateClustered(c.Rows+c.Queries, c.Dim, c.Clusters, c.Seed)
	d.vecs = all[: c.Rows*c.Dim : c.Rows*c.Dim]
	for i := range c.Queries {
		d.queryVecs = append(d.queryVecs, all[(c.Rows+i)*c.Dim:(c.Rows+i+1)*c.Dim])
	}
	d.texts = fts.GenerateCorpus(c.Rows, 100, c.Seed)
	d.rec = d.build()
	d.bytes = recordBytes(d.rec)

	r := rand.New(rand.NewPCG(uint64(c.Seed), 0x6c6f6f6b7570)) // "lookup"
	for range c.Queries {
		d.lookupIDs = append(d.lookupIDs, r.Int64N(int64(c.Rows)))
	}
	d.ftsQueries = pickFTSQueries(d.texts, c.Queries, r)
	cfg := fts.DefaultTokenizerConfig()
	for _, q := range d.ftsQueries {
		pq, err := fts.ParseQuery(q, cfg)
		var ids []int64
		if err == nil {
			for _, res := range fts.BruteForce(d.texts, nil, pq, cfg, c.K) {
				ids = append(ids, int64(res.Pos))
			}
		}
		d.ftsExpect = append(d.ftsExpect, ids)
	}
	for _, q := range d.queryVecs {
		res, _ := vector.FlatSearch(d.vecs, c.Dim, q, c.K, vector.L2, nil)
		var ids []int64
		for _, x := range res {
			ids = append(ids, int64(x.Pos))
		}
		d.vecExpect = append(d.vecExpect, ids)
	}
	return d
}

// build makes one record of all rows; the vector column shares d.vecs.
func (d *benchDataset) build() arrow.RecordBatch {
	mem := memory.DefaultAllocator
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(d.rows)
	for i := range d.rows {
		ib.UnsafeAppend(int64(i))
	}
	ids := ib.NewArray()
	defer ids.Release()
	vb := memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(d.vecs))
	vdata := array.NewData(arrow.PrimitiveTypes.Float32, d.rows*d.dim, []*memory.Buffer{nil, vb}, nil, 0, 0)
	defer vdata.Release()
	ldata := array.NewData(d.schema.Field(1).Type, d.rows, []*memory.Buffer{nil}, []arrow.ArrayData{vdata}, 0, 0)
	defer ldata.Release()
	vecs := array.MakeFromData(ldata)
	defer vecs.Release()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	sb.AppendValues(d.texts, nil)
	texts := sb.NewArray()
	defer texts.Release()
	return array.NewRecordBatch(d.schema, []arrow.Array{ids, vecs, texts}, int64(d.rows))
}

func (d *benchDataset) release() { d.rec.Release() }

// batches returns rows [0, rows) as zero-copy slices of n rows each.
func (d *benchDataset) batches(lo, hi, n int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i := lo; i < hi; i += n {
		out = append(out, d.rec.NewSlice(int64(i), int64(min(hi, i+n))))
	}
	return out
}

// recordBytes is the Arrow buffer bytes a batch's rows occupy (ids,
// vectors, string offsets and text bytes; validity bitmaps are absent),
// exact for slices too.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		switch a := col.(type) {
		case *array.String:
			n += int64(4 * (a.Len() + 1))
			if offs := a.ValueOffsets(); len(offs) > 0 {
				n += int64(offs[len(offs)-1] - offs[0])
			}
		case *array.FixedSizeList:
			n += int64(a.Len()) * int64(a.DataType().(*arrow.FixedSizeListType).Len()) * 4
		default:
			n += int64(a.Len()) * 8
		}
	}
	return n
}

// pickFTSQueries picks n two-word queries from the corpus: ASCII words of
// at least 4 letters that are in 0.3% to 3% of the documents (the
// corpus's Zipf tail, invented words: no stop words, and every query has
// matches), seeded.
func pickFTSQueries(texts []string, n int, r *rand.Rand) []string {
	df := map[string]int{}
	seen := map[string]bool{}
	for _, t := range texts {
		clear(seen)
		for _, w := range strings.FieldsFunc(strings.ToLower(t), func(c rune) bool { return !unicode.IsLetter(c) }) {
			if len(w) >= 4 && !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	lo, hi := max(2, len(texts)*3/1000), max(3, len(texts)*3/100)
	var cands []string
	for w, f := range df {
		if f >= lo && f <= hi && isASCIIWord(w) {
			cands = append(cands, w)
		}
	}
	if len(cands) < 2 { // tiny corpora: any word that occurs twice
		cands = cands[:0]
		for w, f := range df {
			if f >= 2 {
				cands = append(cands, w)
			}
		}
	}
	sort.Strings(cands)
	if len(cands) < 2 {
		return []string{"lorem ipsum"}
	}
	out := make([]string, n)
	for i := range out {
		a := r.IntN(len(cands))
		b := r.IntN(len(cands) - 1)
		if b >= a {
			b++
		}
		out[i] = cands[a] + " " + cands[b]
	}
	return out
}

// isASCIIWord reports whether w is made of the letters a to z only
// (accented letters fold differently across tokenizers).
func isASCIIWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return true
}

// benchServer is the server under test.
type benchServer struct {
	addr      string
	inProcess bool
	memRows   int64
	memBytes  int64
	stop      func()
}

// startBenchServer starts flightwal in this process over dir/data, with
// memtable limits that hold the whole data set (arrangement 1 is "all in
// the memtable") and automatic compaction off (the bench compacts when an
// arrangement asks for it).
func startBenchServer(ctx context.Context, dir string, ds *benchDataset) (benchServer, error) {
	store, err := objstore.Open(ctx, dir+"/data", objstore.S3Options{})
	if err != nil {
		return benchServer{}, err
	}
	memBytes := max(256<<20, 3*ds.bytes+(64<<20))
	memRows := max(1_000_000, 2*int64(ds.rows))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := lsm.Open(ctx, store, serverconf.DefaultLSM(lsm.Options{
		Logger:                  log,
		MemTableMaxBytes:        memBytes,
		MemTableMaxRows:         memRows,
		MaxUnflushedBytes:       max(1<<30, 8*ds.bytes),
		CompactAfterGenerations: -1,
	}))
	if err != nil {
		return benchServer{}, err
	}
	svc := fwflight.NewService(db, fwflight.Options{Logger: log})
	srv, err := fwflight.Listen("127.0.0.1:0", svc)
	if err != nil {
		db.Close()
		return benchServer{}, err
	}
	return benchServer{
		addr: srv.Addr().String(), inProcess: true, memRows: memRows, memBytes: memBytes,
		stop: func() {
			srv.Shutdown(context.Background())
			_ = db.Close()
		},
	}, nil
}

// progress writes progress lines to stderr: a line per step, and for long
// loops a line at most every few seconds (or a rewritten line on a
// terminal).
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  time.Time
	live  bool // a \r line is open
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) stamp() string {
	return fmt.Sprintf("[bench %6.1fs]", time.Since(p.start).Seconds())
}

func (p *progress) logf(format string, args ...any) {
	if p.w == nil {
		return
	}
	if p.live {
		fmt.Fprintln(p.w)
		p.live = false
	}
	fmt.Fprintf(p.w, "%s %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

// step reports i of n done in a long phase.
func (p *progress) step(what string, i, n int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if i < n && now.Sub(p.last) < 200*time.Millisecond || !p.tty && i < n && now.Sub(p.last) < 5*time.Second {
		return
	}
	p.last = now
	if p.tty {
		fmt.Fprintf(p.w, "\r%s %s: %d/%d   ", p.stamp(), what, i, n)
		p.live = true
		if i >= n {
			fmt.Fprintln(p.w)
			p.live = false
		}
		return
	}
	fmt.Fprintf(p.w, "%s %s: %d/%d\n", p.stamp(), what, i, n)
}
