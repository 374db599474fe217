// Package lance owns flightwal's on-storage data format: the Lance table
// format (versioned manifests, fragments, deletion files) and the Lance data
// file formats 2.0, 2.1 and 2.2, written and read through an objstore.Store
// so that every dataset flightwal writes is an ordinary Lance dataset that
// LanceDB, pylance and other Lance readers open, and every dataset those
// write can be read back here (legacy v1 files too, read-only).
//
// The byte-level references are shared/LANCE_FORMAT.md (table, 2.0) and
// shared/LANCE_2_1.md (2.1, 2.2). The package knows nothing of memtables,
// WALs or regions: callers hand it Arrow record batches and row offsets,
// and get Arrow record batches back.
//
// Types: every Arrow type Lance names (bool, integers, float16/32/64,
// decimal128/256, strings and binary and their large forms, date32/64,
// time32/64, timestamp, duration, fixed_size_binary, fixed_size_list of
// fixed-width items, list, large_list, struct, dictionary), nested in any
// way in 2.1/2.2. A dataset's data storage version (CreateOptions,
// Dataset.DataStorageVersion) is the format of its data files: a 2.1 or
// 2.2 dataset gets 2.1 or 2.2 files (WriteFragmentVersion).
//
// Layout of one dataset at root:
//
//	root/_versions/<name>.manifest   one immutable manifest per version (manifest.go)
//	root/data/<uuid>.lance           data files: 2.0 (datafile_write.go, datafile_read.go,
//	                                 encoding_*.go), 2.1/2.2 (structural_*.go, nested.go,
//	                                 compress_read.go), legacy (legacy_read.go)
//	root/_deletions/<frag>-<readversion>-<id>.arrow|.bin   deletion files (deletion.go)
//
// Reads: Scan decodes whole pages (scan.go); Take reads only the bytes of
// the requested rows where the page encoding allows (take.go). Data files'
// metadata is cached in a FileCache owned by whoever opens the Dataset
// (filecache.go).
//
// Concurrency: a Dataset is an immutable snapshot of one version and is
// safe for concurrent use; commits are optimistic (put-if-absent of the
// next version's manifest) and report ErrConflict to the loser.
package lance
