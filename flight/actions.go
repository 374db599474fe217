package flight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"

	"github.com/flightwal/flightwal/lsm"
)

// actionSpec is one DoAction type.
type actionSpec struct {
	name, description string
	run               func(s *Service, ctx context.Context, body []byte) (any, error)
}

var actions = []actionSpec{
	{"create_table", `create a table: {"name", "schema": "<base64 Arrow IPC schema>", "primary_key"?, "regions"?, "indexes"?, "data_storage_version"?}`, (*Service).actCreateTable},
	{"drop_table", `drop a table and delete its data: {"name"}`, (*Service).actDropTable},
	{"freeze", `freeze the active memtable: {"table", "region"?}`, (*Service).actFreeze},
	{"flush", `freeze and write every frozen memtable as a Lance flushed generation: {"table", "region"?}`, (*Service).actFlush},
	{"compact", `merge flushed generations into the base Lance table: {"table"}`, (*Service).actCompact},
	{"sync", `wait until everything acknowledged so far is durable: {"table"}`, (*Service).actSync},
	{"stats", `schema, primary key, base version and per-region writer state: {"table"}`, (*Service).actStats},
	{"create_index", `build an index on an existing table, every layer, in the background: {"table", "name", "column", "type": "btree"/"fts"/"ivf_pq", ...params}`, (*Service).actCreateIndex},
	{"drop_index", `remove an index: {"table", "name"}`, (*Service).actDropIndex},
}

// ListActions lists every action with a one-line description.
func (s *Service) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	for _, a := range actions {
		if err := stream.Send(&flight.ActionType{Type: a.name, Description: a.description}); err != nil {
			return err
		}
	}
	return s.sql.wire.ListActions(&flight.Empty{}, stream) // Flight SQL's
}

// DoAction runs one action and returns one JSON Result.
func (s *Service) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	if flightSQLActions[a.GetType()] {
		return sqlStatus(s.sql.wire.DoAction(a, stream))
	}
	for _, spec := range actions {
		if spec.name != a.GetType() {
			continue
		}
		out, err := spec.run(s, stream.Context(), a.GetBody())
		if err != nil {
			return toStatus(err)
		}
		raw, err := json.Marshal(out)
		if err != nil {
			return toStatus(err)
		}
		return stream.Send(&flight.Result{Body: raw})
	}
	return toStatus(fmt.Errorf("%w: unknown action %q (ListActions lists them)", errInvalid, a.GetType()))
}

func (s *Service) actCreateTable(ctx context.Context, body []byte) (any, error) {
	req := &CreateTable{}
	if err := decodeJSON("create_table body", body, req); err != nil {
		return nil, err
	}
	if req.Name == "" || req.Schema == "" && req.PrimaryKey == "" {
		return nil, fmt.Errorf("%w: create_table needs \"name\" and \"schema\" (or, to adopt an existing table's key, \"primary_key\")", errInvalid)
	}
	var schema *arrow.Schema
	if req.Schema != "" {
		var err error
		if schema, err = decodeSchema(req.Schema); err != nil {
			return nil, err
		}
	}
	var t *lsm.Table
	err := lsm.ErrAlreadyExists
	if schema != nil {
		t, err = s.db.CreateTable(ctx, req.tableSpec(req.Name, schema))
	}
	if errors.Is(err, lsm.ErrAlreadyExists) && req.PrimaryKey != "" {
		// An existing table without a key adopts one (API.md, Tables).
		if req.Regions != 0 || len(req.Indexes) > 0 || req.DataStorageVersion != "" {
			return nil, fmt.Errorf("%w: table %q exists: adopting a primary key takes only \"name\", \"primary_key\" and \"schema\"", errInvalid, req.Name)
		}
		t, err = s.db.AdoptPrimaryKey(ctx, req.Name, req.PrimaryKey, schema)
	}
	if err != nil {
		return nil, err
	}
	return CreateTableResult{Name: t.Name(), Version: t.Stats().BaseVersion}, nil
}

func (s *Service) actDropTable(ctx context.Context, body []byte) (any, error) {
	req := &nameRequest{}
	if err := decodeJSON("drop_table body", body, req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, fmt.Errorf("%w: drop_table needs \"name\"", errInvalid)
	}
	return struct{}{}, s.db.DropTable(ctx, req.Name)
}

