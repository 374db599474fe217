package objstore

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// directMin is the smallest write worth direct I/O: below it the page
// cache copy is cheap and the synchronous device write is not.
const directMin = 1 << 20

// writeData writes data to f, a new empty file that will be fsynced.
//
// When data starts on a page boundary (AlignedBytes) and is large, its
// whole blocks are written with O_DIRECT: the device reads them straight
// from our memory. A buffered write would first copy every byte into the
// page cache; in ingest profiles that copy was the WAL's largest CPU cost
// (2.7 GB/s on two cores shared with the gRPC stack), and WAL entries are
// never read back except by replay. The tail shorter than a block is
// written through the page cache. fsync is still what makes the file
// durable (device cache, inode size), so the caller's contract is
// unchanged. A filesystem that refuses direct I/O (tmpfs, some overlays)
// gets the whole buffer through the page cache.
func writeData(f *os.File, data []byte) error {
	whole := len(data) &^ (directAlign - 1)
	if whole < directMin || !isAligned(data) {
		_, err := f.Write(data)
		return err
	}
	if setDirect(f, true) == nil {
		_, werr := f.Write(data[:whole])
		if err := setDirect(f, false); err != nil {
			return err
		}
		if werr == nil {
			_, err := f.Write(data[whole:])
			return err
		}
		// Refused (EINVAL on stricter alignment) or partly written:
		// start again through the page cache.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
	}
	_, err := f.Write(data)
	return err
}

// setDirect turns O_DIRECT on or off for f's open file description.
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			serr = err
			return
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, serr = unix.FcntlInt(fd, unix.F_SETFL, flags)
	})
	if err != nil {
		return err
	}
	return serr
}
