package lance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// Manifest file bytes (little-endian), shared/LANCE_FORMAT.md section 2:
//
//	[optional u32 len][IndexSection]           Manifest.index_section = 0
//	[u32 len][Manifest protobuf]               P = offset of this u32
//	[i64 P][u16 major=0][u16 minor=2]["LANC"]  footer
//
// Invariant: the Manifest ends exactly where the footer starts, i.e.
// u32 at P == file_len - P - 4 - manifestFooterLen.
const (
	manifestFooterLen   = 16
	manifestMajor       = 0
	manifestMinor       = 2
	magic               = "LANC"
	versionsDir         = "_versions"
	manifestSuffix      = ".manifest"
	v2NameDigits        = 20 // V2 names: zero-padded MaxUint64-version
	writerLibrary       = "flightwal"
	writerVersion       = "0.1.0"
	maxManifestBytes    = 1 << 30
	flagDeletionFiles   = 1  // fragments may carry deletion files
	flagStableRowIDs    = 2  // row-id sequences (ignored by this reader: we address by offset)
	flagTableConfig     = 8  // writer flag: Manifest.config is set
	flagBasePaths       = 16 // multi-base datasets: not supported
	flagUnknownFirstBit = 64
)

// namingScheme is how a dataset names its manifests.
type namingScheme int

const (
	namingV2 namingScheme = iota // 20-digit MaxUint64-version (default for new datasets)
	namingV1                     // plain "{version}.manifest"
)

// manifestName is the file name of version v under _versions/.
func manifestName(v uint64, scheme namingScheme) string {
	if scheme == namingV1 {
		return strconv.FormatUint(v, 10) + manifestSuffix
	}
	return fmt.Sprintf("%020d", math.MaxUint64-v) + manifestSuffix
}

// parseManifestName returns the version a _versions/ file name stands for.
// Names that are not manifests (hints, "_latest.manifest", detached or
// temporary files) return ok=false.
func parseManifestName(name string) (v uint64, scheme namingScheme, ok bool) {
	stem, found := strings.CutSuffix(name, manifestSuffix)
	if !found || stem == "" {
		return 0, 0, false
	}
	n, err := strconv.ParseUint(stem, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if len(stem) == v2NameDigits {
		if n == math.MaxUint64 {
			return 0, 0, false // version 0 does not exist
		}
		return math.MaxUint64 - n, namingV2, true
	}
	if n == 0 {
		return 0, 0, false
	}
	return n, namingV1, true
}

type versionEntry struct {
	version uint64
	scheme  namingScheme
	key     string
}

// listVersions lists the manifests of root in ascending version order.
func listVersions(ctx context.Context, store objstore.Store, root string) ([]versionEntry, error) {
	prefix := join(root, versionsDir) + "/"
	infos, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("lance: list %s: %w", prefix, err)
	}
	out := make([]versionEntry, 0, len(infos))
	for _, info := range infos {
		name := strings.TrimPrefix(info.Key, prefix)
		if strings.Contains(name, "/") {
			continue
		}
		if v, s, ok := parseManifestName(name); ok {
			out = append(out, versionEntry{version: v, scheme: s, key: info.Key})
		}
	}
	slices.SortFunc(out, func(a, b versionEntry) int {
		switch {
		case a.version < b.version:
			return -1
		case a.version > b.version:
			return 1
		}
		return 0
	})
	return out, nil
}

// ListVersions returns the dataset's versions in ascending order (empty if
// there is no dataset at root).
func ListVersions(ctx context.Context, store objstore.Store, root string) ([]uint64, error) {
	entries, err := listVersions(ctx, store, root)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(entries))
	for i, e := range entries {
		out[i] = e.version
	}
	return out, nil
}

// encodeManifest serializes m with its footer and no index section.
func encodeManifest(m *tablepb.Manifest) ([]byte, error) { return encodeManifestFile(m, nil) }

// encodeManifestFile serializes a manifest file: the index section (if
// indexes is not empty) at offset 0, then m, then the footer. It sets
// m.IndexSection to match.
func encodeManifestFile(m *tablepb.Manifest, indexes []*tablepb.IndexMetadata) ([]byte, error) {
	det := proto.MarshalOptions{Deterministic: true}
	var sec []byte
	m.IndexSection = nil
	if len(indexes) > 0 {
		var err error
		sec, err = det.Marshal(&tablepb.IndexSection{Indices: indexes})
		if err != nil {
			return nil, fmt.Errorf("lance: marshal index section: %w", err)
		}
		m.IndexSection = new(uint64) // offset 0, as Lance writes it
	}
	body, err := det.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("lance: marshal manifest: %w", err)
	}
	buf := make([]byte, 0, 8+len(sec)+len(body)+manifestFooterLen)
	if sec != nil {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(sec)))
		buf = append(buf, sec...)
	}
	p := uint64(len(buf))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(body)))
	buf = append(buf, body...)
	buf = binary.LittleEndian.AppendUint64(buf, p)
	buf = binary.LittleEndian.AppendUint16(buf, manifestMajor)
	buf = binary.LittleEndian.AppendUint16(buf, manifestMinor)
	buf = append(buf, magic...)
	return buf, nil
}

