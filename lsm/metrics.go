package lsm

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics is a point-in-time copy of the DB's counters and gauges (like
// pebble's Metrics): counters only grow for the life of the DB; gauges
// are read at the call. The binary exports them (lsm knows nothing of
// Prometheus).
type Metrics struct {
	// Ingest counts batches, rows and Arrow bytes accepted by
	// Writer.Write, in total and per table name.
	Ingest       IngestMetrics
	IngestTables map[string]IngestMetrics

	WALPuts       int64     // WAL entries written
	WALBytes      int64     // their encoded bytes
	WALPutLatency Histogram // their put durations (retries included)

	Flushes        int64     // memtables written as flushed generations
	FlushLatency   Histogram // their durations
	Compactions    int64     // compactions that merged generations into the base table
	CompactLatency Histogram // their durations
	// CommitRebases counts base-table commits rebased on another Lance
	// writer's commit; CompactRetries compactions redone on the latest
	// version after a conflict; CompactConflicts compactions that failed
	// with one (ErrConflict).
	CommitRebases, CompactRetries, CompactConflicts int64

	BackpressureWaits int64 // writes that waited for room (backpressure.max_unflushed_bytes)
	FencedWriters     int64 // region writers stopped because a newer writer fenced them

	// Gauges over the open tables' regions.
	MemTableRows   int64 // rows in active memtables
	MemTableBytes  int64 // Arrow bytes in active memtables
	UnflushedBytes int64 // Arrow bytes in active and frozen memtables

	// Indexes is each open table's search indexes (ivf_pq, fts) with the
	// memtable rows they do not cover yet.
	Indexes []IndexMetrics
}

// IndexMetrics is one search index's gauge.
type IndexMetrics struct {
	Table, Index, Type string
	UnindexedRows      int64
}

// IngestMetrics counts accepted writes.
type IngestMetrics struct {
	Batches, Rows, Bytes int64
}

// dbMetrics is the DB's live counters, shared by its tables and regions
// through Options.
type dbMetrics struct {
	walPuts, walBytes            atomic.Int64
	flushes, compactions         atomic.Int64
	walLat, flushLat, compactLat *latency
	rebases, retries, conflicts  atomic.Int64
	backpressureWaits, fenced    atomic.Int64
	tablesMu                     sync.Mutex
	tables                       map[string]*ingestCounters
	totalBatches, totalRows, tot atomic.Int64
}

type ingestCounters struct {
	batches, rows, bytes atomic.Int64
}

func newDBMetrics() *dbMetrics {
	return &dbMetrics{tables: map[string]*ingestCounters{}, walLat: newLatency(), flushLat: newLatency(), compactLat: newLatency()}
}

// table is name's ingest counters; they outlive a close or drop of the
// table so exported counters never go back.
func (m *dbMetrics) table(name string) *ingestCounters {
	if m == nil {
		return nil
	}
	m.tablesMu.Lock()
	defer m.tablesMu.Unlock()
	c := m.tables[name]
	if c == nil {
		c = &ingestCounters{}
		m.tables[name] = c
	}
	return c
}

func (m *dbMetrics) ingest(c *ingestCounters, rows, bytes int64) {
	if m == nil || c == nil {
		return
	}
	c.batches.Add(1)
	c.rows.Add(rows)
	c.bytes.Add(bytes)
	m.totalBatches.Add(1)
	m.totalRows.Add(rows)
	m.tot.Add(bytes)
}

func (m *dbMetrics) walPut(bytes int, d time.Duration) {
	if m == nil {
		return
	}
	m.walPuts.Add(1)
	m.walBytes.Add(int64(bytes))
	m.walLat.observe(d)
}

func (m *dbMetrics) flushed(d time.Duration) {
	if m != nil {
		m.flushes.Add(1)
		m.flushLat.observe(d)
	}
}

func (m *dbMetrics) compacted(d time.Duration) {
	if m != nil {
		m.compactions.Add(1)
		m.compactLat.observe(d)
	}
}

// rebased counts one commit's rebases.
func (m *dbMetrics) rebased(n int) {
	if m != nil {
		m.rebases.Add(int64(n))
	}
}

// compactEnded counts a compaction's retries and whether it failed with a
// conflict.
func (m *dbMetrics) compactEnded(retries int, conflict bool) {
	if m != nil {
		m.retries.Add(int64(retries))
		if conflict {
			m.conflicts.Add(1)
		}
	}
}

func (m *dbMetrics) waited() {
	if m != nil {
		m.backpressureWaits.Add(1)
	}
}

func (m *dbMetrics) fencedWriter() {
	if m != nil {
		m.fenced.Add(1)
	}
}

// Metrics returns the DB's counters and the memtable gauges of its open
// tables.
func (db *DB) Metrics() Metrics {
	m := db.opts.metrics
	out := Metrics{
		Ingest:            IngestMetrics{Batches: m.totalBatches.Load(), Rows: m.totalRows.Load(), Bytes: m.tot.Load()},
		IngestTables:      map[string]IngestMetrics{},
		WALPuts:           m.walPuts.Load(),
		WALBytes:          m.walBytes.Load(),
		WALPutLatency:     m.walLat.snapshot(),
		Flushes:           m.flushes.Load(),
		FlushLatency:      m.flushLat.snapshot(),
		Compactions:       m.compactions.Load(),
		CompactLatency:    m.compactLat.snapshot(),
		CommitRebases:     m.rebases.Load(),
		CompactRetries:    m.retries.Load(),
		CompactConflicts:  m.conflicts.Load(),
		BackpressureWaits: m.backpressureWaits.Load(),
		FencedWriters:     m.fenced.Load(),
	}
	m.tablesMu.Lock()
	for name, c := range m.tables {
		out.IngestTables[name] = IngestMetrics{Batches: c.batches.Load(), Rows: c.rows.Load(), Bytes: c.bytes.Load()}
	}
	m.tablesMu.Unlock()
	db.mu.Lock()
	var tables []*Table
	for _, s := range db.slots {
		if s.t != nil {
			tables = append(tables, s.t)
		}
	}
	db.mu.Unlock()
	for _, t := range tables {
		t.mu.Lock()
		regions := append([]*RegionWriter(nil), t.regions...)
		t.mu.Unlock()
		if t.idx != nil && len(t.idx.all) > 0 {
			for _, st := range t.indexStatus(regions) {
				out.Indexes = append(out.Indexes, IndexMetrics{Table: t.name, Index: st.Name, Type: st.Type, UnindexedRows: st.UnindexedRows})
			}
		}
		for _, r := range regions {
			if r == nil {
				continue
			}
			r.mu.Lock()
			if r.active != nil {
				out.MemTableRows += r.active.Rows()
				out.MemTableBytes += r.active.Bytes()
				out.UnflushedBytes += r.active.Bytes()
				for _, f := range r.frozen {
					out.UnflushedBytes += f.Bytes()
				}
			}
			r.mu.Unlock()
		}
	}
	return out
}

// TableNames is m's per-table ingest names, sorted.
func (m Metrics) TableNames() []string {
	names := make([]string, 0, len(m.IngestTables))
	for n := range m.IngestTables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
