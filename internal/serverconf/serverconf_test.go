package serverconf

import (
	"context"
	"testing"

	"github.com/flightwal/flightwal/config"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// TestDefaultsOpen: the default Config gives options lsm accepts, and
// options that leave a config-set field unset are refused, naming its key.
func TestDefaultsOpen(t *testing.T) {
	ctx := context.Background()
	db, err := lsm.Open(ctx, objstore.NewMem(), LSM(config.Default(), nil))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	o := LSM(config.Default(), nil)
	o.MemTableMaxRows = 0
	if _, err := lsm.Open(ctx, objstore.NewMem(), o); err == nil {
		t.Fatal("options without memtable.max_rows opened")
	}
	if got := DefaultLSM(lsm.Options{MemTableMaxRows: 7}); got.MemTableMaxRows != 7 || got.WALFlushInterval != config.Default().WAL.FlushInterval {
		t.Fatalf("DefaultLSM: %+v", got)
	}
}
