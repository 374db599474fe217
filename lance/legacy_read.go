package lance

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flightwal/flightwal/objstore"
)

// The legacy (v1) data file, footer version 0.1/0.2, read only:
//
//	| pages: per batch, per field                                    |
//	| page table: per field id from the file's lowest to its highest, |
//	|   per batch: i64 position, i64 length (rows)                   |
//	| ... [u32 len][Metadata protobuf] at metadata_position           |
//	| footer: u64 metadata_position, u16 0, u16 1|2, "LANC"           |
//
// Metadata (lance.file): 1 manifest_position, 2 batch_offsets (the first
// row of each batch, then the total), 3 page_table_position. A page of a
// fixed-width field is its raw values (no validity: nulls read as the
// stored values, as Lance reads them); a page of a binary field is n+1
// i64 absolute file positions of the values' bytes (an empty value is
// null if the field is nullable). Other field types are refused.

// legacyMeta is what a legacy file's metadata says.
type legacyMeta struct {
	batchStarts []uint64 // first row of each batch, then the total
	pageTable   uint64
}

func openLegacy(key string, size int64, tail []byte, tailStart int64) (*fileReader, error) {
	if len(tail) < 16 {
		return nil, corruptf(key, "legacy file of %d bytes", size)
	}
	pos := binary.LittleEndian.Uint64(tail[len(tail)-16:])
	if pos < uint64(tailStart) || pos+4 > uint64(size) {
		// (metadata outside the tail read: files this large are not legacy fixtures)
		return nil, unsupportedf("%s: legacy file metadata at %d, outside the last %d bytes", key, pos, len(tail))
	}
	b := tail[pos-uint64(tailStart):]
	n := uint64(binary.LittleEndian.Uint32(b))
	if 4+n > uint64(len(b)) {
		return nil, corruptf(key, "legacy metadata of %d bytes past the end", n)
	}
	m := &legacyMeta{}
	msg := b[4 : 4+n]
	for len(msg) > 0 {
		num, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return nil, corruptf(key, "legacy metadata: bad tag")
		}
		msg = msg[l:]
		switch {
		case num == 2 && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(msg)
			if l < 0 {
				return nil, corruptf(key, "legacy metadata: batch offsets")
			}
			for len(v) > 0 {
				x, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return nil, corruptf(key, "legacy metadata: batch offset")
				}
				m.batchStarts = append(m.batchStarts, uint64(int32(x)))
				v = v[k:]
			}
			msg = msg[l:]
		case num == 2 && typ == protowire.VarintType:
			x, l := protowire.ConsumeVarint(msg)
			if l < 0 {
				return nil, corruptf(key, "legacy metadata: batch offset")
			}
			m.batchStarts = append(m.batchStarts, uint64(int32(x)))
			msg = msg[l:]
		case num == 3 && typ == protowire.VarintType:
			x, l := protowire.ConsumeVarint(msg)
			if l < 0 {
				return nil, corruptf(key, "legacy metadata: page table")
			}
			m.pageTable = x
			msg = msg[l:]
		default:
			l := protowire.ConsumeFieldValue(num, typ, msg)
			if l < 0 {
				return nil, corruptf(key, "legacy metadata: field %d", num)
			}
			msg = msg[l:]
		}
	}
	if len(m.batchStarts) < 2 || m.batchStarts[0] != 0 || m.pageTable >= uint64(size) {
		return nil, corruptf(key, "legacy metadata: batches %v, page table at %d", m.batchStarts, m.pageTable)
	}
	for i := 1; i < len(m.batchStarts); i++ {
		if m.batchStarts[i] < m.batchStarts[i-1] {
			return nil, corruptf(key, "legacy metadata: batches %v", m.batchStarts)
		}
	}
	return &fileReader{key: key, size: size, numRows: m.batchStarts[len(m.batchStarts)-1], legacy: m}, nil
}

