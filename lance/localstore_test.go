package lance

import (
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// newLocalStore returns objstore's local-filesystem store over dir (reads
// go to disk, and the real Lance engine can open what is written there).
func newLocalStore(tb testing.TB, dir string) objstore.Store {
	tb.Helper()
	st, err := objstore.NewLocal(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
