package lance

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
)

// The MemWAL index is Lance's system index that configures a table's
// MemWAL and records its merge progress: one index entry named
// MemWalIndexName with no fields and no files, whose index_details is a
// MemWalIndexDetails (lance/proto/mem_wal.proto). LanceDB 0.39 writes it
// with index_version 0.

// MemWalIndexName names the MemWAL index entry.
const MemWalIndexName = "__lance_mem_wal"

// MemWalIndexVersion is the index_version of the MemWAL index this
// package reads and writes.
const MemWalIndexVersion = 0

const memWalTypeURL = "/lance.table.MemWalIndexDetails"

// ErrMemWalIndex: the MemWAL index is of a version or kind this package
// cannot read.
var ErrMemWalIndex = errors.New("unsupported MemWAL index")

// MemWalIndex returns the version's MemWAL index details, or nil if it
// has none. An entry of another index_version or details type is
// ErrMemWalIndex; details that do not parse are ErrCorrupt.
func (d *Dataset) MemWalIndex() (*tablepb.MemWalIndexDetails, error) {
	for _, im := range d.indexes {
		if im.GetName() != MemWalIndexName {
			continue
		}
		return decodeMemWalIndex(im)
	}
	return nil, nil
}

func decodeMemWalIndex(im *tablepb.IndexMetadata) (*tablepb.MemWalIndexDetails, error) {
	if v := im.GetIndexVersion(); v != MemWalIndexVersion {
		return nil, fmt.Errorf("lance: %w: index %s has index_version %d (this server reads %d)", ErrMemWalIndex, MemWalIndexName, v, MemWalIndexVersion)
	}
	details := im.GetIndexDetails()
	if details.GetTypeUrl() != memWalTypeURL {
		return nil, fmt.Errorf("lance: %w: index %s has details %q, want %q", ErrMemWalIndex, MemWalIndexName, details.GetTypeUrl(), memWalTypeURL)
	}
	det := &tablepb.MemWalIndexDetails{}
	if err := proto.Unmarshal(details.GetValue(), det); err != nil {
		return nil, fmt.Errorf("lance: index %s: details: %v: %w", MemWalIndexName, err, ErrCorrupt)
	}
	return det, nil
}

// NewMemWalIndex is the MemWAL index entry holding det, as LanceDB writes
// it: a new uuid, no fields, no fragment bitmap, built from version.
func NewMemWalIndex(det *tablepb.MemWalIndexDetails, version uint64) (*tablepb.IndexMetadata, error) {
	value, err := proto.MarshalOptions{Deterministic: true}.Marshal(det)
	if err != nil {
		return nil, fmt.Errorf("lance: encoding %s: %w", MemWalIndexName, err)
	}
	iv := int32(MemWalIndexVersion)
	created := uint64(time.Now().UnixMilli())
	bitmap, err := FragmentBitmap()
	if err != nil {
		return nil, err
	}
	return &tablepb.IndexMetadata{
		Uuid:           &tablepb.UUID{Uuid: NewIndexUUID()},
		FragmentBitmap: bitmap,
		Name:           MemWalIndexName,
		DatasetVersion: version,
		IndexDetails:   &anypb.Any{TypeUrl: memWalTypeURL, Value: value},
		IndexVersion:   &iv,
		CreatedAt:      &created,
	}, nil
}

// UpdateMemWalIndex edits the version's MemWAL index in tx's commit: fn
// gets a copy of the details of the version the commit lands on (after a
// rebase, another writer's) and changes it in place. The entry keeps its
// uuid and everything fn does not change; a version without the index is
// left without it.
func (tx *Transaction) UpdateMemWalIndex(fn func(*tablepb.MemWalIndexDetails) error) {
	tx.UpdateIndex(MemWalIndexName, func(cur []*tablepb.IndexMetadata) ([]*tablepb.IndexMetadata, error) {
		for _, im := range cur {
			det, err := decodeMemWalIndex(im)
			if err != nil {
				return nil, err
			}
			if err := fn(det); err != nil {
				return nil, err
			}
			value, err := proto.MarshalOptions{Deterministic: true}.Marshal(det)
			if err != nil {
				return nil, fmt.Errorf("lance: encoding %s: %w", MemWalIndexName, err)
			}
			im.IndexDetails = &anypb.Any{TypeUrl: memWalTypeURL, Value: value}
		}
		return cur, nil
	})
}

// FieldID is the Lance field id of the top-level column name.
func (d *Dataset) FieldID(name string) (int32, bool) {
	for _, f := range d.manifest.GetFields() {
		if f.GetParentId() == -1 && f.GetName() == name {
			return f.GetId(), true
		}
	}
	return 0, false
}
