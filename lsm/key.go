package lsm

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Key is a primary-key value in a form that is comparable (usable as a map
// key) and totally ordered in the column's own order. Integer keys live in
// n (signed values with the sign bit flipped so unsigned order equals signed
// order); string and binary keys live in s.
type Key struct {
	n uint64
	s string
}

// Less orders keys: by n, then by s.
func (k Key) Less(o Key) bool {
	if k.n != o.n {
		return k.n < o.n
	}
	return k.s < o.s
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

// hash is FNV-1a over the key's canonical bytes: 8 little-endian bytes of
// the integer value (two's complement for signed types), or the bytes of a
// string or binary value. Legacy tables routed keys by hash mod regions (a
// table migrating from that layout reads its regions by it), so it must
// never change for existing tables.
func (kt keyType) hash(k Key) uint64 {
	h := uint64(fnvOffset)
	if kt.str {
		for i := 0; i < len(k.s); i++ {
			h ^= uint64(k.s[i])
			h *= fnvPrime
		}
		return h
	}
	v := k.n
	if kt.signed {
		v ^= 1 << 63 // back to the two's-complement bits of the int64
	}
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// keyType describes how one primary-key column maps to Key.
type keyType struct {
	signed bool
	str    bool
}

// pkKeyType validates that t can be a primary key and describes it.
func pkKeyType(t arrow.DataType) (keyType, error) {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.DATE32, arrow.DATE64,
		arrow.TIME32, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		return keyType{signed: true}, nil
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return keyType{}, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		return keyType{str: true}, nil
	}
	return keyType{}, fmt.Errorf("%w: type %s cannot be a primary key (want an integer, date32/64, time32/64, timestamp, duration, string, binary or fixed_size_binary column; floats, decimals, dictionaries and nested types are not keys)", ErrInvalidArgument, t)
}

func signedKey(v int64) Key    { return Key{n: uint64(v) ^ (1 << 63)} }
func unsignedKey(v uint64) Key { return Key{n: v} }

// stringKey copies s: keys outlive the Arrow buffers they were read from.
func stringKey(s string) Key { return Key{s: strings.Clone(s)} }

// keyReader returns a function reading row i of a primary-key column as a
// Key. The column's type was checked by pkKeyType.
func keyReader(arr arrow.Array) func(i int) Key {
	switch a := arr.(type) {
	case *array.Int8:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Int16:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Int32:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Int64:
		return func(i int) Key { return signedKey(a.Value(i)) }
	case *array.Date32:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Timestamp:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Date64:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Time32:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Time64:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Duration:
		return func(i int) Key { return signedKey(int64(a.Value(i))) }
	case *array.Uint8:
		return func(i int) Key { return unsignedKey(uint64(a.Value(i))) }
	case *array.Uint16:
		return func(i int) Key { return unsignedKey(uint64(a.Value(i))) }
	case *array.Uint32:
		return func(i int) Key { return unsignedKey(uint64(a.Value(i))) }
	case *array.Uint64:
		return func(i int) Key { return unsignedKey(a.Value(i)) }
	case *array.String:
		return func(i int) Key { return stringKey(a.Value(i)) }
	case *array.LargeString:
		return func(i int) Key { return stringKey(a.Value(i)) }
	case *array.Binary:
		return func(i int) Key { return stringKey(string(a.Value(i))) }
	case *array.LargeBinary:
		return func(i int) Key { return stringKey(string(a.Value(i))) }
	case *array.FixedSizeBinary:
		return func(i int) Key { return stringKey(string(a.Value(i))) }
	}
	panic(fmt.Sprintf("lsm: keyReader on unchecked type %s", arr.DataType()))
}