// tableAction decodes {"table", "region"?} and opens the table.
func (s *Service) tableAction(ctx context.Context, what string, body []byte) (*lsm.Table, int, error) {
	req := &tableRequest{}
	if err := decodeJSON(what+" body", body, req); err != nil {
		return nil, 0, err
	}
	if req.Table == "" {
		return nil, 0, fmt.Errorf("%w: %s needs \"table\"", errInvalid, what)
	}
	t, err := s.table(ctx, req.Table)
	if err != nil {
		return nil, 0, err
	}
	region := -1
	if req.Region != nil {
		region = *req.Region
		if region < 0 || region >= t.NumRegions() {
			return nil, 0, fmt.Errorf("%w: region %d of table %q (it has %d)", lsm.ErrNotFound, region, req.Table, t.NumRegions())
		}
	}
	return t, region, nil
}

func (s *Service) actFreeze(ctx context.Context, body []byte) (any, error) {
	t, region, err := s.tableAction(ctx, "freeze", body)
	if err != nil {
		return nil, err
	}
	res, err := t.Freeze(ctx, region)
	if err != nil {
		return nil, err
	}
	return FreezeResult{Regions: convertAll(res, func(f lsm.RegionFreeze) RegionFreeze { return RegionFreeze(f) })}, nil
}

func (s *Service) actFlush(ctx context.Context, body []byte) (any, error) {
	t, region, err := s.tableAction(ctx, "flush", body)
	if err != nil {
		return nil, err
	}
	gens, err := t.Flush(ctx, region)
	if err != nil {
		return nil, err
	}
	return FlushResult{Generations: convertAll(gens, func(g lsm.FlushedGeneration) FlushedGeneration { return FlushedGeneration(g) })}, nil
}

func (s *Service) actCompact(ctx context.Context, body []byte) (any, error) {
	t, _, err := s.tableAction(ctx, "compact", body)
	if err != nil {
		return nil, err
	}
	res, err := t.Compact(ctx)
	if err != nil {
		return nil, err
	}
	return CompactResult(res), nil
}

func (s *Service) actSync(ctx context.Context, body []byte) (any, error) {
	t, _, err := s.tableAction(ctx, "sync", body)
	if err != nil {
		return nil, err
	}
	w, err := t.Sync(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for r, seq := range w {
		out[fmt.Sprint(r)] = seq
	}
	return SyncResult{Durable: out}, nil
}

func (s *Service) actStats(ctx context.Context, body []byte) (any, error) {
	t, _, err := s.tableAction(ctx, "stats", body)
	if err != nil {
		return nil, err
	}
	st := t.Stats()
	return StatsResult{
		Table: st.Table, PrimaryKey: st.PrimaryKey,
		BaseVersion: st.BaseVersion, BaseRows: st.BaseRows, BaseFragments: st.BaseFragments, BaseDeletedRows: st.BaseDeletedRows,
		Schema:      convertAll(st.Schema, func(f lsm.FieldInfo) FieldInfo { return FieldInfo(f) }),
		Indexes:     convertAll(st.Indexes, func(d lsm.IndexDef) IndexSpec { return IndexSpec(d) }),
		IndexStatus: convertAll(st.IndexStatus, func(x lsm.IndexStatus) IndexStatus { return IndexStatus(x) }),
		Regions:     convertAll(st.Regions, func(r lsm.RegionStats) RegionStats { return RegionStats(r) }),
	}, nil
}

func (s *Service) actCreateIndex(ctx context.Context, body []byte) (any, error) {
	req := &CreateIndex{}
	if err := decodeJSON("create_index body", body, req); err != nil {
		return nil, err
	}
	if req.Table == "" || req.Column == "" || req.Type == "" {
		return nil, fmt.Errorf("%w: create_index needs \"table\", \"column\" and \"type\"", errInvalid)
	}
	def, err := s.db.CreateIndex(ctx, req.Table, lsm.IndexDef(req.IndexSpec))
	if err != nil {
		return nil, err
	}
	return struct {
		Name string `json:"name"`
	}{def.Name}, nil
}

func (s *Service) actDropIndex(ctx context.Context, body []byte) (any, error) {
	req := &DropIndex{}
	if err := decodeJSON("drop_index body", body, req); err != nil {
		return nil, err
	}
	if req.Table == "" || req.Name == "" {
		return nil, fmt.Errorf("%w: drop_index needs \"table\" and \"name\"", errInvalid)
	}
	return struct{}{}, s.db.DropIndex(ctx, req.Table, req.Name)
}
