// Package wal owns flightwal's write-ahead log: one log per region, in an
// object store, in Lance's MemWAL layout. It owns the entry format, entry
// positions and their object names, the group-commit pipeline that turns
// appended batches into entries, fences, replay, truncation, and the
// typed corruption error replay reports. Sequence numbers, memtables and
// what a batch means belong to its owner (package lsm); the pipeline
// reports back through the Owner interface, never by importing it.
//
// # Objects
//
// The log of a region lives under its directory dir ("_mem_wal/<region>"):
//
//	dir/wal/<bitrev(position)>.arrow   one entry, written with PutIfAbsent
//
// Positions start at 1 and follow one another without a gap. The name is
// the 64-character binary string of the bit-reversed position, which
// spreads consecutive entries over object-store partitions (Lance's
// MemWAL layout).
//
// # Entry layout
//
// An entry is one Arrow IPC stream followed by an 8-byte footer:
//
//	+----------------------------------------------+
//	| IPC stream: schema message, record batches,  |
//	| end-of-stream marker                          |
//	+----------------------------------------------+
//	| CRC-32C (Castagnoli) of the stream, 4 bytes LE |
//	| magic "FWAL", 4 bytes                          |
//	+----------------------------------------------+
//
// The stream is a Lance MemWAL entry: its schema is the table's (the
// key as declared, every other column nullable: a delete row holds nulls
// around its key) followed by Lance's _tombstone bool column, true on a
// delete row. Its schema metadata says who wrote the entry and what its
// batches are:
//
//	writer_epoch         the writer's epoch (fencing; Lance's key)
//	flightwal.position   the entry's position
//	flightwal.last_seq   the highest sequence number it covers
//	flightwal.batches    JSON [{"seq", "op": "upsert"|"delete", "rows"}]
//
// Lance's readers ignore the flightwal keys and the footer (the IPC
// stream ends at its end-of-stream marker). An entry without the footer
// and the flightwal keys is another MemWAL writer's (LanceDB's shard
// writer): replay reads it as a Foreign entry, its rows upserts or, where
// _tombstone is true, deletes, numbered by the owner as it applies them.
//
// Replay checks the footer before parsing, bounds
// what the metadata can make the IPC reader allocate, then validates
// every batch: an entry failing any of those is a *CorruptionError naming
// it, never a silent skip and never a bad parse.
//
// A fence is Lance's fence sentinel: a stream without columns or batches
// whose metadata also holds fence_sentinel "true"; it is the first entry a
// writer puts when it claims a region. A fenced writer's next entry collides with it, so
// fences are never truncated.
package wal
