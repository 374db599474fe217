package objstore

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteDataLeavesFileBuffered pins that writeData turns O_DIRECT off
// again: the file is fsynced and closed by the caller, and any later
// write must not need alignment.
func TestWriteDataLeavesFileBuffered(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := AlignedBytes(2<<20 + 100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := writeData(f, data); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_DIRECT != 0 {
		t.Fatal("O_DIRECT still set after writeData")
	}
	if _, err := f.Write([]byte{1, 2, 3}); err != nil {
		t.Fatalf("unaligned write after writeData: %v", err)
	}
	st, _ := f.Stat()
	if st.Size() != int64(len(data))+3 {
		t.Fatalf("size %d, want %d", st.Size(), len(data)+3)
	}
}

// TestWriteDataFallsBack pins the page-cache retry: a direct write the
// kernel refuses (here at an unaligned file offset, EINVAL) leaves the
// file holding exactly data, written through the page cache from the
// start, as if the file had been new.
func TestWriteDataFallsBack(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte{0xff}); err != nil { // offset 1: unaligned
		t.Fatal(err)
	}
	data := AlignedBytes(1<<20 + 10)
	for i := range data {
		data[i] = byte(i * 13)
	}
	if err := writeData(f, data); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data) {
		t.Fatalf("file holds %d bytes, want %d", len(got), len(data))
	}
	for i := range got {
		if got[i] != data[i] {
			t.Fatalf("byte %d is %#x, want %#x", i, got[i], data[i])
		}
	}
}
