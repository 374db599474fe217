package lsm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// regionPaths names the objects of one region under the table's root.
type regionPaths struct{ dir string } // "_mem_wal/<region>"

func (p regionPaths) manifest(version uint64) string {
	return path.Join(p.dir, "manifest", wal.BitrevName(version)+".binpb")
}
func (p regionPaths) manifestPrefix() string { return path.Join(p.dir, "manifest") + "/" }

// versionHint is Lance's hint of the newest region manifest version.
func (p regionPaths) versionHint() string { return path.Join(p.dir, "manifest", "version_hint.json") }

// writeVersionHint updates the region's version_hint.json after a
// manifest commit, as Lance's shard writer does. It is a hint (readers
// list the manifests), so a failure is ignored: the next commit writes
// it again.
func writeVersionHint(ctx context.Context, store objstore.Store, p regionPaths, version uint64) {
	_ = store.Put(ctx, p.versionHint(), fmt.Appendf(nil, `{"version":%d}`, version))
}

// loadRegionManifest returns the newest region manifest, or an empty one
// (version 0) for a region never opened.
func loadRegionManifest(ctx context.Context, store objstore.Store, p regionPaths) (*tablepb.RegionManifest, error) {
	objs, err := store.List(ctx, p.manifestPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing region manifests: %w", err)
	}
	var latest uint64
	found := false
	for _, o := range objs {
		if v, ok := wal.ParseBitrevName(o.Key, ".binpb"); ok && (!found || v > latest) {
			latest, found = v, true
		}
	}
	if !found {
		return &tablepb.RegionManifest{}, nil
	}
	return readRegionManifest(ctx, store, p, latest)
}

func readRegionManifest(ctx context.Context, store objstore.Store, p regionPaths, version uint64) (*tablepb.RegionManifest, error) {
	key := p.manifest(version)
	data, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading region manifest %s: %w", key, err)
	}
	m, err := decodeRegionManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%w: region manifest %s is corrupt: %w", ErrDataLoss, key, err)
	}
	if m.Version != version {
		return nil, fmt.Errorf("%w: region manifest %s says version %d", ErrDataLoss, key, m.Version)
	}
	return m, nil
}

// A region manifest written by flightwal ends with one protobuf field that
// no Lance message uses: field manifestCRCField, wire type fixed32, holding
// the CRC-32C (Castagnoli, as WAL entries) of every byte before it. The
// file stays a valid RegionManifest: Lance's reader (prost) and any other
// protobuf reader skip the unknown field. Six bytes: the tag as a varint
// (0xc5 0x3e), then the checksum, little endian.
//
// On read, a file ending with that field is checked and the field
// stripped before parsing (so a decoded manifest equals the one that was
// written, unknown fields included). A file without it (written by Lance,
// or by flightwal before the checksum) is parsed as it is, unless its
// last six bytes hold the checksum of the bytes before them: that is a
// flightwal manifest whose tag was damaged. So any one damaged byte of a
// checksummed manifest is an error, never a different manifest.
const manifestCRCField = 1000

var manifestCRCTag = protowire.AppendTag(nil, manifestCRCField, protowire.Fixed32Type)

var manifestCRCTable = crc32.MakeTable(crc32.Castagnoli)

const manifestTrailerLen = 6 // len(manifestCRCTag) + 4

// encodeRegionManifest is the checksummed file of m.
func encodeRegionManifest(m *tablepb.RegionManifest) ([]byte, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	sum := crc32.Checksum(data, manifestCRCTable)
	data = append(data, manifestCRCTag...)
	return binary.LittleEndian.AppendUint32(data, sum), nil
}

// decodeRegionManifest checks and parses a region manifest file. Its
// errors are the reason only; the caller names the object.
func decodeRegionManifest(data []byte) (*tablepb.RegionManifest, error) {
	if n := len(data); n >= manifestTrailerLen {
		body, trailer := data[:n-manifestTrailerLen], data[n-manifestTrailerLen:]
		stored := binary.LittleEndian.Uint32(trailer[len(manifestCRCTag):])
		computed := crc32.Checksum(body, manifestCRCTable)
		switch {
		case string(trailer[:len(manifestCRCTag)]) == string(manifestCRCTag):
			if stored != computed {
				return nil, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", stored, computed)
			}
			data = body
		case stored == computed:
			return nil, fmt.Errorf("checksum trailer damaged: tag % x, want % x", trailer[:len(manifestCRCTag)], manifestCRCTag)
		}
	}
	m := &tablepb.RegionManifest{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

// commitRegionManifest writes next (whose Version must be the current
// version + 1) with put-if-absent. If that version exists, the writer that
// wrote it decides: a newer epoch means we are fenced.
func commitRegionManifest(ctx context.Context, store objstore.Store, retry objstore.RetryPolicy, p regionPaths, next *tablepb.RegionManifest) error {
	data, err := encodeRegionManifest(next)
	if err != nil {
		return err
	}
	key := p.manifest(next.Version)
	err = objstore.Retry(ctx, retry, func(ctx context.Context) error { return store.PutIfAbsent(ctx, key, data) })
	if errors.Is(err, objstore.ErrExists) {
		other, rerr := readRegionManifest(ctx, store, p, next.Version)
		if rerr != nil {
			return fmt.Errorf("region manifest %s exists and cannot be read: %w", key, rerr)
		}
		if proto.Equal(other, next) {
			writeVersionHint(ctx, store, p, next.Version)
			return nil // our own earlier attempt landed
		}
		return fmt.Errorf("%w: region manifest version %d was written by epoch %d (ours %d)", ErrFenced, next.Version, other.WriterEpoch, next.WriterEpoch)
	}
	if err != nil {
		return fmt.Errorf("writing region manifest %s: %w", key, err)
	}
	writeVersionHint(ctx, store, p, next.Version)
	return nil
}
