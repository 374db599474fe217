// Package lance owns flightwal's on-storage data format: the Lance table
// format (versioned manifests, fragments, deletion files) and the Lance data
// file format 2.0 (column pages with the 2.0 encodings), both written and
// read through an objstore.Store so that every dataset flightwal writes is an
// ordinary Lance dataset that LanceDB, pylance and other Lance readers open,
// and every 2.0 dataset those write can be read back here.
//
// The byte-level reference is shared/LANCE_FORMAT.md. The package knows
// nothing of memtables, WALs or regions: callers hand it Arrow record batches
// and row offsets, and get Arrow record batches back.
//
// Layout of one dataset at root:
//
//	root/_versions/<name>.manifest   one immutable manifest per version (manifest.go)
//	root/data/<uuid>.lance           v2.0 data files (datafile_write.go, datafile_read.go)
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
