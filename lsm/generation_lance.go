package lsm

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/lance"
	"github.com/flightwal/flightwal/lsm/wal"
	"github.com/flightwal/flightwal/objstore"
)

// A flushed generation, as Lance's MemWAL writes one, carries beside its
// dataset what LanceDB's LSM reader (useLsm) opens before it reads a row:
//
//	<generation>/_pk_index/page_data.lance    values (the key column's type), ids uint64
//	<generation>/_pk_index/page_lookup.lance  min, max, null_count uint32, page_idx uint32
//	<generation>/bloom_filter.bin             32 KiB split-block bloom filter
//
// _pk_index is a BTREE index of the primary key (shared/LANCE_INDEXES.md
// section 2): every row's key sorted, with its row address (fragment << 32
// | offset), cut into pages of pkIndexPageRows; the lookup file holds each
// page's range. Without it LanceDB 0.39's useLsm queries fail ("Not found:
// .../_pk_index/page_lookup.lance") on any table holding a flushed
// generation flightwal wrote. Deletes go into the dataset as _tombstone
// rows (withTombstoneRows), so LanceDB sees them too.
//
// The bloom filter is written with every bit set: LanceDB's hash for it is
// not known here (xxhash64 of the key's bytes, Parquet's split-block
// layout, did not reproduce LanceDB's bits), and a full filter answers
// "maybe" for every key, which LanceDB then settles through _pk_index
// (TestLanceDBReadsFlightwalGenerations pins that newer generations still
// shadow older rows). It only costs LanceDB the pruning.
const (
	pkIndexDir      = "_pk_index"
	bloomFilterFile = "bloom_filter.bin"
	bloomFilterSize = 32 << 10
	pkIndexPageRows = 4096
)

// writePKIndex writes the generation's _pk_index and bloom filter for the
// key column pk of recs, which WriteDatasetWith stored, in order, as
// fragment 0 of the dataset at root.
func writePKIndex(ctx context.Context, store objstore.Store, mem memory.Allocator, root string, recs []arrow.RecordBatch, pk int, field arrow.Field, v lance.DataStorageVersion) error {
	cols := make([]arrow.Array, len(recs))
	for i, r := range recs {
		cols[i] = r.Column(pk)
	}
	keys, err := array.Concatenate(cols, mem)
	if err != nil {
		return err
	}
	defer keys.Release()
	n := keys.Len()
	read := keyReader(keys)
	ks := make([]Key, n)
	order := make([]int, n)
	for i := range order {
		ks[i], order[i] = read(i), i
	}
	slices.SortFunc(order, func(a, b int) int {
		ka, kb := ks[a], ks[b]
		switch {
		case ka.Less(kb):
			return -1
		case kb.Less(ka):
			return 1
		}
		return 0
	})
	ib := array.NewUint64Builder(mem)
	defer ib.Release()
	ib.Reserve(n)
	for _, row := range order {
		ib.UnsafeAppend(uint64(row)) // fragment 0: the address is the offset
	}
	ids := ib.NewUint64Array()
	defer ids.Release()
	sorted, err := compute.TakeArray(ctx, keys, ids)
	if err != nil {
		return err
	}
	defer sorted.Release()

	valueType := field.Type
	dataSchema := arrow.NewSchema([]arrow.Field{
		{Name: "values", Type: valueType, Nullable: true},
		{Name: "ids", Type: arrow.PrimitiveTypes.Uint64},
	}, nil)
	data := array.NewRecordBatch(dataSchema, []arrow.Array{sorted, ids}, int64(n))
	defer data.Release()
	if _, err := lance.WriteFile(ctx, store, path.Join(root, pkIndexDir, "page_data.lance"), dataSchema, []arrow.RecordBatch{data}, v); err != nil {
		return err
	}

	pages := (n + pkIndexPageRows - 1) / pkIndexPageRows
	firsts := make([]int32, 0, pages)
	lasts := make([]int32, 0, pages)
	for p := 0; p < pages; p++ {
		firsts = append(firsts, int32(p*pkIndexPageRows))
		lasts = append(lasts, int32(min((p+1)*pkIndexPageRows, n)-1))
	}
	mins, err := takeInt32(ctx, mem, sorted, firsts)
	if err != nil {
		return err
	}
	defer mins.Release()
	maxs, err := takeInt32(ctx, mem, sorted, lasts)
	if err != nil {
		return err
	}
	defer maxs.Release()
	nb := array.NewUint32Builder(mem)
	pb := array.NewUint32Builder(mem)
	defer nb.Release()
	defer pb.Release()
	for p := 0; p < pages; p++ {
		nb.Append(0) // keys are never null
		pb.Append(uint32(p))
	}
	nulls, pageIdx := nb.NewArray(), pb.NewArray()
	defer nulls.Release()
	defer pageIdx.Release()
	md := arrow.NewMetadata([]string{"batch_size"}, []string{strconv.Itoa(pkIndexPageRows)})
	lookupSchema := arrow.NewSchema([]arrow.Field{
		{Name: "min", Type: valueType, Nullable: true},
		{Name: "max", Type: valueType, Nullable: true},
		{Name: "null_count", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "page_idx", Type: arrow.PrimitiveTypes.Uint32},
	}, &md)
	lookup := array.NewRecordBatch(lookupSchema, []arrow.Array{mins, maxs, nulls, pageIdx}, int64(pages))
	defer lookup.Release()
	if _, err := lance.WriteFile(ctx, store, path.Join(root, pkIndexDir, "page_lookup.lance"), lookupSchema, []arrow.RecordBatch{lookup}, v); err != nil {
		return err
	}

	if err := store.Put(ctx, path.Join(root, bloomFilterFile), bytes.Repeat([]byte{0xff}, bloomFilterSize)); err != nil {
		return fmt.Errorf("writing %s: %w", path.Join(root, bloomFilterFile), err)
	}
	return nil
}

