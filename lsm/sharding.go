package lsm

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lance/lancepb/tablepb"
	"github.com/flightwal/flightwal/objstore"
)

// Sharding: how the rows of a table map to its regions, as Lance's MemWAL
// defines it (a ShardingSpec of the MemWAL index). flightwal serves two of
// Lance's transforms:
//
//   - bucket(column, n): region b holds the keys whose 32-bit murmur3 hash
//     h (seed 0) gives b = (h & 0x7fffffff) % n; nulls go to bucket 0;
//   - unsharded: one region.
//
// A region's id is a version-5 UUID in LanceDB's namespace
// "LSMWRITE_SHARD01" (its 16 ASCII bytes) of the name "bucket-<b>" or
// "unsharded": LanceDB's shard writers derive the same ids, so both
// engines write the same region for the same key (checked against LanceDB
// 0.39 by TestBucketsAgreeWithLanceDB).

const (
	transformBucket    = "bucket"
	transformUnsharded = "unsharded"
	transformIdentity  = "identity"
)

// shardNamespace is LanceDB's UUID namespace for shard ids.
var shardNamespace = [16]byte([]byte("LSMWRITE_SHARD01"))

// uuidV5 is the name-based (SHA-1) UUID of name in namespace ns (RFC 9562).
func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

// formatUUID is the canonical text of u (the region's directory name).
func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// shardSpec is the sharding a table's writes follow.
type shardSpec struct {
	id        uint32 // the MemWAL spec id (Lance's region_spec_id)
	transform string // transformBucket or transformUnsharded
	col       int    // bucket: the table column hashed
	buckets   int    // bucket: the number of buckets (regions)
}

// regions is the number of regions the spec defines.
func (s shardSpec) regions() int {
	if s.transform == transformBucket {
		return s.buckets
	}
	return 1
}

// regionUUID is the id of region i (bucket i, or the one unsharded region).
func (s shardSpec) regionUUID(i int) [16]byte {
	if s.transform == transformBucket {
		return uuidV5(shardNamespace, fmt.Sprintf("bucket-%d", i))
	}
	return uuidV5(shardNamespace, "unsharded")
}

// checkBucketType reports whether the bucket transform can hash a column
// of type t (Lance's list: boolean, integers, floats, date32, time,
// timestamp, utf8, large_utf8).
func checkBucketType(t arrow.DataType) error {
	switch t.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.TIME32, arrow.TIME64,
		arrow.TIMESTAMP, arrow.STRING, arrow.LARGE_STRING:
		return nil
	}
	return fmt.Errorf("the bucket transform cannot hash a %s column", t)
}

// murmur3 (x86, 32-bit, seed 0) as Lance's bucket transform computes it.
func mixK1(k uint32) uint32    { return bits.RotateLeft32(k*0xcc9e2d51, 15) * 0x1b873593 }
func mixH1(h, k uint32) uint32 { return bits.RotateLeft32(h^k, 13)*5 + 0xe6546b64 }
func fmix32(h, n uint32) uint32 {
	h ^= n
	h = (h ^ h>>16) * 0x85ebca6b
	h = (h ^ h>>13) * 0xc2b2ae35
	return h ^ h>>16
}

func hashI32(v int32) uint32 { return fmix32(mixH1(0, mixK1(uint32(v))), 4) }

func hashI64(v int64) uint32 {
	u := uint64(v)
	return fmix32(mixH1(mixH1(0, mixK1(uint32(u))), mixK1(uint32(u>>32))), 8)
}

func hashBytes(b []byte) uint32 {
	var h uint32
	n := len(b)
	for len(b) >= 4 {
		h = mixH1(h, mixK1(binary.LittleEndian.Uint32(b)))
		b = b[4:]
	}
	for _, c := range b {
		h = mixH1(h, mixK1(uint32(int32(int8(c)))))
	}
	return fmix32(h, uint32(n))
}

func hashF32(f float32) uint32 {
	switch {
	case f == 0:
		return hashI32(0)
	case f != f:
		return hashI32(0x7fc00000)
	}
	return hashI32(int32(math.Float32bits(f)))
}

func hashF64(f float64) uint32 {
	switch {
	case f == 0:
		return hashI64(0)
	case f != f:
		return hashI64(0x7ff8000000000000)
	}
	return hashI64(int64(math.Float64bits(f)))
}

