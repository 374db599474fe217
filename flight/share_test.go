package flight_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/lsm"
)

// shareWriter runs interop/share_writer.mjs (LanceDB 0.39) on the table
// name under dir and decodes its JSON answer into out.
func shareWriter(t *testing.T, nm, dir, name, cmd string, args map[string]any, out any) {
	t.Helper()
	raw, _ := json.Marshal(args)
	b := lancejs.Run(t, nm, "share_writer.mjs", dir, name, cmd, string(raw))
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("share_writer.mjs %s: %v\n%s", cmd, err, b)
	}
}

// shareCheck is what share_writer.mjs check prints.
type shareCheck struct {
	Version uint64 `json:"version"`
	Indices []struct {
		Name      string   `json:"name"`
		IndexType string   `json:"indexType"`
		Columns   []string `json:"columns"`
	} `json:"indices"`
	Nearest      []string                  `json:"nearest"`
	FTSCount     int                       `json:"ftsCount"`
	Rows         [][2]string               `json:"rows"`
	Stats        map[string]map[string]int `json:"stats"`
	LsmSpec      map[string]any            `json:"lsmSpec"`
	LsmSpecError string                    `json:"lsmSpecError"`
}

// shareSeconds is how long TestShareLanceDBLoop runs both writers:
// FLIGHTWAL_SHARE_SECONDS (the soak: 300), else a short default.
func shareSeconds(t *testing.T) int {
	if s := os.Getenv("FLIGHTWAL_SHARE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FLIGHTWAL_SHARE_SECONDS=%q", s)
		}
		return n
	}
	if testing.Short() {
		return 5
	}
	return 15
}

// TestShareLanceDBLoop: LanceDB appends, deletes, builds an IVF_PQ and an
// FTS index and runs optimize while flightwal ingests, flushes and
// compacts in a loop on the same table (shared/API.md, other Lance
// writers). Afterwards both read the same rows, one per key (flightwal's
// keys as its model says, LanceDB's as it wrote them), no compaction
// failed twice in a row, LanceDB still lists its indexes and they answer,
// and a LanceDB LSM write spec survives flightwal's compaction.
func TestShareLanceDBLoop(t *testing.T) {
	shareLoop(t, "v039", shareSeconds(t), true)
}

// TestShareLanceDB031Loop is the loop with LanceDB 0.31 (Lance 0.x
// before the MemWAL: no LSM write spec), shorter.
func TestShareLanceDB031Loop(t *testing.T) {
	shareLoop(t, "", max(shareSeconds(t)/3, 8), false)
}

