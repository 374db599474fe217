package config

import (
	"fmt"
	"strconv"
	"strings"
)

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", KiB}, {"mib", MiB}, {"gib", GiB}, {"tib", GiB * KiB},
	{"kb", 1000}, {"mb", 1000_000}, {"gb", 1000_000_000},
	{"k", 1000}, {"m", 1000_000}, {"g", 1000_000_000}, {"b", 1},
}

// ParseBytes reads "1048576", "256MiB", "10MB" or "1k". Binary suffixes
// (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones powers of 1000.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 1048576, 10MiB, 1GiB)", s)
	}
	if n > 0 && mult > (1<<62)/n {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	switch {
	case n != 0 && n%GiB == 0:
		return fmt.Sprintf("%dGiB", n/GiB)
	case n != 0 && n%MiB == 0:
		return fmt.Sprintf("%dMiB", n/MiB)
	case n != 0 && n%KiB == 0:
		return fmt.Sprintf("%dKiB", n/KiB)
	}
	return strconv.FormatInt(n, 10)
}
