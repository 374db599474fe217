package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/flightwal/flightwal/internal/testminio"
	"github.com/flightwal/flightwal/objstore"
)

func TestMain(m *testing.M) { testminio.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustPut(t *testing.T, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(ctxT(t), key, data); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

func mustGet(t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	b, err := s.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	return b
}

func keys(objs []objstore.ObjectInfo) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Key
	}
	return out
}

// testStoreContract checks the Store contract (store.go) on stores made by
// newStore, each empty.
func testStoreContract(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	t.Run("GetPutOverwrite", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		if _, err := s.Get(ctx, "a/b/missing"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("Get missing: got %v, want ErrNotFound", err)
		}
		v1, v2 := randBytes(1, 1000), randBytes(2, 10)
		mustPut(t, s, "a/b/c.bin", v1)
		if got := mustGet(t, s, "a/b/c.bin"); !bytes.Equal(got, v1) {
			t.Fatalf("Get after Put: %d bytes, want the %d put", len(got), len(v1))
		}
		mustPut(t, s, "a/b/c.bin", v2)
		if got := mustGet(t, s, "a/b/c.bin"); !bytes.Equal(got, v2) {
			t.Fatalf("Get after overwrite: %x, want %x", got, v2)
		}
		mustPut(t, s, "empty", nil)
		if got := mustGet(t, s, "empty"); len(got) != 0 {
			t.Fatalf("empty object read back as %d bytes", len(got))
		}
		// The store keeps its own copy: changing the caller's slice changes nothing.
		buf := []byte("original")
		mustPut(t, s, "copy", buf)
		buf[0] = 'X'
		if got := mustGet(t, s, "copy"); string(got) != "original" {
			t.Fatalf("stored object changed with the caller's buffer: %q", got)
		}
	})

	t.Run("GetRange", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		data := randBytes(3, 1000)
		mustPut(t, s, "r/obj", data)
		mustPut(t, s, "r/empty", nil)
		for _, c := range []struct {
			off, n int64
			want   []byte
		}{
			{0, 10, data[:10]},
			{100, 200, data[100:300]},
			{990, 100, data[990:]}, // runs past the end: truncated
			{0, 5000, data},
			{999, 1, data[999:]},
			{1000, 5, nil}, // starts at the end
			{2000, 1, nil}, // starts past the end
			{5, 0, nil},    // empty range
		} {
			got, err := s.GetRange(ctx, "r/obj", c.off, c.n)
			if err != nil {
				t.Fatalf("GetRange(%d, %d): %v", c.off, c.n, err)
			}
			if !bytes.Equal(got, c.want) || got == nil {
				t.Fatalf("GetRange(%d, %d): got %d bytes (nil=%v), want %d", c.off, c.n, len(got), got == nil, len(c.want))
			}
		}
		if got, err := s.GetRange(ctx, "r/empty", 0, 10); err != nil || len(got) != 0 {
			t.Fatalf("GetRange of an empty object: %d bytes, %v", len(got), err)
		}
		if _, err := s.GetRange(ctx, "r/missing", 0, 10); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("GetRange missing: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetRange(ctx, "r/missing", 0, 0); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("empty GetRange of a missing key: got %v, want ErrNotFound", err)
		}
	})

	t.Run("Stat", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		before := time.Now().Add(-time.Minute)
		mustPut(t, s, "s/obj", randBytes(4, 1234))
		info, err := s.Stat(ctx, "s/obj")
		if err != nil {
			t.Fatal(err)
		}
		if info.Key != "s/obj" || info.Size != 1234 {
			t.Fatalf("Stat = %+v, want key s/obj size 1234", info)
		}
		if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
			t.Fatalf("Stat ModTime %v is not about now", info.ModTime)
		}
		if _, err := s.Stat(ctx, "s/missing"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("Stat missing: got %v, want ErrNotFound", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		objs, err := s.List(ctx, "")
		if err != nil || len(objs) != 0 {
			t.Fatalf("List of an empty store: %v, %v", keys(objs), err)
		}
		for i, k := range []string{"l/b", "m", "l/c/d", "l2/x", "l/a", "l/c/e/f"} {
			mustPut(t, s, k, randBytes(uint64(i), 10+i))
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"l/", []string{"l/a", "l/b", "l/c/d", "l/c/e/f"}},
			{"l", []string{"l/a", "l/b", "l/c/d", "l/c/e/f", "l2/x"}},
			{"l/c", []string{"l/c/d", "l/c/e/f"}},
			{"l/c/", []string{"l/c/d", "l/c/e/f"}},
			{"", []string{"l/a", "l/b", "l/c/d", "l/c/e/f", "l2/x", "m"}},
			{"l/a", []string{"l/a"}},
			{"nope/", nil},
			{"l/c/e/f/g", nil},
		} {
			objs, err := s.List(ctx, c.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", c.prefix, err)
			}
			if got := keys(objs); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("List(%q) = %v, want %v", c.prefix, got, c.want)
			}
		}
		objs, _ = s.List(ctx, "l2/")
		if len(objs) != 1 || objs[0].Size != 13 {
			t.Fatalf("List(l2/) = %+v, want one object of 13 bytes", objs)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		mustPut(t, s, "d/x", []byte("x"))
		mustPut(t, s, "d/y", []byte("y"))
		if err := s.Delete(ctx, "d/x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "d/x"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "d/x"); !errors.Is(err, objstore.ErrNotFound) {
			t.Fatalf("second Delete: got %v, want ErrNotFound", err)
		}
		if objs, _ := s.List(ctx, "d/"); fmt.Sprint(keys(objs)) != "[d/y]" {
			t.Fatalf("List after Delete = %v, want [d/y]", keys(objs))
		}
		// A deleted key can be created again, also with PutIfAbsent.
		if err := s.PutIfAbsent(ctx, "d/x", []byte("again")); err != nil {
			t.Fatalf("PutIfAbsent of a deleted key: %v", err)
		}
	})

	t.Run("PutIfAbsent", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		first, second := []byte("first"), []byte("second")
		if err := s.PutIfAbsent(ctx, "p/k", first); err != nil {
			t.Fatal(err)
		}
		if err := s.PutIfAbsent(ctx, "p/k", second); !errors.Is(err, objstore.ErrExists) {
			t.Fatalf("second PutIfAbsent: got %v, want ErrExists", err)
		}
		if got := mustGet(t, s, "p/k"); !bytes.Equal(got, first) {
			t.Fatalf("content after the refused PutIfAbsent: %q, want %q", got, first)
		}
		// A key written with Put also counts as present.
		mustPut(t, s, "p/put", []byte("put"))
		if err := s.PutIfAbsent(ctx, "p/put", second); !errors.Is(err, objstore.ErrExists) {
			t.Fatalf("PutIfAbsent over Put: got %v, want ErrExists", err)
		}
	})

	t.Run("PutIfAbsentRace", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		const racers, rounds = 16, 4
		for round := 0; round < rounds; round++ {
			key := fmt.Sprintf("race/%d", round)
			errs := make([]error, racers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < racers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = s.PutIfAbsent(ctx, key, []byte(fmt.Sprintf("racer %d of round %d", i, round)))
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if winner >= 0 {
						t.Fatalf("round %d: racers %d and %d both won", round, winner, i)
					}
					winner = i
				case errors.Is(err, objstore.ErrExists):
				default:
					t.Fatalf("round %d: racer %d: %v (want nil or ErrExists)", round, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: nobody won: %v", round, errs)
			}
			if got, want := string(mustGet(t, s, key)), fmt.Sprintf("racer %d of round %d", winner, round); got != want {
				t.Fatalf("round %d: stored %q, want the winner's %q", round, got, want)
			}
		}
	})

	t.Run("Large", func(t *testing.T) {
		s, ctx := newStore(t), ctxT(t)
		data := randBytes(5, 40<<20+12345) // several multipart parts on S3, the last one short
		mustPut(t, s, "big/obj", data)
		if got := mustGet(t, s, "big/obj"); !bytes.Equal(got, data) {
			t.Fatalf("40 MiB object read back differs (%d bytes)", len(got))
		}
		info, err := s.Stat(ctx, "big/obj")
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Stat of the large object: %+v, %v", info, err)
		}
		off := int64(16<<20 - 100) // across a part boundary
		got, err := s.GetRange(ctx, "big/obj", off, 200)
		if err != nil || !bytes.Equal(got, data[off:off+200]) {
			t.Fatalf("GetRange across a part boundary: %d bytes, %v", len(got), err)
		}
	})
}

func TestLocalContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T) objstore.Store {
		s, err := objstore.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T) objstore.Store { return objstore.NewMem() })
}

func TestPrefixedMemContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T) objstore.Store {
		mem := objstore.NewMem()
		// Neighbours outside the prefix must stay invisible.
		for _, k := range []string{"pre", "pre2/x", "prf/x", "a"} {
			mustPut(t, mem, k, []byte(k))
		}
		return objstore.Prefixed(mem, "pre/")
	})
}

func TestS3Contract(t *testing.T) {
	srv := testminio.Shared(t)
	testStoreContract(t, func(t *testing.T) objstore.Store { return srv.Store(t) })
}

func TestS3PrefixContract(t *testing.T) {
	srv := testminio.Shared(t)
	testStoreContract(t, func(t *testing.T) objstore.Store {
		uri, opts := srv.NewBucket(t)
		// Neighbours outside the prefix must stay invisible. (Not an object
		// named "tables/pre" itself: MinIO hides the objects under a key that
		// is also an object, see S3.)
		root, err := objstore.Open(ctxT(t), uri, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"tables/pre2/x", "tables/prf", "a"} {
			mustPut(t, root, k, []byte(k))
		}
		s, err := objstore.Open(ctxT(t), uri+"/tables/pre", opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
