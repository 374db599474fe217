package flight

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/sqlexec"
)

// ingestPrimaryKeyOption names the primary key of a table an ingest
// creates (else the field metadata lance-schema:unenforced-primary-key).
const ingestPrimaryKeyOption = "flightwal.primary_key"

// ingestPlan is what a CommandStatementIngest asks for.
type ingestPlan struct {
	table            string
	create, replace  bool // if missing: create; if present: drop and create
	appendIfExisting bool
	primaryKey       string
}

func parseIngest(cmd flightsql.StatementIngest) (*ingestPlan, error) {
	if len(cmd.GetTransactionId()) > 0 {
		return nil, status.Error(codes.Unimplemented, "transactions are not supported (GetSqlInfo: FLIGHT_SQL_SERVER_TRANSACTION none)")
	}
	if cmd.GetTemporary() {
		return nil, status.Error(codes.Unimplemented, "ingest into a temporary table: every flightwal table is durable")
	}
	if c := cmd.GetCatalog(); c != "" && c != sqlexec.Catalog {
		return nil, status.Errorf(codes.NotFound, "catalog %q: the one catalog is %q", c, sqlexec.Catalog)
	}
	if sc := cmd.GetSchema(); sc != "" && sc != sqlexec.Schema {
		return nil, status.Errorf(codes.NotFound, "schema %q: the one schema is %q", sc, sqlexec.Schema)
	}
	p := &ingestPlan{table: cmd.GetTable()}
	if p.table == "" {
		return nil, status.Error(codes.InvalidArgument, "ingest: no target table")
	}
	for k, v := range cmd.GetOptions() {
		switch {
		case k == ingestPrimaryKeyOption:
			p.primaryKey = v
		case strings.HasPrefix(k, "flightwal."):
			return nil, status.Errorf(codes.InvalidArgument, "ingest option %q: the one flightwal option is %q", k, ingestPrimaryKeyOption)
		}
	}
	o := cmd.GetTableDefinitionOptions()
	p.create = o.GetIfNotExist() == flightsql.TableDefinitionOptionsTableNotExistOptionCreate
	switch o.GetIfExists() {
	case flightsql.TableDefinitionOptionsTableExistsOptionAppend:
		p.appendIfExisting = true
	case flightsql.TableDefinitionOptionsTableExistsOptionReplace:
		p.replace = true
	}
	return p, nil
}

// DoPutCommandStatementIngest lands the stream exactly as a durable DoPut
// does (upsert by key, append without one) into the table the mode
// names, making it from the stream's schema if the mode says so, and
// answers the rows once every batch is durable.
func (s *sqlServer) DoPutCommandStatementIngest(ctx context.Context, cmd flightsql.StatementIngest, rdr flight.MessageReader) (int64, error) {
	p, err := parseIngest(cmd)
	if err != nil {
		return 0, err
	}
	need := RoleWrite
	if p.create || p.replace {
		need = RoleAdmin // it may create the table, as create_table does
	}
	if err := authorize(ctx, need, "Flight SQL ingest with mode "+ingestMode(p)); err != nil {
		return 0, err
	}
	if p.primaryKey != "" && !p.create {
		return 0, status.Errorf(codes.InvalidArgument, "ingest option %s applies to a table the ingest creates (mode create, replace or create_append)", ingestPrimaryKeyOption)
	}
	schema := rdr.Schema()
	if schema == nil {
		return 0, status.Errorf(codes.InvalidArgument, "ingest: no schema message: %v", rdr.Err())
	}
	t, err := s.ingestTable(ctx, p, schema)
	if err != nil {
		return 0, err
	}
	w, err := t.NewWriter(schema, lsm.OpUpsert)
	if err != nil {
		return 0, fmt.Errorf("table %q: %w", p.table, err)
	}
	// Durability is awaited beside the reading, batch by batch, as a
	// DoPut's acks are: each wait kicks the WAL, so its writes overlap the
	// stream instead of following it.
	pending := make(chan lsm.WriteResult, maxPendingAcks)
	durable := make(chan error, 1)
	failed := make(chan struct{}) // closed on the first failed wait
	go func() {
		var err error
		i := 0
		for res := range pending {
			if err == nil {
				if err = t.WaitDurable(ctx, res); err != nil {
					err = fmt.Errorf("table %q: batch %d: %w", p.table, i, err)
					close(failed)
				}
			}
			i++
		}
		durable <- err
	}()
	finish := func(err error) error {
		close(pending)
		if derr := <-durable; err == nil {
			err = derr
		}
		return err
	}
	var rows int64
	for i := 0; ; i++ {
		more, err := nextBatch(rdr)
		if err != nil {
			return 0, finish(fmt.Errorf("%w: batch %d: %v", errInvalid, i, err))
		}
		if !more {
			break
		}
		select {
		case <-failed:
			return 0, finish(nil) // the wait's error
		default:
		}
		res, err := w.Write(ctx, s.svc.mem, rdr.RecordBatch())
		if err != nil {
			return 0, finish(fmt.Errorf("table %q: batch %d: %w", p.table, i, err))
		}
		releaseReceived(ctx)
		rows += res.Rows
		pending <- res
	}
	if err := rdr.Err(); err != nil {
		return 0, finish(readError(err))
	}
	if err := finish(nil); err != nil {
		return 0, err
	}
	return rows, nil
}

func ingestMode(p *ingestPlan) string {
	switch {
	case p.replace:
		return "replace"
	case p.create && p.appendIfExisting:
		return "create_append"
	case p.create:
		return "create"
	}
	return "append"
}

// ingestTable is the table an ingest writes to, made or remade as its
// mode says.
func (s *sqlServer) ingestTable(ctx context.Context, p *ingestPlan, schema *arrow.Schema) (*lsm.Table, error) {
	t, err := s.svc.table(ctx, p.table)
	switch {
	case err == nil && p.replace:
		if err := s.svc.db.DropTable(ctx, p.table); err != nil && !errors.Is(err, lsm.ErrNotFound) {
			return nil, err
		}
	case err == nil && p.appendIfExisting:
		return t, nil
	case err == nil:
		return nil, status.Errorf(codes.AlreadyExists, "table %q exists (ingest mode create: use append or create_append)", p.table)
	case !errors.Is(err, lsm.ErrNotFound):
		return nil, err
	case !p.create:
		return nil, status.Errorf(codes.NotFound, "table %q (ingest mode append: use create or create_append)", p.table)
	}
	t, err = s.svc.db.CreateTable(ctx, lsm.TableSpec{Name: p.table, Schema: schema, PrimaryKey: p.primaryKey})
	if errors.Is(err, lsm.ErrAlreadyExists) && p.appendIfExisting {
		return s.svc.table(ctx, p.table) // another stream created it first
	}
	return t, err
}
