//go:build race

package vector

// raceEnabled reports whether the race detector is on: the recall tests,
// which check numerics on large data and run no goroutines of their own
// beyond the package's, skip themselves under it (they take minutes).
const raceEnabled = true
