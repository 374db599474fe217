package main

// The Lance reference column of flightwal-bench: the data set written as
// Arrow IPC files, interop/bench_reference.mjs writing it with the real
// Lance engine (LanceDB's npm package) and timing the same queries inside
// node, and the answers it returns.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/vector"
)

// lanceReference is what bench_reference.mjs printed.
type lanceReference struct {
	Version      string             `json:"lancedb_version"`
	NodeVersion  string             `json:"node_version"`
	Rows         int64              `json:"rows"`
	Arrangements []lanceArrangement `json:"arrangements"`
}

type lanceArrangement struct {
	Name      string             `json:"name"`
	Rows      int64              `json:"rows"`
	Fragments int                `json:"fragments"`
	WriteMs   float64            `json:"write_ms"`
	IndexMs   map[string]float64 `json:"index_ms"`
	Ops       map[string]lanceOp `json:"ops"`
}

type lanceOp struct {
	SamplesMs []float64       `json:"samples_ms"`
	Rows      int64           `json:"rows"`
	Results   json.RawMessage `json:"results"`
	Skipped   string          `json:"skipped"`
}

type lanceLookupRow struct {
	ID   string  `json:"id"`
	Text string  `json:"text"`
	Vec0 float64 `json:"vec0"`
}

// lanceArr maps the script's arrangement names to the report's.
var lanceArr = map[string]string{"one": arrOne, "many": arrMany}

// lanceIPCChunkRows bounds the rows of one Arrow IPC file for node (node
// reads each file into one buffer).
const lanceIPCChunkRows = 100_000

func runLanceReference(ctx context.Context, c benchConfig, ds *benchDataset, tmp string, pr *progress) (*lanceReference, error) {
	root, err := lancejs.LocateRepoRoot()
	if err != nil {
		return nil, err
	}
	nm, err := lancejs.FindNodeModules(root, c.LanceVariant)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "lance")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	pr.logf("Lance reference: writing the data set as Arrow IPC for node")
	var files []string
	for lo := 0; lo < ds.rows; lo += lanceIPCChunkRows {
		f := filepath.Join(tmp, fmt.Sprintf("data-%03d.arrow", len(files)))
		if err := writeIPCFile(f, ds, lo, min(ds.rows, lo+lanceIPCChunkRows)); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	qv := filepath.Join(tmp, "queries.f32")
	var raw4 []byte
	for _, q := range ds.queryVecs {
		for _, x := range q {
			u := math.Float32bits(x)
			raw4 = append(raw4, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
	}
	if err := os.WriteFile(qv, raw4, 0o644); err != nil {
		return nil, err
	}
	ids := make([]string, len(ds.lookupIDs))
	for i, id := range ds.lookupIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	spec := map[string]any{
		"dir": dir, "data": files, "fragment_rows": c.FragmentRows,
		"warmup": c.Warmup, "runs": c.Runs, "k": c.K, "cell_budget_ms": c.CellBudget.Milliseconds(), "min_runs": minRuns,
		"lookup_ids": ids, "fts_queries": ds.ftsQueries, "vectors": qv, "dim": ds.dim,
		// Queried with flightwal's nearest defaults, so the two indexed
		// searches do the same work per query.
		"ivf_pq": map[string]any{"enabled": c.IVFPQ, "max_seconds": c.IVFPQMaxSeconds,
			"nprobes": vector.DefaultNProbes, "refine_factor": vector.DefaultRefineFactor},
		"arrangements": []string{"one", "many"},
	}
	specPath := filepath.Join(tmp, "lance-spec.json")
	raw, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, raw, 0o644); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, c.LanceTimeout)
	defer cancel()
	cmd := lancejs.Command(ctx, root, nm, "bench_reference.mjs", specPath)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var tail []string // the last lines of node's stderr, for errors
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "lance: ") {
			pr.logf("%s", line)
		} else {
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%v after --lance-timeout %s", err, c.LanceTimeout)
		}
		return nil, fmt.Errorf("node bench_reference.mjs: %v\n%s", err, strings.Join(tail, "\n"))
	}
	ref := &lanceReference{}
	if err := json.Unmarshal(stdout.Bytes(), ref); err != nil {
		return nil, fmt.Errorf("bench_reference.mjs output: %v", err)
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		ref.NodeVersion = strings.TrimSpace(string(out))
	}
	return ref, nil
}

