package flight_test

import (
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// testStore is the store a test runs on: a local temp directory.
func testStore(t testing.TB) objstore.Store {
	t.Helper()
	s, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