// legacyPages reads the page table rows of field id in a file whose
// fields span ids [minID, maxID].
func (r *fileReader) legacyPages(ctx context.Context, store objstore.Store, id, minID, maxID int32) (*columnInfo, error) {
	m := r.legacy
	batches := uint64(len(m.batchStarts) - 1)
	if id < minID || id > maxID || batches > 1<<20 {
		return nil, corruptf(r.key, "legacy field %d outside %d..%d", id, minID, maxID)
	}
	off := m.pageTable + uint64(id-minID)*batches*16
	n := batches * 16
	if off+n > uint64(r.size) {
		return nil, corruptf(r.key, "legacy page table past the end")
	}
	b, err := store.GetRange(ctx, r.key, int64(off), int64(n))
	if err != nil {
		return nil, fmt.Errorf("lance: read %s: %w", r.key, err)
	}
	if uint64(len(b)) != n {
		return nil, corruptf(r.key, "short read of the legacy page table")
	}
	col := &columnInfo{rows: r.numRows}
	for i := range batches {
		pos, rows := binary.LittleEndian.Uint64(b[i*16:]), binary.LittleEndian.Uint64(b[i*16+8:])
		if want := m.batchStarts[i+1] - m.batchStarts[i]; rows != want || pos > uint64(r.size) {
			return nil, corruptf(r.key, "legacy page of field %d batch %d: %d rows at %d, want %d", id, i, rows, pos, want)
		}
		col.pages = append(col.pages, pageInfo{first: m.batchStarts[i], rows: rows, offsets: []uint64{pos}, legacy: true})
	}
	return col, nil
}

// readLegacyPage reads and decodes one legacy page as type dt.
func (r *fileReader) readLegacyPage(ctx context.Context, store objstore.Store, mem memory.Allocator, p *pageInfo, dt arrow.DataType, nullable bool) (arrow.Array, error) {
	n := int(p.rows)
	get := func(off, size uint64) ([]byte, error) {
		if off+size > uint64(r.size) || off+size < off {
			return nil, corruptf(r.key, "legacy page range %d+%d past the end", off, size)
		}
		b, err := store.GetRange(ctx, r.key, int64(off), int64(size))
		if err != nil {
			return nil, fmt.Errorf("lance: read %s: %w", r.key, err)
		}
		if uint64(len(b)) != size {
			return nil, corruptf(r.key, "short read of a legacy page")
		}
		return b, nil
	}
	pos := p.offsets[0]
	if _, ok := isLargeBinary(dt); ok {
		pb, err := get(pos, uint64(n+1)*8)
		if err != nil {
			return nil, err
		}
		start, end := binary.LittleEndian.Uint64(pb), binary.LittleEndian.Uint64(pb[8*n:])
		if end < start {
			return nil, corruptf(r.key, "legacy binary page from %d to %d", start, end)
		}
		data, err := get(start, end-start)
		if err != nil {
			return nil, err
		}
		blk := &block{n: n, dim: 1, data: data, offs: make([]uint64, n+1)}
		valid := make([]bool, n)
		for i := range blk.offs {
			v := binary.LittleEndian.Uint64(pb[8*i:])
			if v < start || v > end || (i > 0 && v < blk.offs[i-1]+start) {
				return nil, corruptf(r.key, "legacy binary position %d of row %d", v, i)
			}
			blk.offs[i] = v - start
			if i > 0 {
				valid[i-1] = !nullable || blk.offs[i] > blk.offs[i-1]
			}
		}
		return blockToArray(mem, r.key, dt, blk, valid)
	}
	var bits int
	switch t := dt.(type) {
	case *arrow.FixedSizeListType:
		ew, ok := bitWidth(t.Elem())
		if !ok {
			return nil, unsupportedf("%s: legacy page of %s", r.key, dt)
		}
		bits = ew * int(t.Len())
	default:
		w, ok := bitWidth(dt)
		if !ok {
			return nil, unsupportedf("%s: legacy page of %s (fixed-width and binary fields are read)", r.key, dt)
		}
		bits = w
	}
	data, err := get(pos, uint64(bitutil.BytesForBits(int64(n)*int64(bits))))
	if err != nil {
		return nil, err
	}
	blk := &block{n: n, bits: bits, dim: 1, data: data}
	if t, ok := dt.(*arrow.FixedSizeListType); ok {
		blk.bits, blk.dim = bits/int(t.Len()), int(t.Len())
	}
	return blockToArray(mem, r.key, dt, blk, nil)
}