// bucketHasher returns the murmur3 hash of row i of col (0 for a null),
// for the types checkBucketType accepts.
func bucketHasher(col arrow.Array) (func(i int) uint32, error) {
	if err := checkBucketType(col.DataType()); err != nil {
		return nil, err
	}
	var h func(int) uint32
	switch a := col.(type) {
	case *array.Boolean:
		h = func(i int) uint32 {
			if a.Value(i) {
				return hashI32(1)
			}
			return hashI32(0)
		}
	case *array.Int8:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Int16:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Int32:
		h = func(i int) uint32 { return hashI32(a.Value(i)) }
	case *array.Int64:
		h = func(i int) uint32 { return hashI64(a.Value(i)) }
	case *array.Uint8:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Uint16:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Uint32:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Uint64:
		h = func(i int) uint32 { return hashI64(int64(a.Value(i))) }
	case *array.Float32:
		h = func(i int) uint32 { return hashF32(a.Value(i)) }
	case *array.Float64:
		h = func(i int) uint32 { return hashF64(a.Value(i)) }
	case *array.Date32:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Time32:
		h = func(i int) uint32 { return hashI32(int32(a.Value(i))) }
	case *array.Time64:
		h = func(i int) uint32 { return hashI64(int64(a.Value(i))) }
	case *array.Timestamp:
		h = func(i int) uint32 { return hashI64(int64(a.Value(i))) }
	case *array.String:
		h = func(i int) uint32 { return hashBytes([]byte(a.Value(i))) }
	case *array.LargeString:
		h = func(i int) uint32 { return hashBytes([]byte(a.Value(i))) }
	default:
		return nil, fmt.Errorf("the bucket transform cannot hash a %s column", col.DataType())
	}
	return func(i int) uint32 {
		if col.IsNull(i) {
			return 0
		}
		return h(i)
	}, nil
}

// bucketOf maps a murmur3 hash to one of n buckets, as Lance does.
func bucketOf(h uint32, n int) int { return int(h&math.MaxInt32) % n }

// route returns the region of each row of col under s.
func (s shardSpec) route(col arrow.Array) ([]int, error) {
	out := make([]int, col.Len())
	if s.transform != transformBucket {
		return out, nil
	}
	hash, err := bucketHasher(col)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = bucketOf(hash(i), s.buckets)
	}
	return out, nil
}

// regionIdent names one region of a table.
type regionIdent struct {
	index  int    // in the table's region list (bucket number)
	dir    string // "_mem_wal/<uuid>" ("_mem_wal/<index>" in a legacy layout)
	uuid   []byte // Lance's region_id (nil in a legacy layout)
	specID uint32 // Lance's region_spec_id
}

// mergedKey is the base manifest's config key recording how far the
// region's generations are merged (configMergedPrefix).
func (id regionIdent) mergedKey() string {
	if id.uuid == nil {
		return configMergedPrefix + strconv.Itoa(id.index)
	}
	return configMergedPrefix + strings.TrimPrefix(id.dir, "_mem_wal/")
}

// regionLayout is how a table names and routes its regions.
type regionLayout struct {
	spec    shardSpec
	keyHash func(Key) uint32 // bucket spec on the primary key: the murmur3 of a key
	// legacy: a table flightwal created before it spoke Lance's MemWAL
	// layout: regions named by their index, keys routed by FNV-1a
	// (Key.hash) mod the number of regions.
	legacy bool
	n      int
	// indexed: the base table's MemWAL index holds the spec (and takes
	// merge progress); else it came from flightwal's config.
	indexed bool
	idents  []regionIdent
}

// ident names region i.
func (l regionLayout) ident(i int) regionIdent {
	if i < len(l.idents) {
		return l.idents[i]
	}
	if l.legacy {
		return regionIdent{index: i, dir: "_mem_wal/" + strconv.Itoa(i)}
	}
	u := l.spec.regionUUID(i)
	return regionIdent{index: i, dir: "_mem_wal/" + formatUUID(u), uuid: u[:], specID: l.spec.id}
}

