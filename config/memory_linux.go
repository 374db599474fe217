package config

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// MemoryBytes is the memory this process may use: the machine's physical
// memory (sysinfo), or the memory cgroup's limit when that is lower (a
// container). It is 0 when neither can be read.
func MemoryBytes() int64 {
	var n int64
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		n = int64(si.Totalram) * int64(si.Unit)
	}
	for _, path := range []string{
		"/sys/fs/cgroup/memory.max",                   // cgroup v2
		"/sys/fs/cgroup/memory/memory.limit_in_bytes", // cgroup v1
	} {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// "max" (v2) and a near-2^63 number (v1) mean no limit.
		limit, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err == nil && limit > 0 && (n == 0 || limit < n) {
			n = limit
		}
		break
	}
	return n
}
