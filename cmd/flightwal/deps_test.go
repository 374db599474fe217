package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// knownTestingImporters are the packages the server may depend on although
// they import "testing" outside their tests, each with the reason it stays.
// When one no longer does, its entry goes.
var knownTestingImporters = map[string]string{
	// romance/testing_helpers.go (v0.10.0 and upstream master); fts's
	// English stemmer (snowball/english) imports the package.
	"github.com/kljensen/snowball/romance": "fts's English stemmer",
}

// helperPackages are this repository's test and benchmark helpers; the
// server binary links none of them (the benchmark is cmd/flightwal-bench).
var helperPackages = []string{
	"github.com/flightwal/flightwal/internal/benchutil",
	"github.com/flightwal/flightwal/internal/lancejs",
	"github.com/flightwal/flightwal/internal/testminio",
}

// TestNoTestingInServer checks the server binary's dependencies (go list
// -deps): no package imports "testing" but the known ones above, and no
// test or benchmark helper of this repository is linked.
func TestNoTestingInServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	importers := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if slices.Contains(helperPackages, f[0]) {
			t.Errorf("the server links %s, a test or benchmark helper", f[0])
		}
		if slices.Contains(f[1:], "testing") {
			importers[f[0]] = true
			if _, ok := knownTestingImporters[f[0]]; !ok {
				t.Errorf("%s imports testing and the server depends on it", f[0])
			}
		}
	}
	for pkg, why := range knownTestingImporters {
		if !importers[pkg] {
			t.Errorf("%s (%s) no longer brings testing into the server: remove it from knownTestingImporters", pkg, why)
		}
	}
}
