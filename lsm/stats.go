package lsm

// TableStats is the `stats` action's answer.
type TableStats struct {
	Table           string        `json:"table"`
	Schema          []FieldInfo   `json:"schema"`
	PrimaryKey      string        `json:"primary_key,omitempty"`
	BaseVersion     uint64        `json:"base_version"`
	BaseRows        int64         `json:"base_rows"`
	BaseFragments   int           `json:"base_fragments"`
	BaseDeletedRows int64         `json:"base_deleted_rows"`
	Indexes         []IndexDef    `json:"indexes,omitempty"`
	IndexStatus     []IndexStatus `json:"index_status,omitempty"`
	Regions         []RegionStats `json:"regions"`
}

// IndexStatus is the state of one search index (ivf_pq, fts).
type IndexStatus struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// ivf_pq: whether the model is trained (until then search is exact),
	// and its shape.
	Trained    bool `json:"trained,omitempty"`
	Partitions int  `json:"partitions,omitempty"`
	SubVectors int  `json:"sub_vectors,omitempty"`
	// UnindexedRows counts memtable rows the index does not cover yet
	// (searched exactly meanwhile).
	UnindexedRows int64 `json:"unindexed_rows"`
}

// FieldInfo names one column and its Arrow type.
type FieldInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// RegionStats describes one region's writer and memtables.
type RegionStats struct {
	Region           int      `json:"region"`
	WriterEpoch      uint64   `json:"writer_epoch"`
	ManifestVersion  uint64   `json:"manifest_version"`
	ActiveGeneration uint64   `json:"active_generation"`
	ActiveRows       int64    `json:"active_rows"`
	ActiveBytes      int64    `json:"active_bytes"`
	FrozenMemtables  int      `json:"frozen_memtables"`
	FrozenRows       int64    `json:"frozen_rows"`
	FrozenBytes      int64    `json:"frozen_bytes"`
	Generations      []uint64 `json:"flushed_generations"`
	WALPosition      uint64   `json:"wal_position"`
	ReplayAfter      uint64   `json:"replay_after_wal_position"`
	LastSeq          uint64   `json:"last_seq"`
	DurableWatermark uint64   `json:"durable_watermark"`
	VisibleWatermark uint64   `json:"visible_watermark"`
	// Writing: this server claimed the region (its first write did);
	// until then WriterEpoch is the epoch of the last writer.
	Writing bool   `json:"writing"`
	Stall   string `json:"stall,omitempty"` // a failing WAL put being retried
	Failure string `json:"failure,omitempty"`
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
		out = append(out, ix.status(mts))
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
	s.Writing = r.writing
	if r.stall != nil {
		s.Stall = r.stall.Error()
	}
	if r.failure != nil {
		s.Failure = r.failure.Error()
	}
	return s
}
