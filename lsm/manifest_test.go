package lsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

func testRegionManifest() *tablepb.RegionManifest {
	return &tablepb.RegionManifest{
		Version: 3, WriterEpoch: 2, ReplayAfterWalEntryPosition: 9, WalEntryPositionLastSeen: 11,
		CurrentGeneration: 2,
		FlushedGenerations: []*tablepb.FlushedGeneration{
			{Generation: 1, Path: "ab12_gen_1"}, {Generation: 2, Path: "cd34_gen_2"},
		},
		RegionId: &tablepb.UUID{Uuid: []byte("0123456789abcdef")},
	}
}

// TestRegionManifestChecksum pins the file layout: a plain RegionManifest
// followed by field 1000 (fixed32) holding the CRC-32C of what precedes
// it, which any protobuf reader skips as an unknown field.
func TestRegionManifestChecksum(t *testing.T) {
	m := testRegionManifest()
	data, err := encodeRegionManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := proto.Marshal(m)
	n := len(data)
	if n != len(plain)+6 || !bytes.Equal(data[:n-6], plain) {
		t.Fatalf("file is not the message plus a 6-byte trailer: %d vs %d bytes", n, len(plain))
	}
	if !bytes.Equal(data[n-6:n-4], []byte{0xc5, 0x3e}) {
		t.Fatalf("trailer tag % x", data[n-6:n-4])
	}
	if got, want := binary.LittleEndian.Uint32(data[n-4:]), crc32.Checksum(plain, crc32.MakeTable(crc32.Castagnoli)); got != want {
		t.Fatalf("trailer checksum %08x, want CRC-32C %08x", got, want)
	}

	// A reader that knows nothing of the trailer (as Lance's) gets the same
	// manifest, plus one unknown fixed32 field 1000.
	var other tablepb.RegionManifest
	if err := proto.Unmarshal(data, &other); err != nil {
		t.Fatal(err)
	}
	unknown := other.ProtoReflect().GetUnknown()
	num, typ, tagLen := protowire.ConsumeTag(unknown)
	if num != 1000 || typ != protowire.Fixed32Type || len(unknown) != tagLen+4 {
		t.Fatalf("unknown fields seen by a plain reader: % x", unknown)
	}
	other.ProtoReflect().SetUnknown(nil)
	if !proto.Equal(&other, m) {
		t.Fatalf("plain reader decoded %v, want %v", &other, m)
	}

	// Our reader strips the trailer: the result equals what was written.
	got, err := decodeRegionManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, m) {
		t.Fatalf("decoded %v, want %v", got, m)
	}

	// Through a store: commit, read back, and a second commit of the same
	// manifest is our own earlier attempt, while a different one is fenced.
	ctx := context.Background()
	store := objstore.NewMem()
	p := regionPaths{dir: "_mem_wal/0"}
	if err := commitRegionManifest(ctx, store, objstore.RetryPolicy{}, p, m); err != nil {
		t.Fatal(err)
	}
	if raw, _ := store.Get(ctx, p.manifest(3)); !bytes.Equal(raw, data) {
		t.Fatal("stored file differs from encodeRegionManifest")
	}
	back, err := loadRegionManifest(ctx, store, p)
	if err != nil || !proto.Equal(back, m) {
		t.Fatalf("loaded %v, %v", back, err)
	}
	if err := commitRegionManifest(ctx, store, objstore.RetryPolicy{}, p, m); err != nil {
		t.Fatalf("re-commit of the same manifest: %v", err)
	}
	newer := proto.Clone(m).(*tablepb.RegionManifest)
	newer.WriterEpoch++
	if err := commitRegionManifest(ctx, store, objstore.RetryPolicy{}, p, newer); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit over another epoch's manifest: %v, want ErrFenced", err)
	}
}

// TestRegionManifestFlippedByte damages each byte of a stored manifest in
// every possible way: every read must fail with ErrDataLoss naming the
// object, never return a manifest (CRC-32C catches every one-byte error
// in the message and checksum; a damaged tag is caught because the bytes
// after it still hold the checksum of the bytes before it).
func TestRegionManifestFlippedByte(t *testing.T) {
	ctx := context.Background()
	m := testRegionManifest()
	good, err := encodeRegionManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	p := regionPaths{dir: "_mem_wal/1"}
	key := p.manifest(m.Version)
	store := objstore.NewMem()
	checks := 0
	for pos := range good {
		for mask := 1; mask < 256; mask++ {
			bad := bytes.Clone(good)
			bad[pos] ^= byte(mask)
			if err := store.Put(ctx, key, bad); err != nil {
				t.Fatal(err)
			}
			got, err := readRegionManifest(ctx, store, p, m.Version)
			if err == nil {
				t.Fatalf("byte %d ^ %#02x: read a manifest from a damaged file: %v", pos, mask, got)
			}
			if !errors.Is(err, ErrDataLoss) || !strings.Contains(err.Error(), key) {
				t.Fatalf("byte %d ^ %#02x: error %q does not wrap ErrDataLoss or name %s", pos, mask, err, key)
			}
			checks++
		}
	}
	// Cut short inside the trailer: an error. Without the whole trailer
	// it is a plain manifest, and the same one.
	for cut := 1; cut <= 6; cut++ {
		if err := store.Put(ctx, key, good[:len(good)-cut]); err != nil {
			t.Fatal(err)
		}
		got, err := readRegionManifest(ctx, store, p, m.Version)
		if cut < 6 && !errors.Is(err, ErrDataLoss) {
			t.Fatalf("cut %d bytes: %v, %v", cut, got, err)
		}
		if cut == 6 && (err != nil || !proto.Equal(got, m)) {
			t.Fatalf("manifest without its trailer: %v, %v", got, err)
		}
	}
	t.Logf("%d damaged files, each refused", checks)
}

