//go:build !linux

package config

// MemoryBytes is 0 (unknown) where the memory size is not read.
func MemoryBytes() int64 { return 0 }
