//go:build race

package fts

// raceEnabled reports whether the race detector is on: the large
// equivalence tests shrink their corpora under it (it slows them tenfold).
const raceEnabled = true
