package lance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// Index entries live in the manifest's index section
// (LANCE_INDEXES.md section 1). Every commit carries every entry of the
// version it lands on into the new manifest: Lance's indexes, its system
// indexes (MemWAL, fragment reuse) and entries of kinds this package does
// not know, which keep their details and unknown fields byte for byte.
// An entry a commit did not edit is carried unchanged, its fragment bitmap
// included: as in Lance, the bitmap names the fragments the index holds
// row addresses for, whether or not they still exist. Lance's readers
// block the rows of a listed fragment that is gone; narrowing the bitmap
// when a compaction removes a fragment would let an index hand out
// addresses of a fragment that no longer exists (LanceDB then fails the
// query: "take ... fragment id N does not exist").

// Indexes returns copies of the version's index entries in manifest order.
// Several entries may share a name (the deltas of one index).
func (d *Dataset) Indexes() []*tablepb.IndexMetadata {
	out := make([]*tablepb.IndexMetadata, len(d.indexes))
	for i, im := range d.indexes {
		out[i] = proto.Clone(im).(*tablepb.IndexMetadata)
	}
	return out
}

// IndexFragments decodes an entry's fragment bitmap (empty if it has none).
func IndexFragments(im *tablepb.IndexMetadata) (*roaring.Bitmap, error) {
	bm := roaring.New()
	if len(im.GetFragmentBitmap()) == 0 {
		return bm, nil
	}
	if err := bm.UnmarshalBinary(im.GetFragmentBitmap()); err != nil {
		return nil, fmt.Errorf("lance: index %q: fragment bitmap: %v: %w", im.GetName(), err, ErrCorrupt)
	}
	return bm, nil
}

// FragmentBitmap encodes fragment ids as IndexMetadata.fragment_bitmap
// (32-bit Roaring, portable format, no run containers: as Lance writes it).
func FragmentBitmap(ids ...uint64) ([]byte, error) {
	bm := roaring.New()
	for _, id := range ids {
		if id > uint64(^uint32(0)) {
			return nil, fmt.Errorf("lance: fragment id %d does not fit a fragment bitmap", id)
		}
		bm.Add(uint32(id))
	}
	return bm.ToBytes()
}

// IndexKind is the message name of an entry's index_details type URL
// ("lance.table.BTreeIndexDetails"), "" for a legacy entry without details.
func IndexKind(im *tablepb.IndexMetadata) string {
	u := im.GetIndexDetails().GetTypeUrl()
	return u[strings.LastIndex(u, "/")+1:]
}

// NewIndexUUID returns a random index uuid (16 bytes, version 4).
func NewIndexUUID() []byte {
	u := make([]byte, 16)
	_, _ = rand.Read(u)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// UUIDString formats a 16-byte uuid as Lance names index directories and
// transaction files: lowercase, hyphenated.
func UUIDString(u []byte) string {
	h := hex.EncodeToString(u)
	if len(h) != 32 {
		return h
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// indexEdit is one change a Transaction makes to the index section.
type indexEdit struct {
	removeName string // remove every entry of this name
	removeUUID []byte // remove the entry with this uuid
	put        *tablepb.IndexMetadata
	updateName string
	update     func([]*tablepb.IndexMetadata) ([]*tablepb.IndexMetadata, error)
}

// PutIndex adds an index entry, replacing the entry with the same uuid if
// the version has one. im needs a 16-byte uuid and a name; the caller
// writes its files under _indices/<UUIDString(uuid)>/ before committing.
func (tx *Transaction) PutIndex(im *tablepb.IndexMetadata) {
	tx.indexEdits = append(tx.indexEdits, indexEdit{removeUUID: im.GetUuid().GetUuid(), put: proto.Clone(im).(*tablepb.IndexMetadata)})
}

// ReplaceIndex removes every entry named name (all its deltas) and adds im.
func (tx *Transaction) ReplaceIndex(name string, im *tablepb.IndexMetadata) {
	tx.indexEdits = append(tx.indexEdits, indexEdit{removeName: name, put: proto.Clone(im).(*tablepb.IndexMetadata)})
}

// RemoveIndex removes every entry named name; none is not an error.
func (tx *Transaction) RemoveIndex(name string) {
	tx.indexEdits = append(tx.indexEdits, indexEdit{removeName: name})
}

// RemoveIndexUUID removes the entry with the given uuid; none is not an
// error.
func (tx *Transaction) RemoveIndexUUID(uuid []byte) {
	tx.indexEdits = append(tx.indexEdits, indexEdit{removeUUID: slices.Clone(uuid)})
}

// UpdateIndex replaces the entries named name with what fn returns, given
// copies of those entries in the version the commit lands on: after a
// rebase onto another writer's commit, fn sees that writer's entries
// (read-modify-write of a system index such as MemWAL's). fn runs once per
// commit attempt; an error from it fails the commit. The entries it
// returns may have any name.
func (tx *Transaction) UpdateIndex(name string, fn func(current []*tablepb.IndexMetadata) ([]*tablepb.IndexMetadata, error)) {
	tx.indexEdits = append(tx.indexEdits, indexEdit{updateName: name, update: fn})
}

// buildIndexes applies tx's index edits to current (the index section of
// the version being committed on).
func (tx *Transaction) buildIndexes(current []*tablepb.IndexMetadata) ([]*tablepb.IndexMetadata, error) {
	out := make([]*tablepb.IndexMetadata, 0, len(current)+len(tx.indexEdits))
	for _, im := range current {
		out = append(out, proto.Clone(im).(*tablepb.IndexMetadata))
	}
	for _, e := range tx.indexEdits {
		if e.removeName != "" || e.removeUUID != nil {
			out = slices.DeleteFunc(out, func(im *tablepb.IndexMetadata) bool {
				return (e.removeName != "" && im.GetName() == e.removeName) ||
					(e.removeUUID != nil && string(im.GetUuid().GetUuid()) == string(e.removeUUID))
			})
		}
		if e.put != nil {
			out = append(out, proto.Clone(e.put).(*tablepb.IndexMetadata))
		}
		if e.update != nil {
			var mine []*tablepb.IndexMetadata
			out = slices.DeleteFunc(out, func(im *tablepb.IndexMetadata) bool {
				if im.GetName() == e.updateName {
					mine = append(mine, proto.Clone(im).(*tablepb.IndexMetadata))
					return true
				}
				return false
			})
			repl, err := e.update(mine)
			if err != nil {
				return nil, fmt.Errorf("lance: commit: updating index %q: %w", e.updateName, err)
			}
			for _, im := range repl {
				out = append(out, proto.Clone(im).(*tablepb.IndexMetadata))
			}
		}
	}
	seen := make(map[string]bool, len(out))
	for _, im := range out {
		u := im.GetUuid().GetUuid()
		if len(u) != 16 {
			return nil, fmt.Errorf("lance: commit: index %q has a uuid of %d bytes, want 16", im.GetName(), len(u))
		}
		if im.GetName() == "" {
			return nil, fmt.Errorf("lance: commit: index %s has no name", UUIDString(u))
		}
		if seen[string(u)] {
			return nil, fmt.Errorf("lance: commit: two index entries with uuid %s", UUIDString(u))
		}
		seen[string(u)] = true
	}
	return out, nil
}
