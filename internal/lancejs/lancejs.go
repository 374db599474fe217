// Package lancejs runs the real Lance engine (LanceDB's npm package, whose
// native binary is the Rust Lance library) from Go tests, through the node
// scripts in interop/. `make deps` installs the packages into
// $FLIGHTWAL_CACHE/node (and node-v039 for LanceDB 0.39).
package lancejs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot finds the repository root by walking up to go.mod
// (FindRepoRoot from the working directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := FindRepoRoot(wd)
	if err != nil {
		t.Fatal("lancejs: ", err)
	}
	return root
}

// NodeModules returns the node_modules holding @lancedb/lancedb for a
// variant ("" = interop/package.json's, "v039" = interop/v039's). Without
// node or the package the test is skipped, or fails when CI=true.
func NodeModules(t testing.TB, variant string) string {
	t.Helper()
	nm, err := FindNodeModules(RepoRoot(t), variant)
	if err != nil {
		msg := fmt.Sprintf("node or LanceDB missing (%v): run make deps", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return nm
}

// Run runs interop/<script> with NODE_PATH=nm and returns its stdout.
func Run(t testing.TB, nm, script string, args ...string) []byte {
	t.Helper()
	cmd := Command(context.Background(), RepoRoot(t), nm, script, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", script, err, stderr.String())
	}
	return stdout.Bytes()
}

// Filter is one filter query for ReadDataset.
type Filter struct {
	Filter  string   `json:"filter"`
	Columns []string `json:"columns,omitempty"`
}

// VectorQuery is a nearest-neighbour query for ReadDataset.
type VectorQuery struct {
	Column  string    `json:"column"`
	Vector  []float32 `json:"vector"`
	K       int       `json:"k"`
	Columns []string  `json:"columns,omitempty"`
}

// Query asks read_dataset.mjs for filters and a vector search.
type Query struct {
	Filters []Filter     `json:"filters,omitempty"`
	Vector  *VectorQuery `json:"vector,omitempty"`
}

// Result is what read_dataset.mjs prints. Int64 values are decimal strings.
type Result struct {
	Version   uint64           `json:"version"`
	CountRows int64            `json:"countRows"`
	Schema    []map[string]any `json:"schema"`
	Filters   []struct {
		Count int64            `json:"count"`
		Rows  []map[string]any `json:"rows"`
	} `json:"filters"`
	VectorRows []map[string]any `json:"vectorRows"`
}

// ReadS3 opens table name under uri (s3://bucket/prefix) with LanceDB,
// passing storage options (endpoint, credentials), and runs q.
func ReadS3(t testing.TB, nm, uri, name string, storage map[string]string, q Query) Result {
	t.Helper()
	raw, _ := json.Marshal(q)
	opts, _ := json.Marshal(storage)
	return decodeResult(t, Run(t, nm, "read_dataset.mjs", uri, name, string(raw), string(opts)))
}

func decodeResult(t testing.TB, out []byte) Result {
	t.Helper()
	var res Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("read_dataset.mjs output: %v\n%s", err, out)
	}
	return res
}

// ReadDataset opens the Lance dataset at path (any directory name) with
// LanceDB and runs q. LanceDB opens "<dir>/<name>.lance", so a dataset
// whose directory lacks the suffix is reached through a symlink.
func ReadDataset(t testing.TB, nm, path string, q Query) Result {
	t.Helper()
	dir, name := filepath.Dir(path), filepath.Base(path)
	if filepath.Ext(name) != ".lance" {
		dir = t.TempDir()
		name = "ds.lance"
		abs, err := filepath.Abs(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	return decodeResult(t, Run(t, nm, "read_dataset.mjs", dir, name[:len(name)-len(".lance")], string(raw)))
}

// RunJSON runs script with dir and a file holding req as JSON, and decodes
// its JSON answer into out.
func RunJSON(t testing.TB, nm, script, dir string, req, out any) {
	t.Helper()
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "request.json")
	if err := os.WriteFile(f, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	res := Run(t, nm, script, dir, f)
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("%s %v: %v\n%s", script, req, err, res)
	}
}
