package lance

import (
	"cmp"
	"slices"
)

// join appends a relative key to a dataset root ("t.lance" + "data/x").
func join(root, rel string) string {
	if root == "" {
		return rel
	}
	return root + "/" + rel
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pad64 is the number of zero bytes that bring n up to a multiple of 64,
// the alignment of every buffer this package writes.
func pad64(n int) int {
	return (64 - n%64) % 64
}