// defaultSpec is the spec of a table flightwal creates with n regions: a
// bucket spec on the primary key, or unsharded for one region of a key
// the bucket transform cannot hash (binary) or of an append-only table
// (whose n regions take streams round robin, named as n buckets).
func defaultSpec(schema *arrow.Schema, pkCol, n int) (shardSpec, error) {
	const specID = 1
	if pkCol < 0 {
		if n == 1 {
			return shardSpec{id: specID, transform: transformUnsharded}, nil
		}
		return shardSpec{id: specID, transform: transformBucket, col: -1, buckets: n}, nil
	}
	if err := checkBucketType(schema.Field(pkCol).Type); err != nil {
		if n == 1 {
			return shardSpec{id: specID, transform: transformUnsharded}, nil
		}
		return shardSpec{}, fmt.Errorf("%w: %d regions need a bucket spec on the primary key, and %w", ErrInvalidArgument, n, err)
	}
	return shardSpec{id: specID, transform: transformBucket, col: pkCol, buckets: n}, nil
}

// legacyLayout reports whether the table under store was written in the
// legacy layout: its region 0 (claimed by the first write to any region's
// table) has manifests under "_mem_wal/0/".
func legacyLayout(ctx context.Context, store objstore.Store) (bool, error) {
	objs, err := store.List(ctx, "_mem_wal/0/manifest/")
	if err != nil {
		return false, fmt.Errorf("listing legacy region manifests: %w", err)
	}
	return len(objs) > 0, nil
}

// openLayout is the region layout of a table: the spec of its MemWAL
// index if the base table has one, else legacy if its files say so, else
// the default spec for the n regions of flightwal's config.
func openLayout(ctx context.Context, store objstore.Store, ds *lance.Dataset, schema *arrow.Schema, pkCol, n int) (regionLayout, error) {
	det, err := ds.MemWalIndex()
	if err != nil {
		if errors.Is(err, lance.ErrMemWalIndex) {
			return regionLayout{}, fmt.Errorf("%w: %w", ErrFailedPrecondition, err)
		}
		return regionLayout{}, fmt.Errorf("%w: %w", ErrDataLoss, err)
	}
	if det != nil {
		spec, err := specFromIndex(det, ds, schema, pkCol)
		if err != nil {
			return regionLayout{}, err
		}
		l := newLayout(schema, pkCol, spec)
		l.indexed = true
		return l, nil
	}
	legacy, err := legacyLayout(ctx, store)
	if err != nil {
		return regionLayout{}, wrapStoreErr(err)
	}
	if legacy {
		l := regionLayout{legacy: true, n: n}
		for i := range n {
			l.idents = append(l.idents, l.ident(i))
		}
		return l, nil
	}
	spec, err := defaultSpec(schema, pkCol, n)
	if err != nil {
		return regionLayout{}, err
	}
	return newLayout(schema, pkCol, spec), nil
}

// specFromIndex is the spec of a MemWAL index flightwal can serve: one
// sharding spec, bucket on the primary key or unsharded. Anything else
// (identity, several fields or specs, a bucket on another column or of a
// type the transform cannot hash) is ErrFailedPrecondition naming it.
func specFromIndex(det *tablepb.MemWalIndexDetails, ds *lance.Dataset, schema *arrow.Schema, pkCol int) (shardSpec, error) {
	refuse := func(format string, args ...any) (shardSpec, error) {
		return shardSpec{}, fmt.Errorf("%w: the table's MemWAL spec cannot be served: %s", ErrFailedPrecondition, fmt.Sprintf(format, args...))
	}
	specs := det.GetShardingSpecs()
	if len(specs) != 1 {
		return refuse("%d sharding specs (flightwal serves one)", len(specs))
	}
	sp := specs[0]
	if len(sp.GetFields()) != 1 {
		return refuse("spec %d has %d sharding fields (flightwal serves one)", sp.GetSpecId(), len(sp.GetFields()))
	}
	f := sp.GetFields()[0]
	switch f.GetTransform() {
	case transformUnsharded:
		return shardSpec{id: sp.GetSpecId(), transform: transformUnsharded}, nil
	case transformBucket:
	default:
		col := "?"
		if ids := f.GetSourceIds(); len(ids) == 1 {
			col = columnOfField(ds, schema, ids[0])
		}
		return refuse("transform %q on column %s (flightwal serves bucket on the primary key, and unsharded)", f.GetTransform(), col)
	}
	ids := f.GetSourceIds()
	if len(ids) != 1 {
		return refuse("bucket over %d columns", len(ids))
	}
	if fid, ok := ds.FieldID(schema.Field(max(pkCol, 0)).Name); pkCol < 0 || !ok || fid != ids[0] {
		return refuse("bucket on column %s, not the primary key", columnOfField(ds, schema, ids[0]))
	}
	if err := checkBucketType(schema.Field(pkCol).Type); err != nil {
		return refuse("%v", err)
	}
	nb, err := strconv.Atoi(f.GetParameters()["num_buckets"])
	if err != nil || nb < 1 || nb > MaxRegions {
		return refuse("num_buckets %q (flightwal serves 1 to %d)", f.GetParameters()["num_buckets"], MaxRegions)
	}
	return shardSpec{id: sp.GetSpecId(), transform: transformBucket, col: pkCol, buckets: nb}, nil
}