func shareLoop(t *testing.T, variant string, seconds int, lsmSpec bool) {
	if onMinIO() {
		t.Skip("runs once, on a local directory both writers share (the MinIO pass would repeat it)")
	}
	nm := lancejs.NodeModules(t, variant)
	e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1, LanceRefreshInterval: 100 * time.Millisecond}))
	const name, dim, lanceKeys = "shared", 8, 1_000_000
	e.createTable(name, datagen.Schema(dim), nil)
	m := model{}
	e.putModel(m, name, 1, 0, 600) // LanceDB trains IVF_PQ on these
	e.mustAction("flush", map[string]any{"table": name})
	e.mustAction("compact", map[string]any{"table": name})

	type loopOut struct {
		Ops       map[string]int `json:"ops"`
		Conflicts map[string]int `json:"conflicts"`
		Errors    []string       `json:"errors"`
		Rounds    int            `json:"rounds"`
		NextKey   int64          `json:"nextKey"`
	}
	done := make(chan loopOut, 1)
	// A failing test stops LanceDB before its directory is removed.
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	t.Cleanup(func() { cancel(); <-finished })
	root := lancejs.RepoRoot(t)
	go func() {
		defer close(finished)
		var out loopOut
		raw, _ := json.Marshal(map[string]any{"seconds": seconds, "keyBase": lanceKeys, "dim": dim, "indexAfter": 3})
		cmd := lancejs.Command(ctx, root, nm, "share_writer.mjs", dir, name, "loop", string(raw))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("node: %v: %s", err, stderr.String()))
		} else if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("output: %v: %s", err, stdout.String()))
		}
		done <- out
	}()

	rng := rand.New(rand.NewPCG(7, 7))
	var lance loopOut
	compactions, rebases, retries, failures, failedInARow := 0, 0, 0, 0, 0
	var lastErr error
	for seed := uint64(2); ; seed++ {
		select {
		case lance = <-done:
		default:
		}
		if lance.Ops != nil || lance.Errors != nil {
			break
		}
		first := rng.Int64N(2000)
		e.putModel(m, name, seed, first, 50)
		del := rng.Int64N(2000)
		e.deleteModel(m, name, del, (del+1+rng.Int64N(1999))%2000) // two distinct keys
		e.mustAction("flush", map[string]any{"table": name})
		if seed%3 != 0 {
			continue // compact every third flush, as compaction.after_generations would
		}
		res, err := e.action("compact", map[string]any{"table": name})
		if err != nil {
			failures++
			failedInARow++
			lastErr = err
			if failedInARow > 1 {
				t.Fatalf("compaction failed twice in a row: %v", err)
			}
			continue
		}
		failedInARow = 0
		compactions++
		rebases += int(res["rebases"].(float64))
		retries += int(res["retries"].(float64))
		// A pause after each compaction leaves LanceDB's optimize (which
		// any compaction deleting from its fragments refuses) windows to
		// commit in: back to back, 20 compactions a second starved it.
		time.Sleep(30 * time.Millisecond)
	}
	// Lance refuses an optimize (a Rewrite) whose fragments a commit in
	// between deleted from: flightwal's compactions do that (Lance's rule,
	// "retryable": the application redoes it). The script retries; an
	// optimize that still lost is tolerated, any other failure is not.
	gaveUp := 0
	for _, msg := range lance.Errors {
		if !strings.HasPrefix(msg, "optimize: ") || !strings.Contains(msg, "Retryable commit conflict") {
			t.Fatalf("LanceDB's operation failed: %s (ops %v)", msg, lance.Ops)
		}
		gaveUp++
	}
	t.Logf("%d s: LanceDB %d rounds %v, retryable conflicts retried %v, optimizes given up %d; flightwal %d compactions, %d rebases, %d redone, %d failed (last %v)",
		seconds, lance.Rounds, lance.Ops, lance.Conflicts, gaveUp, compactions, rebases, retries, failures, lastErr)
	if lance.Ops["optimize"] == 0 && gaveUp > 0 {
		// On a loaded machine LanceDB's optimize (seconds long) can lose
		// every retry to flightwal's compactions; the rest of the test
		// needs one: run it now, flightwal idle.
		var res map[string]any
		shareWriter(t, nm, dir, name, "optimize", nil, &res)
		lance.Ops["optimize"]++
	}
	if lance.Ops["index"] != 2 || lance.Ops["optimize"] == 0 {
		t.Fatalf("LanceDB did not build both indexes and optimize: %v", lance.Ops)
	}
	// One last compaction merges everything; then both readers agree.
	e.mustAction("flush", map[string]any{"table": name})
	e.mustAction("compact", map[string]any{"table": name})
	time.Sleep(300 * time.Millisecond) // > lance.refresh_interval
	got := e.mustGet(map[string]any{"table": name})
	defer got.Release()
	fw := map[string]string{}
	ids, texts := got.Column(0).(*array.Int64), got.Column(2).(*array.String)
	for i := 0; i < ids.Len(); i++ {
		k := strconv.FormatInt(ids.Value(i), 10)
		if _, dup := fw[k]; dup {
			t.Fatalf("flightwal reads key %s twice", k)
		}
		fw[k] = texts.Value(i)
	}
	for id, seed := range m {
		if fw[strconv.FormatInt(id, 10)] != datagen.Text(seed, id) {
			t.Fatalf("flightwal's key %d: %q, model seed %d", id, fw[strconv.FormatInt(id, 10)], seed)
		}
	}
	probe := int64(lanceKeys + 25) // kept: each round deletes the first 10 keys of an older round
	var chk shareCheck
	shareWriter(t, nm, dir, name, "check", map[string]any{"dim": dim, "probe": probe}, &chk)
	lanceRows := map[string]string{}
	zebras := 0
	for _, r := range chk.Rows {
		if _, dup := lanceRows[r[0]]; dup {
			t.Fatalf("LanceDB reads key %s twice", r[0])
		}
		lanceRows[r[0]] = r[1]
		if strings.Contains(r[1], "zebra") {
			zebras++
		}
	}
	if len(lanceRows) != len(fw) {
		t.Fatalf("LanceDB reads %d rows, flightwal %d", len(lanceRows), len(fw))
	}
	for k, v := range fw {
		if lanceRows[k] != v {
			t.Fatalf("key %s: LanceDB reads %q, flightwal %q", k, lanceRows[k], v)
		}
	}
	var names []string
	for _, ix := range chk.Indices {
		names = append(names, ix.Name+":"+ix.IndexType)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"text_idx:FTS", "vec_idx:IvfPq"}) {
		t.Fatalf("LanceDB lists indexes %v", names)
	}
	if len(chk.Nearest) == 0 || chk.Nearest[0] != strconv.FormatInt(probe, 10) {
		t.Fatalf("LanceDB's vector search for row %d: %v", probe, chk.Nearest)
	}
	for _, k := range chk.Nearest {
		if _, ok := fw[k]; !ok {
			t.Fatalf("LanceDB's vector search returns row %s, which is not live", k)
		}
	}
	if chk.FTSCount != zebras {
		t.Fatalf("LanceDB's full-text search finds %d rows, %d hold the word", chk.FTSCount, zebras)
	}
	t.Logf("both read %d rows; LanceDB index stats %v", len(fw), chk.Stats)

	if !lsmSpec {
		return
	}
	// A LanceDB LSM write spec survives flightwal's next compaction.
	var spec map[string]any
	shareWriter(t, nm, dir, name, "lsmspec", nil, &spec)
	e.putModel(m, name, 99, 0, 10)
	e.mustAction("flush", map[string]any{"table": name})
	e.mustAction("compact", map[string]any{"table": name})
	chk = shareCheck{}
	shareWriter(t, nm, dir, name, "getspec", nil, &chk)
	if chk.LsmSpec == nil || chk.LsmSpec["specType"] != "bucket" {
		t.Fatalf("LanceDB's LSM write spec after flightwal's compaction: %v (%s)", chk.LsmSpec, chk.LsmSpecError)
	}
	if len(chk.Indices) < 2 {
		t.Fatalf("LanceDB lists %v after flightwal's compaction", chk.Indices)
	}
}

