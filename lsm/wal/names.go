package wal

import (
	"math/bits"
	"path"
	"strconv"
	"strings"
)

// BitrevName is the 64-character binary string of the bit-reversed n:
// it spreads sequential names over object-store partitions (Lance's
// MemWAL layout names WAL entries and region manifests this way).
func BitrevName(n uint64) string {
	s := strconv.FormatUint(bits.Reverse64(n), 2)
	return strings.Repeat("0", 64-len(s)) + s
}

// ParseBitrevName inverts BitrevName on the base name of key with the
// given extension; ok is false for any other object.
func ParseBitrevName(key, ext string) (uint64, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	if !strings.HasSuffix(base, ext) {
		return 0, false
	}
	base = strings.TrimSuffix(base, ext)
	if len(base) != 64 {
		return 0, false
	}
	v, err := strconv.ParseUint(base, 2, 64)
	if err != nil {
		return 0, false
	}
	return bits.Reverse64(v), true
}

// EntryKey is the object key of the entry at pos in the log under dir.
func EntryKey(dir string, pos uint64) string {
	return path.Join(dir, "wal", BitrevName(pos)+".arrow")
}

// prefix is the key prefix of every entry of the log under dir.
func prefix(dir string) string { return path.Join(dir, "wal") + "/" }