// columnOfField names the column with Lance field id id ("field <id>" if
// none has it).
func columnOfField(ds *lance.Dataset, schema *arrow.Schema, id int32) string {
	for _, f := range schema.Fields() {
		if fid, ok := ds.FieldID(f.Name); ok && fid == id {
			return fmt.Sprintf("%q (%s)", f.Name, f.Type)
		}
	}
	return fmt.Sprintf("field %d", id)
}

// memWalIndex is the MemWAL index details of spec on a table whose
// primary key has Lance field id pkField, as LanceDB's setLsmWriteSpec
// writes them (no maintained indexes, no writer defaults).
func (s shardSpec) memWalIndex(pkField int32) *tablepb.MemWalIndexDetails {
	f := &tablepb.ShardingField{FieldId: "bucket", Transform: s.transform, ResultType: "int32"}
	if s.transform == transformBucket {
		f.SourceIds = []int32{pkField}
		f.Parameters = map[string]string{"num_buckets": strconv.Itoa(s.buckets)}
	}
	return &tablepb.MemWalIndexDetails{
		NumShards:     uint32(s.regions()),
		ShardingSpecs: []*tablepb.ShardingSpec{{SpecId: s.id, Fields: []*tablepb.ShardingField{f}}},
	}
}

// setCompacted records in det that region id merged up to generation gen
// into the base table (Lance's compacted_sstables; it never goes back).
func setCompacted(det *tablepb.MemWalIndexDetails, id []byte, gen uint64) {
	for _, c := range det.GetCompactedSstables() {
		if string(c.GetShardId().GetUuid()) == string(id) {
			c.Generation = max(c.Generation, gen)
			return
		}
	}
	det.CompactedSstables = append(det.CompactedSstables, &tablepb.CompactedSsTable{ShardId: &tablepb.UUID{Uuid: id}, Generation: gen})
}

// newLayout is the layout of spec for a table of schema.
func newLayout(schema *arrow.Schema, pkCol int, spec shardSpec) regionLayout {
	l := regionLayout{spec: spec, n: spec.regions()}
	if spec.transform == transformBucket && pkCol >= 0 && spec.col == pkCol {
		l.keyHash = keyHasher(schema.Field(pkCol).Type)
	}
	for i := range l.n {
		l.idents = append(l.idents, l.ident(i))
	}
	return l
}

// keyHasher is the bucket transform's murmur3 of a primary-key value of
// type t, read back from its Key (nil for a type it cannot hash).
func keyHasher(t arrow.DataType) func(Key) uint32 {
	signed := func(k Key) int64 { return int64(k.n ^ 1<<63) }
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.DATE32, arrow.TIME32:
		return func(k Key) uint32 { return hashI32(int32(signed(k))) }
	case arrow.INT64, arrow.TIMESTAMP, arrow.TIME64:
		return func(k Key) uint32 { return hashI64(signed(k)) }
	case arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return func(k Key) uint32 { return hashI32(int32(uint32(k.n))) }
	case arrow.UINT64:
		return func(k Key) uint32 { return hashI64(int64(k.n)) }
	case arrow.STRING, arrow.LARGE_STRING:
		return func(k Key) uint32 { return hashBytes([]byte(k.s)) }
	}
	return nil
}

// keyRegion is the region that holds primary key k.
func (l regionLayout) keyRegion(k Key, kt keyType) int {
	switch {
	case l.n == 1:
		return 0
	case l.legacy:
		return int(kt.hash(k) % uint64(l.n))
	case l.keyHash != nil:
		return bucketOf(l.keyHash(k), l.n)
	}
	return 0
}

// Buckets returns the bucket, of n, that Lance's bucket transform gives
// each value of col: the region of each key under a bucket spec with n
// buckets (clients pre-shard LanceDB's mergeInsert calls by it).
func Buckets(col arrow.Array, n int) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d buckets", ErrInvalidArgument, n)
	}
	return shardSpec{transform: transformBucket, buckets: n}.route(col)
}