// TestLanceDBIndexesAfterCompactionRemovesTheirFragments: LanceDB indexes
// a table flightwal wrote in two fragments; flightwal then overwrites every
// row of the first and compacts, so a fragment the indexes hold addresses
// for is gone while the other, with a deletion file, keeps them in use.
// LanceDB's indexed vector and full-text searches still answer with live
// rows only: the fragment bitmaps keep the removed fragment, so Lance
// blocks its rows (a narrowed bitmap made LanceDB 0.31's take fail on a
// fragment that no longer exists, as TestShareLanceDB031Loop once did).
func TestLanceDBIndexesAfterCompactionRemovesTheirFragments(t *testing.T) {
	if onMinIO() {
		t.Skip("LanceDB reads a local directory")
	}
	for _, variant := range []string{"v039", ""} {
		t.Run("lancedb"+map[string]string{"v039": "0.39", "": "0.31"}[variant], func(t *testing.T) {
			nm := lancejs.NodeModules(t, variant)
			e, dir := localEnv(t, withLSM(lsm.Options{CompactAfterGenerations: -1, LanceRefreshInterval: 100 * time.Millisecond}))
			const name, dim, n = "shared", 8, 600
			e.createTable(name, datagen.Schema(dim), nil)
			m := model{}
			for first := int64(0); first < n; first += n / 2 {
				e.putModel(m, name, 1, first, n/2)
				e.mustAction("flush", map[string]any{"table": name})
				e.mustAction("compact", map[string]any{"table": name})
			}
			var idx shareCheck
			shareWriter(t, nm, dir, name, "index", nil, &idx)
			if len(idx.Indices) != 2 {
				t.Fatalf("LanceDB built %v", idx.Indices)
			}
			time.Sleep(300 * time.Millisecond) // > lance.refresh_interval
			e.putModel(m, name, 2, 0, n/2)
			e.deleteModel(m, name, n-1) // a deletion file in the other fragment
			e.mustAction("flush", map[string]any{"table": name})
			e.mustAction("compact", map[string]any{"table": name})

			const probe = 123
			var chk shareCheck
			q := make([]float32, dim)
			datagen.Vector(q, m[probe], probe)
			shareWriter(t, nm, dir, name, "check", map[string]any{"dim": dim, "query": q}, &chk)
			if len(chk.Rows) != len(m) {
				t.Fatalf("LanceDB reads %d rows, want %d", len(chk.Rows), len(m))
			}
			zebras := 0
			for _, r := range chk.Rows {
				id, _ := strconv.ParseInt(r[0], 10, 64)
				if want := datagen.Text(m[id], id); r[1] != want {
					t.Fatalf("key %d: LanceDB reads %q, want %q", id, r[1], want)
				}
				if strings.Contains(r[1], "zebra") {
					zebras++
				}
			}
			if len(chk.Nearest) == 0 || chk.Nearest[0] != strconv.Itoa(probe) {
				t.Fatalf("LanceDB's vector search for row %d: %v", probe, chk.Nearest)
			}
			if chk.FTSCount != zebras {
				t.Fatalf("LanceDB's full-text search finds %d rows, %d hold the word", chk.FTSCount, zebras)
			}
		})
	}
}
