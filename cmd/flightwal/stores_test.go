package main

import (
	"os"
	"testing"

	"github.com/flightwal/flightwal/internal/testminio"
	"github.com/flightwal/flightwal/objstore"
)

func TestMain(m *testing.M) { testminio.Main(m) }

// storage is where a test's server processes keep their tables: a temp
// directory, or (FLIGHTWAL_TEST_STORE=minio, the second pass of make test)
// a fresh bucket on the shared MinIO server.
type storage struct {
	args  []string       // serve flags
	store objstore.Store // the same storage, opened in the test
}

func testStorage(t *testing.T) storage {
	t.Helper()
	if os.Getenv("FLIGHTWAL_TEST_STORE") == "minio" {
		return minioStorage(t)
	}
	dir := t.TempDir()
	s, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return storage{args: []string{"--storage.uri", dir}, store: s}
}

// minioStorage is a fresh bucket on the shared MinIO server (the test is
// skipped if MinIO is not installed, unless FLIGHTWAL_REQUIRE_MINIO=1).
func minioStorage(t *testing.T) storage {
	t.Helper()
	srv := testminio.Shared(t)
	uri, opts := srv.NewBucket(t)
	s, err := objstore.Open(t.Context(), uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	return storage{store: s, args: []string{
		"--storage.uri", uri,
		"--storage.s3.endpoint", srv.Endpoint,
		"--storage.s3.access_key", srv.AccessKey,
		"--storage.s3.secret_key", srv.SecretKey,
		"--storage.s3.region", "us-east-1",
	}}
}