// decodeIndexSection parses the index section m points at in the manifest
// file data (nil if it has none). Entries keep the fields this package
// does not declare, so they are written back unchanged.
func decodeIndexSection(key string, data []byte, m *tablepb.Manifest) ([]*tablepb.IndexMetadata, error) {
	if m.IndexSection == nil {
		return nil, nil
	}
	off := m.GetIndexSection()
	if off > uint64(len(data)) || uint64(len(data))-off < 4 {
		return nil, corruptf(key, "index section at %d of %d bytes", off, len(data))
	}
	n := uint64(binary.LittleEndian.Uint32(data[off:]))
	if n > uint64(len(data))-off-4 {
		return nil, corruptf(key, "index section of %d bytes at %d overruns the file", n, off)
	}
	sec := &tablepb.IndexSection{}
	if err := proto.Unmarshal(data[off+4:off+4+n], sec); err != nil {
		return nil, corruptf(key, "index section protobuf: %v", err)
	}
	for _, im := range sec.GetIndices() {
		if len(im.GetUuid().GetUuid()) != 16 {
			return nil, corruptf(key, "index %q: uuid of %d bytes", im.GetName(), len(im.GetUuid().GetUuid()))
		}
	}
	return sec.GetIndices(), nil
}

// decodeManifest parses manifest file bytes; key names the file in errors.
func decodeManifest(key string, data []byte) (*tablepb.Manifest, error) {
	n := len(data)
	if n < manifestFooterLen+4 {
		return nil, corruptf(key, "manifest of %d bytes is too short", n)
	}
	foot := data[n-manifestFooterLen:]
	if string(foot[12:]) != magic {
		return nil, corruptf(key, "bad manifest magic %q", foot[12:])
	}
	if major := binary.LittleEndian.Uint16(foot[8:]); major != manifestMajor {
		return nil, corruptf(key, "unsupported manifest version %d.%d", major, binary.LittleEndian.Uint16(foot[10:]))
	}
	p := int64(binary.LittleEndian.Uint64(foot))
	if p < 0 || p > int64(n-manifestFooterLen-4) {
		return nil, corruptf(key, "manifest position %d out of range", p)
	}
	l := int64(binary.LittleEndian.Uint32(data[p:]))
	if l != int64(n)-p-4-manifestFooterLen {
		return nil, corruptf(key, "manifest length %d does not reach the footer", l)
	}
	m := &tablepb.Manifest{}
	if err := proto.Unmarshal(data[p+4:p+4+l], m); err != nil {
		return nil, corruptf(key, "manifest protobuf: %v", err)
	}
	if err := validateManifest(m); err != nil {
		return nil, corruptf(key, "%v", err)
	}
	return m, nil
}

// validateManifest checks what the reader relies on.
func validateManifest(m *tablepb.Manifest) error {
	if m.GetVersion() == 0 {
		return errors.New("version 0")
	}
	ids := make(map[uint64]bool, len(m.GetFragments()))
	for _, f := range m.GetFragments() {
		if ids[f.GetId()] {
			return fmt.Errorf("duplicate fragment id %d", f.GetId())
		}
		ids[f.GetId()] = true
		if m.MaxFragmentId != nil && f.GetId() > uint64(m.GetMaxFragmentId()) {
			return fmt.Errorf("fragment id %d above max_fragment_id %d", f.GetId(), m.GetMaxFragmentId())
		}
		for _, df := range f.GetFiles() {
			if len(df.GetFields()) != len(df.GetColumnIndices()) && len(df.GetColumnIndices()) != 0 {
				return fmt.Errorf("fragment %d file %q: %d fields but %d column indices",
					f.GetId(), df.GetPath(), len(df.GetFields()), len(df.GetColumnIndices()))
			}
			if df.GetPath() == "" || strings.Contains(df.GetPath(), "..") {
				return fmt.Errorf("fragment %d: bad data file path %q", f.GetId(), df.GetPath())
			}
		}
		if d := f.GetDeletionFile(); d != nil && d.GetNumDeletedRows() > f.GetPhysicalRows() {
			return fmt.Errorf("fragment %d: %d deleted rows of %d", f.GetId(), d.GetNumDeletedRows(), f.GetPhysicalRows())
		}
	}
	return nil
}

// checkFeatureFlags refuses datasets whose reader flags name features this
// package cannot honour.
func checkFeatureFlags(key string, m *tablepb.Manifest) error {
	f := m.GetReaderFeatureFlags()
	if f >= flagUnknownFirstBit || f&flagBasePaths != 0 {
		return fmt.Errorf("lance: %s: reader feature flags %#x: %w", key, f, ErrUnsupported)
	}
	return nil
}

// featureFlags computes reader and writer flags for a manifest we write.
func featureFlags(m *tablepb.Manifest) (reader, writer uint64) {
	for _, f := range m.GetFragments() {
		if f.GetDeletionFile() != nil {
			reader |= flagDeletionFiles
			writer |= flagDeletionFiles
			break
		}
	}
	if len(m.GetConfig()) > 0 {
		writer |= flagTableConfig
	}
	return reader, writer
}

// readManifest loads and parses one manifest file and its index section.
func readManifest(ctx context.Context, store objstore.Store, key string) (*tablepb.Manifest, []*tablepb.IndexMetadata, error) {
	data, err := store.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("lance: read %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, nil, corruptf(key, "manifest of %d bytes is too large", len(data))
	}
	m, err := decodeManifest(key, data)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFeatureFlags(key, m); err != nil {
		return nil, nil, err
	}
	indexes, err := decodeIndexSection(key, data, m)
	if err != nil {
		return nil, nil, err
	}
	return m, indexes, nil
}
