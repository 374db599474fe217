package objstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
)

// tree lists every file and directory under dir, relative, directories
// ending in "/".
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestLocalRemoveEmptyDirs: after deleting a sub-tree's objects, its
// directories go, deepest first, the prefix's own included; directories
// holding anything, and everything outside the prefix, stay. The Prefixed
// and Faulty wrappers pass the call through; stores without directories
// do nothing.
func TestLocalRemoveEmptyDirs(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	l, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"t.lance/_versions/1.manifest", "t.lance/data/a.lance", "t.lance/_mem_wal/0/wal/1", "t.lance2/x", "u.lance/keep/k", "u.lance/empty/x"} {
		mustPut(t, l, k, []byte("v"))
	}
	for _, k := range []string{"t.lance/_versions/1.manifest", "t.lance/data/a.lance", "t.lance/_mem_wal/0/wal/1", "u.lance/empty/x"} {
		if err := l.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := objstore.RemoveEmptyDirs(ctx, l, "t.lance/"); err != nil {
		t.Fatal(err)
	}
	want := "[t.lance2/ t.lance2/x u.lance/ u.lance/empty/ u.lance/keep/ u.lance/keep/k]"
	if got := fmt.Sprint(tree(t, dir)); got != want {
		t.Fatalf("after RemoveEmptyDirs(t.lance/): %s, want %s", got, want)
	}
	// Through Prefixed (a table's view) and Faulty: u.lance/empty goes,
	// u.lance/keep stays.
	view := objstore.Prefixed(objstore.NewFaulty(l, objstore.FaultOptions{}), "u.lance")
	if err := objstore.RemoveEmptyDirs(ctx, view, ""); err != nil {
		t.Fatal(err)
	}
	want = "[t.lance2/ t.lance2/x u.lance/ u.lance/keep/ u.lance/keep/k]"
	if got := fmt.Sprint(tree(t, dir)); got != want {
		t.Fatalf("after RemoveEmptyDirs through Prefixed(u.lance): %s, want %s", got, want)
	}
	if err := objstore.RemoveEmptyDirs(ctx, l, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the root went: %v", err)
	}
	if err := objstore.RemoveEmptyDirs(ctx, l, "../x/"); err == nil {
		t.Fatal("a prefix outside the root was accepted")
	}
	if err := objstore.RemoveEmptyDirs(ctx, objstore.NewMem(), "t.lance/"); err != nil {
		t.Fatalf("Mem: %v", err)
	}
}

// TestLocalRemoveEmptyDirsRacesPuts: puts into new directories succeed
// while the directories' parent is being pruned.
func TestLocalRemoveEmptyDirsRacesPuts(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	l, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var pruner sync.WaitGroup
	pruner.Add(1)
	go func() {
		defer pruner.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := objstore.RemoveEmptyDirs(ctx, l, "r/"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				k := fmt.Sprintf("r/%d/%d/k", w, i)
				if err := l.PutIfAbsent(ctx, k, []byte("v")); err != nil {
					t.Errorf("PutIfAbsent %s: %v", k, err)
					return
				}
				if i%2 == 0 {
					if err := l.Delete(ctx, k); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	pruner.Wait()
	objs, err := l.List(ctx, "r/")
	if err != nil || len(objs) != 200 {
		t.Fatalf("%d objects after the race (%v), want 200", len(objs), err)
	}
}

// TestLocalRemoveTemp: temporary files older than the grace period go;
// younger ones (a write that may be under way in another process),
// objects, and temporary files outside the prefix stay.
func TestLocalRemoveTemp(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	l, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, l, "t.lance/_mem_wal/0/wal/1", []byte("entry"))
	mustPut(t, l, "u.lance/_mem_wal/0/wal/1", []byte("entry"))
	// What a kill between writeTemp and the link leaves behind.
	old := time.Now().Add(-2 * time.Minute)
	plant := func(rel string, mod time.Time) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	plant("t.lance/_mem_wal/0/wal/.tmp-111", old)
	plant("t.lance/_mem_wal/0/.tmp-222", old)
	plant("t.lance/_mem_wal/0/wal/.tmp-333", time.Now())
	plant("u.lance/_mem_wal/0/wal/.tmp-444", old)
	view := objstore.Prefixed(l, "t.lance")
	n, err := objstore.RemoveTemp(ctx, view, "_mem_wal/", time.Minute)
	if err != nil || n != 2 {
		t.Fatalf("RemoveTemp: %d, %v; want 2 removed", n, err)
	}
	var left []string
	for _, p := range tree(t, dir) {
		if strings.Contains(p, ".tmp-") || !strings.HasSuffix(p, "/") {
			left = append(left, p)
		}
	}
	want := "[t.lance/_mem_wal/0/wal/.tmp-333 t.lance/_mem_wal/0/wal/1 u.lance/_mem_wal/0/wal/.tmp-444 u.lance/_mem_wal/0/wal/1]"
	if got := fmt.Sprint(left); got != want {
		t.Fatalf("after RemoveTemp: %s, want %s", got, want)
	}
	if got := mustGet(t, l, "t.lance/_mem_wal/0/wal/1"); string(got) != "entry" {
		t.Fatalf("the WAL entry now holds %q", got)
	}
	if n, err := objstore.RemoveTemp(ctx, objstore.NewMem(), "", 0); n != 0 || err != nil {
		t.Fatalf("Mem: %d, %v", n, err)
	}
}
