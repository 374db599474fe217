package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flightwal/flightwal/internal/lancejs"
)

// runTinyBench runs `flightwal-bench` at a tiny size and returns its JSON
// and Markdown.
func runTinyBench(t *testing.T, extra ...string) (*benchReport, string) {
	t.Helper()
	if os.Getenv("FLIGHTWAL_TEST_STORE") == "minio" {
		t.Skip("the bench's in-process server keeps its tables on local disk; the local pass covers it")
	}
	dir := t.TempDir()
	jsonPath, mdPath := filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.md")
	args := append([]string{"--rows", "2000", "--dim", "16", "--runs", "3", "--warmup", "1",
		"--fragment-rows", "100", "--ingest-rows", "1000", "--tmp", dir, "--json", jsonPath, "--markdown", mdPath}, extra...)
	_, err := runBenchTo(args, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("flightwal-bench %s: %v", strings.Join(args, " "), err)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("bench JSON: %v", err)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	return &rep, string(md)
}

// checkCells asserts that the JSON has every cell of the query table:
// flightwal's scan and lookup measured on every arrangement, its FTS and
// vector search measured or n/a because the server does not support them
// yet, and Lance's cells measured on both base arrangements when the
// reference ran.
func checkCells(t *testing.T, rep *benchReport, lance bool) {
	t.Helper()
	for _, engine := range benchEngines {
		for _, arr := range benchArrangements {
			for _, op := range benchOps {
				c, ok := rep.cell(op, arr, engine)
				if !ok {
					t.Errorf("no cell %s/%s/%s", engine, op, arr)
					continue
				}
				want := statusOK
				switch {
				case op == opVectorFlat && engine == engineFlightwal, arr == arrMemtable && engine == engineLance:
					want = statusNA
				case engine == engineLance && !lance:
					want = statusNA
				case engine == engineFlightwal && (op == opFTS || op == opVector) && c.Status == statusNA:
					if !strings.HasPrefix(c.Reason, "not supported by this build") {
						t.Errorf("%s/%s/%s is n/a for another reason: %s", engine, op, arr, c.Reason)
					}
					continue
				}
				if c.Status != want {
					t.Errorf("%s/%s/%s: status %q (%s), want %q", engine, op, arr, c.Status, c.Reason, want)
				}
				if c.Status == statusOK && (c.Runs != 3 || c.P50Ms <= 0 || c.P99Ms < c.P50Ms || len(c.SamplesMs) != 3) {
					t.Errorf("%s/%s/%s: runs %d, p50 %v, p99 %v, %d samples", engine, op, arr, c.Runs, c.P50Ms, c.P99Ms, len(c.SamplesMs))
				}
			}
		}
	}
}

// checkVerdict asserts that every correctness check passed and that the
// scan and lookup checks ran on every arrangement.
func checkVerdict(t *testing.T, rep *benchReport, engines ...string) {
	t.Helper()
	if !rep.ChecksPassed {
		t.Error("checks_passed is false")
	}
	ran := map[string]bool{}
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			t.Errorf("check failed: %s (%s, %s): %s", c.Name, c.Engine, c.Arrangement, c.Detail)
		}
		ran[c.Engine+"/"+c.Arrangement+"/"+c.Name] = true
	}
	for _, engine := range engines {
		for _, arr := range benchArrangements {
			if engine == engineLance && arr == arrMemtable {
				continue
			}
			for _, name := range []string{"scan returns every row once", "point lookup returns the right row"} {
				if !ran[engine+"/"+arr+"/"+name] {
					t.Errorf("no check %q for %s on %s", name, engine, arr)
				}
			}
		}
	}
	frags := map[string]int{}
	for _, l := range rep.Loads {
		if l.Error != "" || l.Note != "" && l.Engine == engineFlightwal {
			t.Errorf("load %s/%s: %s %s", l.Engine, l.Arrangement, l.Error, l.Note)
		}
		frags[l.Engine+"/"+l.Arrangement] = l.Fragments
	}
	for _, engine := range engines {
		if frags[engine+"/"+arrOne] != 1 || frags[engine+"/"+arrMany] != 20 {
			t.Errorf("%s base fragments: 1 fragment arrangement %d, many %d (want 1, 20)", engine, frags[engine+"/"+arrOne], frags[engine+"/"+arrMany])
		}
	}
}

func TestBenchTiny(t *testing.T) {
	rep, md := runTinyBench(t, "--lance-ref=false")
	checkCells(t, rep, false)
	checkVerdict(t, rep, engineFlightwal)

	// Ingest: every mode x writers x batch size, and the discard baseline.
	seen := map[string]bool{}
	for _, in := range rep.Ingest {
		if in.Status != statusOK || in.RowsPerS <= 0 || in.MBPerS <= 0 || in.Rows < int64(in.Writers*in.BatchRows) {
			t.Errorf("ingest %+v", in)
		}
		if in.Target == engineFlightwal && (in.VsDiscard <= 0 || in.AckP50Ms <= 0 || in.AckP99Ms < in.AckP50Ms) {
			t.Errorf("ingest %s %dw %d: vs discard %v, ack p50 %v p99 %v", in.Mode, in.Writers, in.BatchRows, in.VsDiscard, in.AckP50Ms, in.AckP99Ms)
		}
		seen[in.Target+"/"+in.Mode+"/"+strconv.Itoa(in.Writers)+"/"+strconv.Itoa(in.BatchRows)] = true
	}
	for _, w := range ingestWriters {
		for _, b := range ingestBatches {
			for _, key := range []string{targetDiscard + "/", engineFlightwal + "/durable", engineFlightwal + "/async"} {
				if !seen[key+"/"+strconv.Itoa(w)+"/"+strconv.Itoa(b)] {
					t.Errorf("no ingest cell %s/%d/%d", key, w, b)
				}
			}
		}
	}
	for _, want := range []string{"| full scan (every column) |", "| point lookup by id |", "## Ingest", "Verdict: all checks passed."} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}

func TestBenchTinyLanceReference(t *testing.T) {
	lancejs.NodeModules(t, "v039") // skipped without LanceDB (fails under CI=true)
	rep, md := runTinyBench(t, "--ingest=false")
	if rep.LanceError != "" {
		t.Fatalf("Lance reference: %s", rep.LanceError)
	}
	checkCells(t, rep, true)
	checkVerdict(t, rep, engineFlightwal, engineLance)
	for _, name := range []string{"Lance flat search = our exact search (the recall ground truth)", "Lance IVF_PQ recall@k vs exact search"} {
		n := 0
		for _, c := range rep.Checks {
			if c.Name == name {
				n++
			}
		}
		if n != 2 {
			t.Errorf("check %q ran %d times, want 2 (1 and 20 fragments)", name, n)
		}
	}
	if !strings.Contains(md, "LanceDB (npm) 0.39") {
		t.Errorf("Markdown does not name the LanceDB version:\n%s", md[:min(len(md), 800)])
	}
}
