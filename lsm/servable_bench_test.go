package lsm

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// BenchmarkCheckReadable: the read check of a table open (db.go) over a
// 2.2 table of 100 fragments of 1,000 rows (int64 key, 128-d vector,
// text) on local disk, every file's metadata read afresh.
func BenchmarkCheckReadable(b *testing.B) {
	ctx := context.Background()
	st, _ := objstore.NewLocal(b.TempDir())
	mem := memory.NewGoAllocator()
	schema := datagen.Schema(128)
	rec := datagen.Batch(mem, 128, 1, 0, 1000)
	ds, err := lance.WriteDatasetWith(ctx, st, "t.lance", schema, nil, lance.CreateOptions{DataStorageVersion: lance.Version22})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		nf, err := lance.WriteFragmentVersion(ctx, st, "t.lance", schema, []arrow.RecordBatch{rec}, lance.Version22)
		if err != nil {
			b.Fatal(err)
		}
		if ds, err = ds.Commit(ctx, st, lance.Transaction{NewFragments: []lance.NewFragment{nf}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fresh, _ := lance.OpenDataset(ctx, st, "t.lance")
		if err := fresh.CheckReadable(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
