package flight

// The JSON of the actions (API.md, DoAction): the index specs create_table
// takes and what each action answers. lsm's types carry no JSON; each
// action converts its lsm value to these, in one place (actions.go), so
// the contract changes only when these types do. Request bodies, tickets
// and descriptors are in requests.go.
//
// Where a wire type has exactly the fields of its lsm type, the two
// convert with a Go conversion, which compiles only while that holds: a
// field added to the lsm type stops the build until it is added here too,
// with its JSON name (or the conversion gives way to code that says what
// is sent).

// IndexSpec is one index of create_table's "indexes" (and of DoPut's
// "create"), as stats lists it too.
type IndexSpec struct {
	Name   string `json:"name"`
	Column string `json:"column"`
	Type   string `json:"type"` // btree, fts, ivf_pq

	// ivf_pq
	Metric     string `json:"metric,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
	SubVectors int    `json:"sub_vectors,omitempty"`
	TrainAfter int    `json:"train_after,omitempty"`

	// fts
	Stem      *bool `json:"stem,omitempty"`
	StopWords *bool `json:"stop_words,omitempty"`
}

// CreateTableResult answers create_table.
type CreateTableResult struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"`
}

// FreezeResult answers freeze.
type FreezeResult struct {
	Regions []RegionFreeze `json:"regions"`
}

// RegionFreeze is one region's freeze.
type RegionFreeze struct {
	Region           int    `json:"region"`
	ActiveGeneration uint64 `json:"active_generation"`
	FrozenGeneration uint64 `json:"frozen_generation,omitempty"`
	FrozenRows       int64  `json:"frozen_rows"`
}

// FlushResult answers flush.
type FlushResult struct {
	Generations []FlushedGeneration `json:"generations"`
}

// FlushedGeneration is one generation a flush wrote.
type FlushedGeneration struct {
	Region     int    `json:"region"`
	Generation uint64 `json:"generation"`
	Path       string `json:"path"`
	Rows       int64  `json:"rows"`
}

// CompactResult answers compact.
type CompactResult struct {
	BaseVersion    uint64           `json:"base_version"`
	Generations    map[int][]uint64 `json:"merged_generations"` // per region
	RowsWritten    int64            `json:"rows_written"`
	RowsDeleted    int64            `json:"rows_deleted"`
	BytesWritten   int64            `json:"bytes_written"`
	FragmentsAdded int              `json:"fragments_added"`
	Rebases        int              `json:"rebases"` // commits rebased on other Lance writers'
	Retries        int              `json:"retries"` // redone after a conflict
}

// SyncResult answers sync: each region's durable watermark.
type SyncResult struct {
	Durable map[string]uint64 `json:"durable"`
}

// StatsResult answers stats.
type StatsResult struct {
	Table           string        `json:"table"`
	Schema          []FieldInfo   `json:"schema"`
	PrimaryKey      string        `json:"primary_key,omitempty"`
	BaseVersion     uint64        `json:"base_version"`
	BaseRows        int64         `json:"base_rows"`
	BaseFragments   int           `json:"base_fragments"`
	BaseDeletedRows int64         `json:"base_deleted_rows"`
	Indexes         []IndexSpec   `json:"indexes,omitempty"`
	IndexStatus     []IndexStatus `json:"index_status,omitempty"`
	Regions         []RegionStats `json:"regions"`
}

// FieldInfo is one column of stats' schema.
type FieldInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// IndexStatus is the state of one search index (ivf_pq, fts).
type IndexStatus struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Trained       bool   `json:"trained,omitempty"`
	Partitions    int    `json:"partitions,omitempty"`
	SubVectors    int    `json:"sub_vectors,omitempty"`
	UnindexedRows int64  `json:"unindexed_rows"`
	State         string `json:"state"` // building, ready
}

// RegionStats is one region's writer and memtables.
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
	Writing          bool     `json:"writing"`
	Stall            string   `json:"stall,omitempty"`
	Failure          string   `json:"failure,omitempty"`
}

// convertAll converts each element; nil stays nil, so an absent list is
// sent as before (null, or left out under omitempty) and an empty one as [].
func convertAll[T, U any](in []T, conv func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, x := range in {
		out[i] = conv(x)
	}
	return out
}
