package lsm

import (
	"context"
	"errors"
	"fmt"
	"path"

	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// regionPaths names the objects of one region under the table's root.
type regionPaths struct{ dir string } // "_mem_wal/<region>"

func (p regionPaths) manifest(version uint64) string {
	return path.Join(p.dir, "manifest", bitrevName(version)+".binpb")
}
func (p regionPaths) manifestPrefix() string { return path.Join(p.dir, "manifest") + "/" }
func (p regionPaths) wal(pos uint64) string {
	return path.Join(p.dir, "wal", bitrevName(pos)+".arrow")
}
func (p regionPaths) walPrefix() string { return path.Join(p.dir, "wal") + "/" }

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
		if v, ok := parseBitrevName(o.Key, ".binpb"); ok && (!found || v > latest) {
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
	m := &tablepb.RegionManifest{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("region manifest %s is corrupt: %w", key, err)
	}
	if m.Version != version {
		return nil, fmt.Errorf("region manifest %s says version %d", key, m.Version)
	}
	return m, nil
}

// commitRegionManifest writes next (whose Version must be the current
// version + 1) with put-if-absent. If that version exists, the writer that
// wrote it decides: a newer epoch means we are fenced.
func commitRegionManifest(ctx context.Context, store objstore.Store, retry objstore.RetryPolicy, p regionPaths, next *tablepb.RegionManifest) error {
	data, err := proto.Marshal(next)
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
			return nil // our own earlier attempt landed
		}
		return fmt.Errorf("%w: region manifest version %d was written by epoch %d (ours %d)", ErrFenced, next.Version, other.WriterEpoch, next.WriterEpoch)
	}
	if err != nil {
		return fmt.Errorf("writing region manifest %s: %w", key, err)
	}
	return nil
}
