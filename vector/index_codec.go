package vector

import "slices"

// Index sidecar serialization (see codec.go for the frame):
//
//	"FWVINDEX" | version=1
//	model fingerprint                          uint64
//	metric, dim, partitions, subVectors        uint32 each (must match the model)
//	nextPos, rows                              uint32 each
//	counts     uint32[partitions]              rows per partition, summing to rows
//	positions  uint32[rows]                    partition-major; strictly increasing
//	                                           within a partition; all < nextPos;
//	                                           no position twice
//	codes      byte[rows*subVectors]           same order as positions
//	crc32c
//
// The model itself is not included: every layer of a column shares one,
// stored once by the caller.
const (
	indexMagic   = "FWVINDEX"
	indexVersion = 1
)

// MarshalBinary returns the serialized index (encoding.BinaryMarshaler): the
// codes and partition lists, and the fingerprint of the model, not the
// model. It may run concurrently with Add and captures the rows of the
// Adds that had returned when it started (a prefix of the rows).
func (ix *Index) MarshalBinary() ([]byte, error) {
	m := ix.model
	end := ix.end.Load() // first, so that every list holds all rows below it
	k, ms := m.ivf.k, m.pq.m
	// Snapshot each list's published length, cut at end: rows of an Add
	// still running have positions >= end.
	counts := make([]uint32, k)
	var rows uint64
	for p := range ix.lists {
		var n uint32
		ix.lists[p].segments(ms, func(pos []uint32, _ []byte) bool {
			for _, ps := range pos {
				if ps >= end {
					return false
				}
				n++
			}
			return true
		})
		counts[p] = n
		rows += uint64(n)
	}
	b := make([]byte, 0, frameOverhead+8+4*6+4*k+int(rows)*(4+ms))
	b = appendFrameHeader(b, indexMagic, indexVersion)
	b = appendU64(b, m.fingerprint)
	for _, v := range []uint32{uint32(m.metric), uint32(m.dim), uint32(k), uint32(ms), end, uint32(rows)} {
		b = appendU32(b, v)
	}
	for _, c := range counts {
		b = appendU32(b, c)
	}
	for p := range ix.lists {
		left := counts[p]
		ix.lists[p].segments(ms, func(pos []uint32, _ []byte) bool {
			for _, ps := range pos[:min(uint32(len(pos)), left)] {
				b = appendU32(b, ps)
			}
			left -= min(uint32(len(pos)), left)
			return left > 0
		})
	}
	for p := range ix.lists {
		left := counts[p]
		ix.lists[p].segments(ms, func(pos []uint32, codes []byte) bool {
			n := min(uint32(len(pos)), left)
			b = append(b, codes[:int(n)*ms]...)
			left -= n
			return left > 0
		})
	}
	return appendFrameTrailer(b), nil
}

// UnmarshalBinary loads a serialized index into ix, which must be empty
// (encoding.BinaryUnmarshaler); data is not retained. The sidecar must
// have been written with ix's model (same fingerprint), else the error
// wraps ErrModelMismatch. Malformed data wraps ErrCorrupt and leaves ix
// empty. Readers may search ix meanwhile; they see it empty until the
// load is complete.
func (ix *Index) UnmarshalBinary(data []byte) error {
	const what = "index"
	m := ix.model
	r, err := openFrame(data, indexMagic, indexVersion, what)
	if err != nil {
		return err
	}
	fp := r.u64("fingerprint")
	metric, dim, k, ms := r.u32("metric"), r.u32("dim"), r.u32("partitions"), r.u32("sub_vectors")
	next, rows := r.u32("next position"), r.u32("rows")
	if r.err != nil {
		return r.err
	}
	if fp != m.fingerprint || Metric(metric) != m.metric || int(dim) != m.dim || int(k) != m.ivf.k || int(ms) != m.pq.m {
		return errorf(ErrModelMismatch, "index of a %s model (dim %d, %d partitions, %d sub-vectors, fingerprint %016x), loading into a %s model (dim %d, %d partitions, %d sub-vectors, fingerprint %016x)",
			Metric(metric), dim, k, ms, fp, m.metric, m.dim, m.ivf.k, m.pq.m, m.fingerprint)
	}
	if uint64(rows) > uint64(next) {
		return corruptf(what, "%d rows at fewer than %d positions", rows, next)
	}
	// Everything must be present before anything is allocated.
	if !r.need(4*uint64(k)+uint64(rows)*(4+uint64(ms)), "partition lists") {
		return r.err
	}
	counts := make([]uint32, k)
	var sum uint64
	for p := range counts {
		counts[p] = r.u32("count")
		sum += uint64(counts[p])
	}
	if sum != uint64(rows) {
		return corruptf(what, "partition counts sum to %d, want %d rows", sum, rows)
	}
	posBytes := r.bytes(4*uint64(rows), "positions")
	codes := r.bytes(uint64(rows)*uint64(ms), "codes")
	if err := r.done(); err != nil {
		return err
	}
	positions := make([]uint32, rows)
	for i := range positions {
		positions[i] = getU32(posBytes[4*i:])
	}
	if err := checkPositions(positions, counts, next); err != nil {
		return err
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.next != 0 || ix.rows.Load() != 0 {
		return invalidf("UnmarshalBinary into an index that already holds rows")
	}
	var allocated int
	off := 0
	for p, c := range counts {
		l := &ix.lists[p]
		for i := range int(c) {
			e := off + i
			allocated += l.put(uint32(i), positions[e], codes[e*int(ms):(e+1)*int(ms)])
		}
		ix.lens[p] = c
		l.publish(c)
		off += int(c)
	}
	ix.bytes.Add(int64(allocated))
	ix.next = next
	ix.rows.Add(uint64(rows))
	ix.end.Store(next)
	return nil
}

// checkPositions verifies the position invariants of a sidecar: strictly
// increasing within each partition, below next, and no position in two
// partitions.
func checkPositions(positions, counts []uint32, next uint32) error {
	off := 0
	for p, c := range counts {
		list := positions[off : off+int(c)]
		for i, ps := range list {
			if ps >= next {
				return corruptf("index", "partition %d holds position %d, not below the next position %d", p, ps, next)
			}
			if i > 0 && ps <= list[i-1] {
				return corruptf("index", "partition %d positions not increasing (%d after %d)", p, ps, list[i-1])
			}
		}
		off += int(c)
	}
	sorted := slices.Clone(positions)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return corruptf("index", "position %d is in two partitions", sorted[i])
		}
	}
	return nil
}