// TestRegionManifestWithoutChecksum: manifests written by Lance or by
// flightwal before the checksum (plain protobuf) are read as before, and
// one that does not parse is data loss.
func TestRegionManifestWithoutChecksum(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMem()
	p := regionPaths{dir: "_mem_wal/2"}
	for _, m := range []*tablepb.RegionManifest{
		testRegionManifest(),
		{Version: 1, WriterEpoch: 1},
		{Version: 7, RegionSpecId: 3, FlushedGenerations: []*tablepb.FlushedGeneration{{Generation: 5, Path: "x_gen_5"}}},
	} {
		plain, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, p.manifest(m.Version), plain); err != nil {
			t.Fatal(err)
		}
		got, err := readRegionManifest(ctx, store, p, m.Version)
		if err != nil {
			t.Fatalf("plain manifest version %d: %v", m.Version, err)
		}
		if !proto.Equal(got, m) {
			t.Fatalf("plain manifest decoded as %v, want %v", got, m)
		}
	}
	// The newest is loaded; committing the next version adds a checksum.
	cur, err := loadRegionManifest(ctx, store, p)
	if err != nil || cur.Version != 7 {
		t.Fatalf("loaded %v, %v", cur, err)
	}
	next := proto.Clone(cur).(*tablepb.RegionManifest)
	next.Version++
	if err := commitRegionManifest(ctx, store, objstore.RetryPolicy{}, p, next); err != nil {
		t.Fatal(err)
	}
	raw, _ := store.Get(ctx, p.manifest(8))
	if !bytes.Equal(raw[len(raw)-6:len(raw)-4], manifestCRCTag) {
		t.Fatal("a manifest committed after a plain one has no checksum")
	}

	key := p.manifest(9)
	for _, bad := range [][]byte{{0xff}, {0x0a, 0x05, 0x01}, []byte("not a protobuf at all")} {
		if err := store.Put(ctx, key, bad); err != nil {
			t.Fatal(err)
		}
		_, err := readRegionManifest(ctx, store, p, 9)
		if !errors.Is(err, ErrDataLoss) || !strings.Contains(err.Error(), key) {
			t.Fatalf("unparsable manifest % x: %v", bad, err)
		}
	}
	// A manifest under another version's name is not the one asked for.
	plain, _ := proto.Marshal(&tablepb.RegionManifest{Version: 4})
	store.Put(ctx, key, plain)
	if _, err := readRegionManifest(ctx, store, p, 9); !errors.Is(err, ErrDataLoss) || !strings.Contains(err.Error(), "says version 4") {
		t.Fatalf("misnamed manifest: %v", err)
	}
}

// FuzzRegionManifest: the reader never panics; whatever it accepts
// re-encodes (with a checksum) to an equal manifest, and that file with
// any one byte damaged is refused.
func FuzzRegionManifest(f *testing.F) {
	m := testRegionManifest()
	enc, _ := encodeRegionManifest(m)
	plain, _ := proto.Marshal(m)
	f.Add(enc, uint16(0), byte(1))
	f.Add(plain, uint16(3), byte(0x80))
	f.Add([]byte{}, uint16(0), byte(0xff))
	f.Fuzz(func(t *testing.T, data []byte, pos uint16, mask byte) {
		got, err := decodeRegionManifest(data)
		if err != nil {
			return
		}
		again, err := encodeRegionManifest(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeRegionManifest(again)
		if err != nil || !proto.Equal(got, back) {
			t.Fatalf("re-encoded manifest differs: %v", err)
		}
		if mask == 0 {
			return
		}
		again[int(pos)%len(again)] ^= mask
		if bad, err := decodeRegionManifest(again); err == nil {
			t.Fatalf("byte %d ^ %#02x of a checksummed manifest: decoded %v", int(pos)%len(again), mask, bad)
		}
	})
}
