package lsm

import "context"

// walKind says whether a WAL entry holds batches or is a writer's fence.
type walKind uint8

const (
	walUnknown walKind = iota // not known (read failed)
	walData                   // holds batches: deletable once flushed
	walFence                  // a fence: kept forever (see collectWAL)
)

func kindOf(e *walEntry) walKind {
	if len(e.recs) == 0 {
		return walFence
	}
	return walData
}

func (r *RegionWriter) noteWALKind(pos uint64, k walKind) {
	r.walKindsMu.Lock()
	defer r.walKindsMu.Unlock()
	if r.walKinds == nil {
		r.walKinds = map[uint64]walKind{}
	}
	r.walKinds[pos] = k
}

func (r *RegionWriter) forgetWALKind(pos uint64) {
	r.walKindsMu.Lock()
	defer r.walKindsMu.Unlock()
	delete(r.walKinds, pos)
}

// walKind classifies the entry at pos, reading it if this process has not
// seen it (entries flushed before the last restart).
func (r *RegionWriter) walKind(ctx context.Context, pos uint64) walKind {
	r.walKindsMu.Lock()
	k, ok := r.walKinds[pos]
	r.walKindsMu.Unlock()
	if ok {
		return k
	}
	e, err := r.readWAL(ctx, pos)
	if err != nil {
		return walUnknown
	}
	k = kindOf(e)
	e.release()
	r.noteWALKind(pos, k)
	return k
}
