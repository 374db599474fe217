package testminio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
)

func TestStartStoreStop(t *testing.T) {
	s := Start(t)
	st := s.Store(t)
	ctx := context.Background()
	if err := st.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get: %q, %v", got, err)
	}
	// Buckets are fresh: a second store does not see the first one's object.
	objs, err := s.Store(t).List(ctx, "")
	if err != nil || len(objs) != 0 {
		t.Fatalf("a new bucket lists %v, %v", objs, err)
	}
	s.Stop()
	if resp, err := http.Get(s.Endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Fatalf("server still answers after Stop: %s", resp.Status)
	}
	s.Stop() // idempotent; Cleanup calls it again too
}

func TestShared(t *testing.T) {
	a, b := Shared(t), Shared(t)
	if a != b {
		t.Fatal("Shared started two servers")
	}
	t.Cleanup(StopShared)
}

// fakeTB records Skipf and Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, fataled bool
}

func (f *fakeTB) Helper()                          {}
func (f *fakeTB) Skipf(format string, args ...any) { f.skipped = true }
func (f *fakeTB) Fatalf(format string, args ...any) {
	if !f.skipped {
		f.fataled = true
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("FLIGHTWAL_MINIO_BIN", filepath.Join(t.TempDir(), "no-minio"))
	_, err := Binary()
	if !errors.Is(err, errNoBinary) {
		t.Fatalf("Binary with a missing FLIGHTWAL_MINIO_BIN: %v", err)
	}
	t.Setenv("FLIGHTWAL_REQUIRE_MINIO", "")
	f := &fakeTB{TB: t}
	skipOrFatal(f, err)
	if !f.skipped || f.fataled {
		t.Fatalf("missing binary: skipped %v, failed %v; want a skip", f.skipped, f.fataled)
	}
	t.Setenv("FLIGHTWAL_REQUIRE_MINIO", "1")
	f = &fakeTB{TB: t}
	skipOrFatal(f, err)
	if f.skipped || !f.fataled {
		t.Fatalf("missing binary with FLIGHTWAL_REQUIRE_MINIO=1: skipped %v, failed %v; want a failure", f.skipped, f.fataled)
	}
	// Any other start failure fails the test.
	f = &fakeTB{TB: t}
	t.Setenv("FLIGHTWAL_REQUIRE_MINIO", "")
	skipOrFatal(f, fmt.Errorf("port in use"))
	if f.skipped || !f.fataled {
		t.Fatalf("start failure: skipped %v, failed %v; want a failure", f.skipped, f.fataled)
	}
}
