package objstore_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/flightwal/flightwal/objstore"
)

// TestLocalAlignedWrites pins that a Local put returns exactly the bytes
// given whichever path writeData takes: whole blocks with direct I/O and a
// buffered tail (aligned and large), all buffered (small or unaligned), and
// the fallback on a filesystem that may refuse direct I/O (tmpfs).
func TestLocalAlignedWrites(t *testing.T) {
	dirs := map[string]string{"disk": t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "flightwal-direct-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs["tmpfs"] = d
		}
	}
	sizes := []int{1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 4095, 4<<20 - 1, 8 << 20}
	for name, dir := range dirs {
		s, err := objstore.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			for _, aligned := range []bool{true, false} {
				want := randBytes(uint64(n), n)
				var data []byte
				if aligned {
					data = objstore.AlignedBytes(n)
				} else {
					data = objstore.AlignedBytes(n + 1)[1:]
				}
				copy(data, want)
				key := fmt.Sprintf("%s/%d-%v", name, n, aligned)
				mustPut(t, s, key+"/put", data)
				if err := s.PutIfAbsent(ctxT(t), key+"/pia", data); err != nil {
					t.Fatalf("PutIfAbsent %s: %v", key, err)
				}
				for _, k := range []string{key + "/put", key + "/pia"} {
					if got := mustGet(t, s, k); !bytes.Equal(got, want) {
						t.Fatalf("%s: read %d bytes back, want the %d written", k, len(got), n)
					}
				}
				if !bytes.Equal(data, want) {
					t.Fatalf("%s: the caller's buffer changed", key)
				}
			}
		}
	}
}

func TestAlignedBytes(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096, 1 << 20} {
		b := objstore.AlignedBytes(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBytes(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 && objstore.AddrMod(b)%4096 != 0 {
			t.Fatalf("AlignedBytes(%d) starts at offset %d of a page", n, objstore.AddrMod(b))
		}
	}
}