// writeIPCFile writes rows [lo, hi) of the data set as an Arrow IPC file
// of 10,000-row batches.
func writeIPCFile(path string, ds *benchDataset, lo, hi int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(ds.schema))
	if err != nil {
		f.Close()
		return err
	}
	recs := ds.batches(lo, hi, 10_000)
	defer releaseAll(recs)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			w.Close()
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// addLance turns the reference's timings into cells and its answers into
// checks against the data set, and compares flightwal's answers with them.
func (r *benchReport) addLance(ref *lanceReference, ds *benchDataset) {
	byArr := map[string]*lanceArrangement{}
	if ref != nil {
		for i := range ref.Arrangements {
			a := &ref.Arrangements[i]
			if arr, ok := lanceArr[a.Name]; ok {
				byArr[arr] = a
				how := "createTable with every row (one write)"
				if arr == arrMany {
					how = fmt.Sprintf("createTable + table.add of %d-row batches", r.Config.FragmentRows)
				}
				r.Loads = append(r.Loads, loadInfo{Engine: engineLance, Arrangement: arr, How: how, Seconds: a.WriteMs / 1000,
					Rows: a.Rows, Fragments: a.Fragments, IndexSecs: sumMap(a.IndexMs) / 1000,
					Note: fmt.Sprintf("index builds: %s", formatIndexMs(a.IndexMs))})
			}
		}
	}
	for _, arr := range benchArrangements {
		a := byArr[arr]
		for _, op := range benchOps {
			cell := queryCell{Op: op, Arrangement: arr, Engine: engineLance, Status: statusNA}
			lop, ok := lanceOp{}, false
			if a != nil {
				name := op
				if op == opVector {
					name = "vector_ivf_pq"
				}
				lop, ok = a.Ops[name]
			}
			switch {
			case arr == arrMemtable:
				cell.Reason = "not measured: the reference does not load a memtable arrangement through LanceDB's MemWAL (0.39 reads one with useLsm)"
			case ref == nil:
				cell.Reason = "no Lance reference in this run: " + r.LanceError
			case !ok:
				cell.Reason = "the reference did not run this query"
			case lop.Skipped != "":
				cell.Reason = lop.Skipped
			default:
				cell = newCell(op, arr, engineLance, lop.SamplesMs, r.Config.Warmup)
			}
			r.Cells = append(r.Cells, cell)
		}
		if a == nil {
			continue
		}
		r.lanceChecks(arr, a, ds)
	}
	r.compareWithLance(byArr)
}