// takeInt32 returns the values of arr at idx.
func takeInt32(ctx context.Context, mem memory.Allocator, arr arrow.Array, idx []int32) (arrow.Array, error) {
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.AppendValues(idx, nil)
	ia := b.NewArray()
	defer ia.Release()
	return compute.TakeArray(ctx, arr, ia)
}

// withTombstoneRows returns a generation's rows as Lance's MemWAL flushes
// them when the memtable deleted keys, so LanceDB's LSM reader sees the
// deletes: the columns of wal.LanceSchema, the live rows with _tombstone
// false, then one row per deleted key (the key, nulls, _tombstone true).
// ok is false, and nothing is returned, when the table's data storage
// version can't store those nulls (2.0 files have no struct validity).
// The caller releases out.
func withTombstoneRows(mem memory.Allocator, schema *arrow.Schema, pkCol int, recs, tombs []arrow.RecordBatch, v lance.DataStorageVersion) (genSchema *arrow.Schema, out []arrow.RecordBatch, ok bool) {
	md := schema.Metadata()
	genSchema = wal.LanceSchema(schema, pkCol, &md)
	flags := func(n int, deleted bool) arrow.Array {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			b.UnsafeAppend(deleted)
		}
		return b.NewArray()
	}
	for _, r := range recs {
		n := int(r.NumRows())
		cols := append(slices.Clone(r.Columns()), flags(n, false))
		out = append(out, array.NewRecordBatch(genSchema, cols, int64(n)))
		cols[len(cols)-1].Release()
	}
	for _, t := range tombs {
		n := int(t.NumRows())
		cols := make([]arrow.Array, 0, genSchema.NumFields())
		fits := true
		for i, f := range schema.Fields() {
			if i == pkCol {
				t.Column(0).Retain()
				cols = append(cols, t.Column(0))
				continue
			}
			a := array.MakeArrayOfNull(mem, f.Type, n)
			fits = fits && !(v == lance.Version20 && nullStruct(a))
			cols = append(cols, a)
		}
		cols = append(cols, flags(n, true))
		out = append(out, array.NewRecordBatch(genSchema, cols, int64(n)))
		for _, c := range cols {
			c.Release()
		}
		if !fits {
			for _, r := range out {
				r.Release()
			}
			return nil, nil, false
		}
	}
	return genSchema, out, true
}
