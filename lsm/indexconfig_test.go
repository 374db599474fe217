package lsm

import (
	"context"
	"reflect"
	"testing"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/objstore"
)

// indexConfig is the base manifest's flightwal.indexes for indexConfigDefs,
// exactly as flightwal has written it since indexes were declared at
// create_table: the on-disk format, which no wire change may move.
const indexConfig = `[{"name":"v","column":"vec","type":"ivf_pq","metric":"cosine","partitions":4,"sub_vectors":2,"train_after":1000},` +
	`{"name":"text_idx","column":"text","type":"fts","stem":false,"stop_words":true},` +
	`{"name":"id_idx","column":"id","type":"btree"}]`

func indexConfigDefs() []IndexDef {
	no, yes := false, true
	return []IndexDef{
		{Name: "v", Column: "vec", Type: "ivf_pq", Metric: "cosine", Partitions: 4, SubVectors: 2, TrainAfter: 1000},
		{Name: "text_idx", Column: "text", Type: "fts", Stem: &no, StopWords: &yes},
		{Name: "id_idx", Column: "id", Type: "btree"},
	}
}

// TestIndexConfigWritten: CreateTable persists the declared indexes in
// today's format (default names filled in).
func TestIndexConfigWritten(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	defs := indexConfigDefs()
	defs[1].Name, defs[2].Name = "", "" // defaulted to <column>_idx
	if _, err := db.CreateTable(ctx, TableSpec{Name: "t", Schema: searchSchema(8), Indexes: defs}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mem.AssertSize(t, 0)
	ds, err := lance.OpenDataset(ctx, store, tableRoot("t"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Config()[configIndexes]; got != indexConfig {
		t.Fatalf("%s:\n got %s\nwant %s", configIndexes, got, indexConfig)
	}
}

// TestIndexConfigLoads: a table whose manifest holds the config in today's
// format opens with those indexes, live.
func TestIndexConfigLoads(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	cfg := map[string]string{"flightwal.regions": "2", "flightwal.primary_key": "id", "flightwal.indexes": indexConfig}
	if _, err := lance.CreateDataset(ctx, store, tableRoot("old"), searchSchema(8), cfg); err != nil {
		t.Fatal(err)
	}
	db, mem := testDB(t, store, Options{CompactAfterGenerations: -1})
	defer mem.AssertSize(t, 0)
	defer db.Close()
	tbl, err := db.Table(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tbl.Indexes(), indexConfigDefs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("indexes:\n got %+v\nwant %+v", got, want)
	}
	st := tbl.Stats()
	if len(st.IndexStatus) != 2 || st.IndexStatus[0].Name != "v" || st.IndexStatus[1].Name != "text_idx" || len(st.Regions) != 2 {
		t.Fatalf("stats: %+v", st)
	}
}
