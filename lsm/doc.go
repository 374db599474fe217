// Package lsm owns flightwal's log-structured write path for Lance tables:
// tables and their regions, the single RegionWriter of each region, the
// MemTable with its live indexes, the region manifest with epoch fencing,
// freeze, flush, compaction, and consistent snapshot reads merged
// newest-wins across every layer. The write-ahead log itself (entries,
// group commit, fences, replay, truncation) is package lsm/wal.
//
// The base table is shared with other Lance writers (base.go, compact.go,
// index_admin.go; README, "Sharing a table with other Lance writers"): it
// is re-read every Options.LanceRefreshInterval and at each compaction,
// whose commit rebases on other writers' commits (package lance) and is
// redone on the latest version after a retryable conflict; what still
// conflicts is ErrConflict, never a fence. Rows other writers add count as
// older than every generation not yet compacted. Pinned by
// TestShareWithLanceWriter (share_test.go), TestShareLanceDBLoop and
// TestCreateDropIndex (flight/).
//
// Regions are Lance's MemWAL regions (sharding.go): the base table's
// MemWAL index holds the sharding spec (bucket on the primary key by
// Lance's murmur3, or unsharded), region ids are the UUIDs LanceDB's shard
// writers derive, and region manifests, version hints, WAL entries and
// merge progress (compacted_sstables) are written as LanceDB 0.39 writes
// them, so its shard writers and flightwal replay and fence each other.
// Tables of the older layout migrate on open (migrate.go). Pinned by
// TestBucketsAgreeWithLanceDB (sharding_lance_test.go),
// TestRegionsAreLanceShaped and TestLegacyLayoutMigratesOnOpen
// (layout_test.go), TestDecodeLanceEntries (wal/), and
// TestLanceDBMemWALServed, TestFlightwalTableSpecForLanceDB,
// TestMemWALFencesAcrossEngines and TestUnservableMemWALSpec
// (flight/memwal_lance_test.go).
//
// It knows nothing of gRPC: package flight translates wire requests into
// calls here and maps the errors below to status codes.
//
// Tables Lance wrote are served as stored (servable.go): opening a table
// checks every base data file against lance's decoders
// (Dataset.CheckReadable) and writes and reads back one row of its schema
// in its data storage version in memory. A file that can't
// be read makes the table unservable (FormatError; every request answers
// it, naming the file), one the writer can't store makes it read-only
// (WriteRefused), so no write is acknowledged that could not be
// compacted. Tables without a primary key are append-only until
// AdoptPrimaryKey (adopt.go) records one.
//
// The invariants of ARCHITECTURE.md are kept in these places:
//
//  1. Durable means persisted: the wal.Writer reports an entry to
//     RegionWriter (walOwner.Durable) only after its PutIfAbsent returned;
//     only then does the durable watermark move.
//  2. Visible implies durable: readers filter memtable rows by the visible
//     watermark, which is only ever set from the durable one.
//  3. Replay restores exactly the acknowledged state: openRegion replays every
//     WAL entry after the manifest's replay position once (wal.Log.Replay),
//     through the same MemTable.append path live writes take; an entry that
//     cannot be applied is a wal.CorruptionError, answered ErrDataLoss.
//  4. One writer per region: a claim (RegionWriter.claim at a reopen,
//     claimInPlace at a first write) writes manifest version+1 with epoch+1
//     by PutIfAbsent, then a fence entry in the WAL (wal.Log.Fence); every
//     later WAL entry and manifest is PutIfAbsent, so a fenced writer fails.
//     Opening a table claims nothing.
//  5. No visibility gap: a frozen memtable leaves the region's read state in
//     the same swap that adds its flushed generation.
//  6. Snapshot reads: Snapshot fixes (watermark, memtables, generations, base
//     version) per region under the region's state lock.
//  7. Bad input is rejected before it touches state: Writer.Write validates
//     a batch in full (wal.ValidateBatch) and checks its keys before any
//     region is appended to, and a batch is sequenced only while its
//     stream's context is live.
//
// These tests pin them (files in this package unless a path is given;
// those of flight and cmd/flightwal run a whole server):
//
//  1. TestDurableAckAfterWALPut (flight/flush_test.go),
//     TestWriterGroupCommit and TestWriterStallsInPlace (wal/writer_test.go),
//     TestWALPutFailureStallsInPlace (walstall_test.go),
//     TestCloseWithConcurrentWriters (close_test.go),
//     TestFaultInjectedIngest (flight/fault_test.go),
//     TestCrashRecovery (cmd/flightwal/crash_test.go).
//  2. TestDurableAckAfterWALPut (flight/flush_test.go),
//     TestAsyncWritesVisibleOnlyWhenDurable (flight/core_test.go),
//     TestMemTableConcurrentReaders (memtable_test.go).
//  3. TestReplayFreezesAtEntryBoundaries (flush_test.go),
//     TestReplayGap and TestReadCorruptEntry (wal/),
//     TestReplayRefusesInvalidEntry (validate_test.go),
//     FuzzReplayWALEntry (replay_fuzz_test.go),
//     TestCreateAfterInterruptedDrop (drop_test.go),
//     TestSearchMatchesScanAcrossRestarts (replay_test.go),
//     TestAppendOnlyCompactionRetireFails (compact_test.go),
//     TestCrashBetweenGenerationAndManifest (flight/flush_test.go),
//     TestCompactCrashPoints (flight/compact_test.go),
//     TestFaultInjectedIngest (flight/fault_test.go),
//     TestCrashRecovery (cmd/flightwal/crash_test.go),
//     TestSoak (cmd/flightwal/soak_test.go).
//  4. TestFencing and TestFenceSurvivesWALGC (fence_test.go),
//     TestWriterFenced, TestFenceAppliesLateEntries and
//     TestTruncateKeepsFences (wal/),
//     TestOpenForReadingWritesNothing (claim_test.go),
//     TestClaimAfterAnotherWriterFlushed (claim_test.go),
//     TestFencedServerRefusesReads (flight/robust_test.go),
//     TestTwoServersFencing (cmd/flightwal/fence_test.go),
//     TestMemWALFencesAcrossEngines (flight/memwal_lance_test.go: with
//     LanceDB's shard writer, both ways).
//  5. TestModelRandomized (model_test.go),
//     TestLifecycleStages (lifecycle_test.go),
//     TestAppendOnlyCompactionRetireFails (compact_test.go),
//     TestCrashBetweenGenerationAndManifest (flight/flush_test.go),
//     TestFlushWhoseManifestOutcomeIsLost (flush_test.go),
//     TestCompactCrashPoints (flight/compact_test.go),
//     TestSnapshotUnderConcurrentWrites (flight/core_test.go).
//  6. TestModelRandomized (model_test.go),
//     TestShadowingRowAndBitmapAgree (layers_test.go),
//     TestMemTableVersions (memtable_test.go),
//     TestSearchMatchesScanUnderChurn (search_test.go),
//     TestFlushLayersNewestWins (flight/flush_test.go),
//     TestSnapshotUnderConcurrentWrites (flight/core_test.go),
//     TestWithTombstoneRows (generation_lance_test.go),
//     TestLanceDBReadsFlightwalGenerations (flight/memwal_lance_test.go:
//     LanceDB's reader of flightwal's generations, deletes included).
//  7. TestWriteRejectsInvalidBatch (validate_test.go),
//     TestNullsInNonNullableColumn (schema_test.go),
//     TestNearestBadInput (nearest_test.go),
//     TestBadInput (flight/core_test.go),
//     TestDoPutRejectsMalformedBatch and
//     TestCancelledStreamNeverOvertakesRetry (flight/hostile_test.go),
//     FuzzDoPut (flight/doput_fuzz_test.go),
//     TestSoak (cmd/flightwal/soak_test.go).
package lsm
