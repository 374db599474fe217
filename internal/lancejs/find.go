package lancejs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The finders below serve programs (flightwal-bench) rather than tests:
// they return errors where the test helpers skip or fail.

// FindRepoRoot walks up from dir to the directory holding go.mod and
// interop/ (the flightwal repository).
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		_, errMod := os.Stat(filepath.Join(dir, "go.mod"))
		_, errInterop := os.Stat(filepath.Join(dir, "interop"))
		if errMod == nil && errInterop == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no flightwal repository (go.mod and interop/) above " + dir)
		}
		dir = parent
	}
}

// LocateRepoRoot finds the repository from the working directory, else
// from the running executable's location (make build puts it under
// .cache/bin of the repository).
func LocateRepoRoot() (string, error) {
	wd, _ := os.Getwd()
	root, err := FindRepoRoot(wd)
	if err == nil {
		return root, nil
	}
	if exe, eerr := os.Executable(); eerr == nil {
		if r, rerr := FindRepoRoot(filepath.Dir(exe)); rerr == nil {
			return r, nil
		}
	}
	return "", err
}

// FindNodeModules returns the node_modules holding @lancedb/lancedb for a
// variant ("" or "v039", as NodeModules), under $FLIGHTWAL_CACHE or
// <root>/.cache, or an error saying what is missing.
func FindNodeModules(root, variant string) (string, error) {
	cache := os.Getenv("FLIGHTWAL_CACHE")
	if cache == "" {
		cache = filepath.Join(root, ".cache")
	}
	dir := filepath.Join(cache, "node")
	if variant != "" {
		dir = filepath.Join(cache, "node-"+variant)
	}
	nm := filepath.Join(dir, "node_modules")
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed: %w", err)
	}
	if _, err := os.Stat(filepath.Join(nm, "@lancedb", "lancedb", "package.json")); err != nil {
		return "", fmt.Errorf("LanceDB is not installed in %s (run make deps): %w", nm, err)
	}
	return nm, nil
}

// Command returns the command that runs <root>/interop/<script> with
// NODE_PATH=nm. The caller sets its output streams and runs it.
func Command(ctx context.Context, root, nm, script string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(root, "interop", script)}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nm, "NODE_NO_WARNINGS=1")
	return cmd
}
