package lsm

import (
	"fmt"
	"sync/atomic"
)

// Stage is where a region's rows are in their life, as Lance's MemWAL
// names it: a memtable is open (the active one, taking appends), then
// frozen (immutable, still read, waiting for its flush), then flushed (its
// rows are a flushed generation, which readers read instead); a flushed
// generation is merged once compaction committed a base table version that
// holds its rows (it is retired from the region manifest, and its files
// are deleted when the last reader lets go).
type Stage uint32

const (
	StageOpen Stage = iota
	StageFrozen
	StageFlushed
	StageMerged
)

func (s Stage) String() string {
	switch s {
	case StageOpen:
		return "open"
	case StageFrozen:
		return "frozen"
	case StageFlushed:
		return "flushed"
	case StageMerged:
		return "merged"
	}
	return fmt.Sprintf("stage(%d)", uint32(s))
}

// stage holds a Stage that only moves forward, one step at a time.
type stage struct{ v atomic.Uint32 }

func (s *stage) get() Stage { return Stage(s.v.Load()) }

// advance moves from one stage to the next; any other move is a bug in
// the caller (a freeze of a frozen memtable, a flush of an open one), and
// panics rather than corrupting what readers see.
func (s *stage) advance(from, to Stage) {
	if to != from+1 || !s.v.CompareAndSwap(uint32(from), uint32(to)) {
		panic(fmt.Sprintf("lsm: lifecycle moved from %s to %s, want %s to %s", s.get(), to, from, from+1))
	}
}