func (r *benchReport) lanceChecks(arr string, a *lanceArrangement, ds *benchDataset) {
	n := int64(ds.rows)
	if op, ok := a.Ops[opScan]; ok {
		r.check(checkResult{Name: "scan returns every row once", Arrangement: arr, Engine: engineLance,
			Status: passIf(op.Rows == n), Value: float64(op.Rows), Detail: fmt.Sprintf("%d rows (want %d)", op.Rows, n)})
	}
	if op, ok := a.Ops[opLookup]; ok {
		var res [][]lanceLookupRow
		_ = json.Unmarshal(op.Results, &res)
		good := 0
		for i, rows := range res {
			if i < len(ds.lookupIDs) && len(rows) == 1 {
				id := ds.lookupIDs[i]
				if rows[0].ID == strconv.FormatInt(id, 10) && rows[0].Text == ds.texts[id] && float32(rows[0].Vec0) == ds.vecs[int(id)*ds.dim] {
					good++
				}
			}
		}
		r.check(checkResult{Name: "point lookup returns the right row", Arrangement: arr, Engine: engineLance,
			Status: passIf(good == len(ds.lookupIDs)), Value: float64(good) / float64(len(ds.lookupIDs)),
			Detail: fmt.Sprintf("%d of %d lookups returned exactly the stored row (id, text, first vector value)", good, len(ds.lookupIDs))})
	}
	if flat, ok := lanceIDs(a, opVectorFlat); ok {
		rc := meanOverlap(flat, ds.vecExpect)
		r.check(checkResult{Name: "Lance flat search = our exact search (the recall ground truth)", Arrangement: arr, Engine: engineLance,
			Status: passIf(rc >= minFlatRecall), Value: rc, Detail: fmt.Sprintf("mean overlap %.3f over %d queries (pass >= %.2f)", rc, len(flat), minFlatRecall)})
	}
	if ivf, ok := lanceIDs(a, "vector_ivf_pq"); ok {
		rc := meanOverlap(ivf, ds.vecExpect)
		r.check(checkResult{Name: "Lance IVF_PQ recall@k vs exact search", Arrangement: arr, Engine: engineLance,
			Status: "info", Value: rc, Detail: fmt.Sprintf("mean recall %.3f over %d queries (nprobes %d, refine factor %d, as flightwal's defaults)", rc, len(ivf), vector.DefaultNProbes, vector.DefaultRefineFactor)})
	}
	if lf, ok := lanceIDs(a, opFTS); ok {
		ov := meanOverlap(lf, ds.ftsExpect)
		r.check(checkResult{Name: "Lance FTS top k overlap with our brute-force BM25", Arrangement: arr, Engine: engineLance,
			Status: "info", Value: ov, Detail: fmt.Sprintf("mean overlap %.3f over %d queries (tokenizers and BM25 details differ)", ov, len(lf))})
	}
}

// compareWithLance checks flightwal's vector and FTS answers on each
// arrangement against the Lance reference's on the same arrangement (the
// memtable against Lance's 1-fragment table: the same rows).
func (r *benchReport) compareWithLance(byArr map[string]*lanceArrangement) {
	for _, arr := range benchArrangements {
		a := byArr[arr]
		if a == nil {
			a = byArr[arrOne]
		}
		if a == nil {
			return
		}
		if got, ok := r.flightwalVec[arr]; ok {
			if flat, ok := lanceIDs(a, opVectorFlat); ok {
				rc := meanOverlap(got, flat)
				r.check(checkResult{Name: "vector search recall@k vs Lance flat search", Arrangement: arr, Engine: engineFlightwal,
					Status: passIf(rc >= minRecall), Value: rc, Detail: fmt.Sprintf("mean recall %.3f over %d queries (pass >= %.2f)", rc, len(got), minRecall)})
			}
		}
		if got, ok := r.flightwalFTS[arr]; ok {
			if lf, ok := lanceIDs(a, opFTS); ok {
				ov := meanOverlap(got, lf)
				r.check(checkResult{Name: "FTS top k overlap with Lance FTS", Arrangement: arr, Engine: engineFlightwal,
					Status: "info", Value: ov, Detail: fmt.Sprintf("mean overlap %.3f over %d queries (tokenizers and BM25 details differ)", ov, len(got))})
			}
		}
	}
}

// lanceIDs decodes the ids the reference answered for op, per query.
func lanceIDs(a *lanceArrangement, op string) ([][]int64, bool) {
	o, ok := a.Ops[op]
	if !ok || o.Skipped != "" {
		return nil, false
	}
	var res [][]string
	if err := json.Unmarshal(o.Results, &res); err != nil {
		return nil, false
	}
	out := make([][]int64, len(res))
	for i, s := range res {
		out[i] = parseIDs(s)
	}
	return out, true
}

func sumMap(m map[string]float64) float64 {
	var t float64
	for _, v := range m {
		t += v
	}
	return t
}

func formatIndexMs(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"btree", "fts", "ivf_pq"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", k, fmtDur(v)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
