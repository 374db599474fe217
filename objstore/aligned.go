package objstore

import "unsafe"

// directAlign is the alignment direct I/O needs of a buffer's address, its
// length and the file offset: the largest logical block size of the disks
// we run on.
const directAlign = 4096

// AlignedBytes returns a zeroed slice of length n whose first byte is
// directAlign-aligned. Local writes such a buffer's whole blocks with
// direct I/O, skipping the page-cache copy (see writeData); any other
// store treats it as an ordinary slice. Appending past its capacity
// loses the alignment.
func AlignedBytes(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - pageOffset(b)) % directAlign
	return b[off : off+n : off+n]
}

// isAligned reports whether b starts on a directAlign boundary.
func isAligned(b []byte) bool { return len(b) > 0 && pageOffset(b) == 0 }

// pageOffset is how far b's first byte lies past a directAlign boundary.
func pageOffset(b []byte) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign)
}
