package lsm

// TableStats is a table's state: what the `stats` action reports (flight
// turns it into the wire's StatsResult).
type TableStats struct {
	Table           string
	Schema          []FieldInfo
	PrimaryKey      string
	BaseVersion     uint64
	BaseRows        int64
	BaseFragments   int
	BaseDeletedRows int64
	Indexes         []IndexDef
	IndexStatus     []IndexStatus
	Regions         []RegionStats
}

// IndexStatus is the state of one search index (ivf_pq, fts).
type IndexStatus struct {
	Name string
	Type string
	// ivf_pq: whether the model is trained (until then search is exact),
	// and its shape.
	Trained    bool
	Partitions int
	SubVectors int
	// UnindexedRows counts memtable rows the index does not cover yet
	// (searched exactly meanwhile).
	UnindexedRows int64
	// State is "building" until the index builder has been over every
	// layer once since the table opened (create_index) and no memtable
	// row is unindexed, then "ready".
	State string
}

// FieldInfo names one column and its Arrow type.
type FieldInfo struct {
	Name     string
	Type     string
	Nullable bool
}

// RegionStats describes one region's writer and memtables.
type RegionStats struct {
	Region           int
	WriterEpoch      uint64
	ManifestVersion  uint64
	ActiveGeneration uint64
	ActiveRows       int64
	ActiveBytes      int64
	FrozenMemtables  int
	FrozenRows       int64
	FrozenBytes      int64
	Generations      []uint64
	WALPosition      uint64
	ReplayAfter      uint64
	LastSeq          uint64
	DurableWatermark uint64
	VisibleWatermark uint64
	// Writing: this server claimed the region (its first write did);
	// until then WriterEpoch is the epoch of the last writer.
	Writing bool
	Stall   string // a failing WAL put being retried
	Failure string
}

// Stats reports the table's state.
func (t *Table) Stats() TableStats {
	st := TableStats{Table: t.name, PrimaryKey: t.PrimaryKey(), Indexes: t.indexes}
	for _, f := range t.schema.Fields() {
		st.Schema = append(st.Schema, FieldInfo{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable})
	}
	if b := t.base.Load(); b != nil {
		st.BaseVersion = b.ds.Version()
		st.BaseRows = b.ds.CountRows()
		for _, f := range b.ds.Fragments() {
			st.BaseFragments++
			st.BaseDeletedRows += int64(f.DeletedRows)
		}
	}
	t.mu.Lock()
	regions := append([]*RegionWriter(nil), t.regions...)
	t.mu.Unlock()
	for _, r := range regions {
		st.Regions = append(st.Regions, r.stats())
	}
	st.IndexStatus = t.indexStatus(regions)
	return st
}

func (t *Table) indexStatus(regions []*RegionWriter) []IndexStatus {
	var mts []*MemTable
	for _, r := range regions {
		mts = r.refMemTables(mts)
	}
	defer unrefMemTables(mts)
	var out []IndexStatus
	for _, ix := range t.idx.all {
		st := ix.status(mts)
		st.State = "building"
		if t.idx.passed.Load() && st.UnindexedRows == 0 {
			st.State = "ready"
		}
		out = append(out, st)
	}
	return out
}

func (r *RegionWriter) stats() RegionStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := RegionStats{
		Region: r.id, WriterEpoch: r.epoch, ManifestVersion: r.manifest.Version,
		ReplayAfter: r.manifest.ReplayAfterWalEntryPosition, LastSeq: r.lastSeq,
		DurableWatermark: r.durable.Load(), VisibleWatermark: r.durable.Load(),
		FrozenMemtables: len(r.frozen), WALPosition: r.walPos.Load(), Generations: []uint64{},
	}
	if r.active != nil {
		s.ActiveGeneration, s.ActiveRows, s.ActiveBytes = r.active.generation, r.active.Rows(), r.active.Bytes()
	}
	for _, m := range r.frozen {
		s.FrozenRows += m.Rows()
		s.FrozenBytes += m.Bytes()
	}
	for _, g := range r.manifest.FlushedGenerations {
		s.Generations = append(s.Generations, g.Generation)
	}
	s.Writing = r.wal != nil
	if r.stall != nil {
		s.Stall = r.stall.Error()
	}
	if r.failure != nil {
		s.Failure = r.failure.Error()
	}
	return s
}
