//go:build race

package lsm

// raceEnabled: the race detector slows CPU-bound tests about tenfold.
const raceEnabled = true
