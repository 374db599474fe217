package flight_test

import (
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/internal/testminio"
	"github.com/flightwal/flightwal/objstore"
)

// The core-path suite runs on two stores: a local temp directory (the
// default) and a real MinIO server (FLIGHTWAL_TEST_STORE=minio, which
// `make test` runs as a second pass). Tests about the store itself, or
// that need a local path, pick their store explicitly.
func TestMain(m *testing.M) { testminio.Main(m) }

func onMinIO() bool { return os.Getenv("FLIGHTWAL_TEST_STORE") == "minio" }

// backend is the store a test runs on and how the real Lance engine reads
// a table in it.
type backend struct {
	store objstore.Store
	// readTable runs q with LanceDB on table name's base dataset.
	readTable func(t testing.TB, nm, name string, q lancejs.Query) lancejs.Result
}

// testBackend is a fresh store of the suite's kind: a temp directory, or a
// new bucket on the shared MinIO server.
func testBackend(t testing.TB) backend {
	t.Helper()
	if onMinIO() {
		srv := testminio.Shared(t)
		uri, opts := srv.NewBucket(t)
		s, err := objstore.Open(t.Context(), uri, opts)
		if err != nil {
			t.Fatal(err)
		}
		storage := map[string]string{
			"endpoint": srv.Endpoint, "aws_access_key_id": srv.AccessKey, "aws_secret_access_key": srv.SecretKey,
			"region": "us-east-1", "allow_http": "true",
		}
		return backend{store: s, readTable: func(t testing.TB, nm, name string, q lancejs.Query) lancejs.Result {
			return lancejs.ReadS3(t, nm, uri, name, storage, q)
		}}
	}
	dir := t.TempDir()
	s, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return backend{store: s, readTable: func(t testing.TB, nm, name string, q lancejs.Query) lancejs.Result {
		return lancejs.ReadDataset(t, nm, filepath.Join(dir, path.Clean(name)+".lance"), q)
	}}
}

// testStore is testBackend's store.
func testStore(t testing.TB) objstore.Store { return testBackend(t).store }
