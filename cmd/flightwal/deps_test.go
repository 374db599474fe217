package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// helperPackages are this repository's test and benchmark helpers; the
// server binary links none of them (the benchmark is cmd/flightwal-bench).
var helperPackages = []string{
	"github.com/flightwal/flightwal/internal/benchutil",
	"github.com/flightwal/flightwal/internal/lancejs",
	"github.com/flightwal/flightwal/internal/testminio",
}

// TestNoTestingInServer checks the server binary's dependencies (go list
// -deps): no package imports "testing", and no test or benchmark helper of
// this repository is linked.
func TestNoTestingInServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if slices.Contains(helperPackages, f[0]) {
			t.Errorf("the server links %s, a test or benchmark helper", f[0])
		}
		if f[0] == "testing" || slices.Contains(f[1:], "testing") {
			t.Errorf("%s brings testing into the server", f[0])
		}
	}
}
