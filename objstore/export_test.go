package objstore

import "unsafe"

// AddrMod returns b's start address modulo directAlign.
func AddrMod(b []byte) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign
}
