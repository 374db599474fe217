package lsm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/lancejs"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// memwalJS runs interop/memwal.mjs (LanceDB 0.39) on dir and decodes its
// answer into out.
func memwalJS(t testing.TB, nm, dir string, req map[string]any, out any) {
	t.Helper()
	lancejs.RunJSON(t, nm, "memwal.mjs", dir, req, out)
}

// TestBucketsAgreeWithLanceDB: for 10,000 int64 and 10,000 string keys,
// flightwal's bucket (murmur3) and region id agree with LanceDB 0.39's.
// The keys are grouped by flightwal's bucket of 64 and each group is one
// LanceDB mergeInsert, whose validator refuses a call whose rows route to
// more than one bucket; each lands in the region LanceDB derives for its
// bucket, whose WAL must then hold exactly that group.
func TestBucketsAgreeWithLanceDB(t *testing.T) {
	nm := lancejs.NodeModules(t, "v039")
	const n, buckets = 10000, 64
	rng := rand.New(rand.NewPCG(18, 64))
	for _, kind := range []string{"int", "string"} {
		t.Run(kind, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			var created map[string]any
			memwalJS(t, nm, dir, map[string]any{"op": "create", "table": "b", "key": kind, "buckets": buckets}, &created)

			keyType := arrow.DataType(arrow.PrimitiveTypes.Int64)
			if kind == "string" {
				keyType = arrow.BinaryTypes.String
			}
			schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: keyType}, {Name: "text", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
			kb := array.NewBuilder(mem, keyType)
			seen := map[string]bool{}
			for len(seen) < n {
				var k string
				if kind == "int" {
					v := int64(rng.Uint64())
					if len(seen)%4 == 0 {
						v = int64(rng.IntN(20000)) - 10000
					}
					k = strconv.FormatInt(v, 10)
				} else {
					r := make([]rune, rng.IntN(24))
					for i := range r {
						r[i] = []rune("aZ09-_é€𝄞 ")[rng.IntN(10)]
					}
					k = string(r)
				}
				if seen[k] {
					continue
				}
				seen[k] = true
				if kind == "int" {
					v, _ := strconv.ParseInt(k, 10, 64)
					kb.(*array.Int64Builder).Append(v)
				} else {
					kb.(*array.StringBuilder).Append(k)
				}
			}
			col := kb.NewArray()
			kb.Release()
			defer col.Release()
			spec := shardSpec{id: 1, transform: transformBucket, col: 0, buckets: buckets}
			routed, err := spec.route(col)
			if err != nil {
				t.Fatal(err)
			}
			groups := make([][]map[string]any, buckets)
			want := make([]map[string]bool, buckets)
			keyOf := func(i int) string {
				if kind == "int" {
					return strconv.FormatInt(col.(*array.Int64).Value(i), 10)
				}
				return col.(*array.String).Value(i)
			}
			for i, b := range routed {
				k := keyOf(i)
				groups[b] = append(groups[b], map[string]any{"id": k})
				if want[b] == nil {
					want[b] = map[string]bool{}
				}
				want[b][k] = true
			}
			var nonEmpty [][]map[string]any
			var bucketOfGroup []int
			for b, g := range groups {
				if len(g) > 0 {
					nonEmpty = append(nonEmpty, g)
					bucketOfGroup = append(bucketOfGroup, b)
				}
			}
			var res []struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			memwalJS(t, nm, dir, map[string]any{"op": "upsert", "table": "b", "groups": nonEmpty}, &res)
			for i, r := range res {
				if !r.OK {
					t.Fatalf("bucket %d: LanceDB refused the keys flightwal put in one bucket: %s", bucketOfGroup[i], r.Error)
				}
			}
			store, err := objstore.NewLocal(filepath.Join(dir, "b.lance"))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, b := range bucketOfGroup {
				regionDir := "_mem_wal/" + formatUUID(spec.regionUUID(b))
				log := wal.Open(store, regionDir, schema, 0, mem)
				positions, err := log.Positions(ctx)
				if err != nil || len(positions) != 1 {
					t.Fatalf("bucket %d: region %s holds WAL entries %v (%v), want one", b, regionDir, positions, err)
				}
				e, err := log.Read(ctx, positions[0])
				if err != nil {
					t.Fatalf("bucket %d: %v", b, err)
				}
				got := 0
				for _, bt := range e.Batches {
					for i := 0; i < int(bt.Rec.NumRows()); i++ {
						var k string
						if kind == "int" {
							k = strconv.FormatInt(bt.Rec.Column(0).(*array.Int64).Value(i), 10)
						} else {
							k = bt.Rec.Column(0).(*array.String).Value(i)
						}
						if !want[b][k] {
							e.Release()
							t.Fatalf("bucket %d: region %s holds key %q of another bucket", b, regionDir, k)
						}
						got++
					}
				}
				e.Release()
				if got != len(want[b]) {
					t.Fatalf("bucket %d: region holds %d keys, want %d", b, got, len(want[b]))
				}
			}
			fmt.Fprintf(testWriter{t}, "%d %s keys in %d buckets agree with LanceDB", n, kind, len(bucketOfGroup))
		})
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
