package flight_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/grpc/codes"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/objstore"
)

// localEnv is a server on a local directory the test can look into.
func localEnv(t *testing.T, opts ...envOption) (*env, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := objstore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, append([]envOption{withStore(s)}, opts...)...), dir
}

// TestIndexNameValidated: an index name is held to the table-name rule
// (it becomes part of object keys): a name that is not is InvalidArgument
// naming it, and nothing is created, not even a directory.
func TestIndexNameValidated(t *testing.T) {
	e, dir := localEnv(t)
	b64 := schemaB64(e, datagen.Schema(8))
	for _, name := range []string{"../../../tmp/pwned", "a/b", ".hidden", "x y", "-x"} {
		index := map[string]any{"name": name, "column": "vec", "type": "ivf_pq"}
		_, err := e.action("create_table", map[string]any{"name": "bad", "schema": b64, "indexes": []any{index}})
		wantCode(t, err, codes.InvalidArgument, name)
		if _, err := os.Stat(filepath.Join(dir, "bad.lance")); !os.IsNotExist(err) {
			t.Fatalf("index name %q: a rejected create_table left bad.lance behind (%v)", name, err)
		}
		_, err = e.get(map[string]any{"table": "bad"})
		wantCode(t, err, codes.NotFound, "bad")
	}
	// A default name (column + "_idx") is held to the same rule.
	odd := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: arrow.NewMetadata([]string{"lance-schema:unenforced-primary-key"}, []string{"true"})},
		{Name: "body/text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	_, err := e.action("create_table", map[string]any{"name": "bad", "schema": schemaB64(e, odd), "indexes": []any{
		map[string]any{"column": "body/text", "type": "fts"},
	}})
	wantCode(t, err, codes.InvalidArgument, `body/text`)
	if _, err := os.Stat(filepath.Join(dir, "bad.lance")); !os.IsNotExist(err) {
		t.Fatalf("a rejected create_table left bad.lance behind (%v)", err)
	}
	if _, err := os.Stat("/tmp/pwned.model"); err == nil {
		t.Fatal("/tmp/pwned.model exists")
	}
	// A valid name still works, and the table serves.
	e.mustAction("create_table", map[string]any{"name": "good", "schema": b64, "indexes": []any{
		map[string]any{"name": "Vec_idx-2", "column": "vec", "type": "ivf_pq"},
	}})
	rec := datagen.Batch(e.mem, 8, 1, 0, 10)
	defer rec.Release()
	e.mustPut(pathDesc("good"), rec)
	if got := e.mustGet(map[string]any{"table": "good"}); got.NumRows() != 10 {
		t.Fatalf("good: %d rows, want 10", got.NumRows())
	}
}
