package flight

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/sqlexec"
)

// Flight SQL (API.md, "Flight SQL") on the same service: a descriptor
// cmd, ticket or action whose bytes are a packed google.protobuf.Any of a
// Flight SQL message goes to arrow-go's flightsql server, which calls
// sqlServer below; JSON stays native. Metadata comes from lsm; statements
// run in package sqlexec.

// flightSQLTypePrefix starts the type URL of every Flight SQL message.
const flightSQLTypePrefix = "type.googleapis.com/arrow.flight.protocol.sql."

// isFlightSQL reports whether b is a packed Any of a Flight SQL message.
func isFlightSQL(b []byte) bool {
	if len(b) == 0 || b[0] == '{' {
		return false
	}
	var a anypb.Any
	if err := proto.Unmarshal(b, &a); err != nil {
		return false
	}
	return strings.HasPrefix(a.GetTypeUrl(), flightSQLTypePrefix)
}

// flightSQLActions are the action types the flightsql server answers.
var flightSQLActions = map[string]bool{
	flight.CancelFlightInfoActionType:               true,
	flight.RenewFlightEndpointActionType:            true,
	flightsql.CreatePreparedStatementActionType:     true,
	flightsql.ClosePreparedStatementActionType:      true,
	flightsql.BeginSavepointActionType:              true,
	flightsql.BeginTransactionActionType:            true,
	flightsql.CancelQueryActionType:                 true,
	flightsql.CreatePreparedSubstraitPlanActionType: true,
	flightsql.EndSavepointActionType:                true,
	flightsql.EndTransactionActionType:              true,
}

// maxPrepared bounds the prepared statements open at once.
const maxPrepared = 10000

// sqlServer implements flightsql.Server over the service's DB.
type sqlServer struct {
	flightsql.BaseServer
	svc *Service
	eng *sqlexec.Engine // nil if it failed to open (engErr says why)

	engErr error
	infos  map[uint32]bool // the SqlInfo ids registered
	mu     sync.Mutex
	stmts  map[string]*preparedStmt
}

type preparedStmt struct {
	query   string
	kind    sqlexec.Kind
	nparams int
	rows    [][]any // bound by DoPut, one per row of parameters; nil until then
}

// args is the one row of parameters a query runs with.
func (p *preparedStmt) args() ([]any, error) {
	switch {
	case len(p.rows) > 1:
		return nil, status.Errorf(codes.InvalidArgument, "prepared query: %d rows of parameters bound; a query takes one (several rows: updates)", len(p.rows))
	case len(p.rows) == 1:
		return p.rows[0], nil
	case p.nparams > 0:
		return nil, status.Error(codes.InvalidArgument, "prepared query: no parameters bound")
	}
	return nil, nil
}

// sqlService is Flight SQL's part of the Service.
type sqlService struct {
	srv  *sqlServer
	wire flight.FlightServer
}

func newSQLService(svc *Service) *sqlService {
	s := &sqlServer{svc: svc, stmts: map[string]*preparedStmt{}, infos: map[uint32]bool{}}
	s.Alloc = svc.mem
	s.eng, s.engErr = sqlexec.New(svc.db, sqlexec.Options{Allocator: svc.mem, MemoryLimit: svc.opts.SQLMemoryLimit})
	if s.engErr != nil {
		svc.log.Error("SQL engine failed to open; SQL statements fail", "err", s.engErr)
	}
	version := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	for id, v := range map[flightsql.SqlInfo]any{
		flightsql.SqlInfoFlightSqlServerName:               "flightwal",
		flightsql.SqlInfoFlightSqlServerVersion:            version,
		flightsql.SqlInfoFlightSqlServerArrowVersion:       arrow.PkgVersion,
		flightsql.SqlInfoFlightSqlServerReadOnly:           false,
		flightsql.SqlInfoFlightSqlServerSql:                sqlexec.Available,
		flightsql.SqlInfoFlightSqlServerSubstrait:          false,
		flightsql.SqlInfoFlightSqlServerTransaction:        int32(flightsql.SqlTransactionNone),
		flightsql.SqlInfoFlightSqlServerCancel:             false,
		flightsql.SqlInfoFlightSqlServerBulkIngestion:      true,
		flightsql.SqlInfoFlightSqlServerStatementTimeout:   int32(0),
		flightsql.SqlInfoFlightSqlServerTransactionTimeout: int32(0),
		flightsql.SqlInfoTransactionsSupported:             false,
		flightsql.SqlInfoDDLCatalog:                        false,
		flightsql.SqlInfoDDLSchema:                         false,
		flightsql.SqlInfoDDLTable:                          true,
		flightsql.SqlInfoIdentifierQuoteChar:               `"`,
		flightsql.SqlInfoAllTablesAreASelectable:           true,
	} {
		if err := s.RegisterSqlInfo(id, v); err != nil {
			panic(err) // a wrong type above: a bug
		}
		s.infos[uint32(id)] = true
	}
	return &sqlService{srv: s, wire: flightsql.NewFlightServerWithAllocator(s, svc.mem)}
}

func (q *sqlService) close() {
	if q != nil && q.srv.eng != nil {
		q.srv.eng.Close()
	}
}

func (s *sqlServer) engine() (*sqlexec.Engine, error) {
	if s.engErr != nil {
		return nil, status.Errorf(codes.Unavailable, "SQL engine: %v", s.engErr)
	}
	return s.eng, nil
}

// sqlStatus maps an error to a status: sqlexec's Unimplemented, then as
// every error of the service (toStatus).
func sqlStatus(err error) error {
	if err != nil && errors.Is(err, sqlexec.ErrUnimplemented) {
		if _, ok := status.FromError(err); !ok {
			return status.Error(codes.Unimplemented, err.Error())
		}
	}
	return toStatus(err)
}

// ---- Metadata ----

// oneBatch streams rec as the only chunk.
func oneBatch(rec arrow.RecordBatch) <-chan flight.StreamChunk {
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return ch
}

func (s *sqlServer) info(desc *flight.FlightDescriptor, schema *arrow.Schema) *flight.FlightInfo {
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.Cmd}}},
		FlightDescriptor: desc,
		Schema:           flight.SerializeSchema(schema, s.svc.mem),
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// DoGetSqlInfo answers the ids it knows and leaves out the others (the
// base answers NotFound for the whole request).
func (s *sqlServer) DoGetSqlInfo(ctx context.Context, cmd flightsql.GetSqlInfo) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	if len(cmd.GetInfo()) == 0 {
		return s.BaseServer.DoGetSqlInfo(ctx, cmd)
	}
	var known infoIDs
	for _, id := range cmd.GetInfo() {
		if s.infos[id] {
			known = append(known, id)
		}
	}
	if len(known) == 0 {
		b := array.NewRecordBuilder(s.svc.mem, schema_ref.SqlInfo)
		defer b.Release()
		return schema_ref.SqlInfo, oneBatch(b.NewRecordBatch()), nil
	}
	return s.BaseServer.DoGetSqlInfo(ctx, known)
}

// infoIDs is a GetSqlInfo request for these ids.
type infoIDs []uint32

func (i infoIDs) GetInfo() []uint32 { return i }

func (s *sqlServer) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.info(desc, schema_ref.Catalogs), nil
}

func (s *sqlServer) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.svc.mem, schema_ref.Catalogs)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(sqlexec.Catalog)
	return schema_ref.Catalogs, oneBatch(b.NewRecordBatch()), nil
}

func (s *sqlServer) GetFlightInfoSchemas(_ context.Context, _ flightsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.info(desc, schema_ref.DBSchemas), nil
}

// catalogMatches: a catalog filter other than flightwal (or "") matches
// nothing.
func catalogMatches(c *string) bool { return c == nil || *c == "" || *c == sqlexec.Catalog }

func (s *sqlServer) DoGetDBSchemas(_ context.Context, cmd flightsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.svc.mem, schema_ref.DBSchemas)
	defer b.Release()
	if catalogMatches(cmd.GetCatalog()) && likeMatch(cmd.GetDBSchemaFilterPattern(), sqlexec.Schema) {
		b.Field(0).(*array.StringBuilder).Append(sqlexec.Catalog)
		b.Field(1).(*array.StringBuilder).Append(sqlexec.Schema)
	}
	return schema_ref.DBSchemas, oneBatch(b.NewRecordBatch()), nil
}

func (s *sqlServer) GetFlightInfoTables(_ context.Context, cmd flightsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if cmd.GetIncludeSchema() {
		return s.info(desc, schema_ref.TablesWithIncludedSchema), nil
	}
	return s.info(desc, schema_ref.Tables), nil
}

func (s *sqlServer) DoGetTables(ctx context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	sc := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		sc = schema_ref.TablesWithIncludedSchema
	}
	b := array.NewRecordBuilder(s.svc.mem, sc)
	defer b.Release()
	typeOK := len(cmd.GetTableTypes()) == 0
	for _, t := range cmd.GetTableTypes() {
		typeOK = typeOK || strings.EqualFold(t, "TABLE")
	}
	if typeOK && catalogMatches(cmd.GetCatalog()) && likeMatch(cmd.GetDBSchemaFilterPattern(), sqlexec.Schema) {
		names, err := s.svc.db.ListTables(ctx)
		if err != nil {
			return nil, nil, toStatus(err)
		}
		for _, n := range names {
			if !likeMatch(cmd.GetTableNameFilterPattern(), n) {
				continue
			}
			var schemaBytes []byte
			if cmd.GetIncludeSchema() {
				t, err := s.svc.table(ctx, n)
				if errors.Is(err, lsm.ErrNotFound) {
					continue // dropped since the listing
				}
				if err != nil {
					return nil, nil, toStatus(err)
				}
				schemaBytes = flight.SerializeSchema(t.Schema(), s.svc.mem)
			}
			b.Field(0).(*array.StringBuilder).Append(sqlexec.Catalog)
			b.Field(1).(*array.StringBuilder).Append(sqlexec.Schema)
			b.Field(2).(*array.StringBuilder).Append(n)
			b.Field(3).(*array.StringBuilder).Append("TABLE")
			if cmd.GetIncludeSchema() {
				b.Field(4).(*array.BinaryBuilder).Append(schemaBytes)
			}
		}
	}
	return sc, oneBatch(b.NewRecordBatch()), nil
}

func (s *sqlServer) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.info(desc, schema_ref.TableTypes), nil
}

func (s *sqlServer) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.svc.mem, schema_ref.TableTypes)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("TABLE")
	return schema_ref.TableTypes, oneBatch(b.NewRecordBatch()), nil
}

func (s *sqlServer) GetFlightInfoPrimaryKeys(_ context.Context, _ flightsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.info(desc, schema_ref.PrimaryKeys), nil
}

func (s *sqlServer) DoGetPrimaryKeys(ctx context.Context, ref flightsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.svc.mem, schema_ref.PrimaryKeys)
	defer b.Release()
	schemaOK := ref.DBSchema == nil || *ref.DBSchema == "" || *ref.DBSchema == sqlexec.Schema
	if catalogMatches(ref.Catalog) && schemaOK {
		t, err := s.svc.table(ctx, ref.Table)
		if err != nil {
			return nil, nil, toStatus(err)
		}
		if pk := t.PrimaryKey(); pk != "" {
			b.Field(0).(*array.StringBuilder).Append(sqlexec.Catalog)
			b.Field(1).(*array.StringBuilder).Append(sqlexec.Schema)
			b.Field(2).(*array.StringBuilder).Append(t.Name())
			b.Field(3).(*array.StringBuilder).Append(pk)
			b.Field(4).(*array.Int32Builder).Append(1)
			b.Field(5).(*array.StringBuilder).AppendNull()
		}
	}
	return schema_ref.PrimaryKeys, oneBatch(b.NewRecordBatch()), nil
}

// xdbcTypes is GetXdbcTypeInfo's fixed list: the types flightwal tables
// hold, with their JDBC/ODBC type codes.
const xdbcTypes = `[
{"type_name":"BOOLEAN","data_type":16,"nullable":1,"case_sensitive":false,"searchable":3,"fixed_prec_scale":false,"sql_data_type":16,"local_type_name":"BOOLEAN"},
{"type_name":"TINYINT","data_type":-6,"column_size":3,"nullable":1,"case_sensitive":false,"searchable":3,"unsigned_attribute":false,"fixed_prec_scale":false,"sql_data_type":-6,"num_prec_radix":10,"local_type_name":"TINYINT"},
{"type_name":"SMALLINT","data_type":5,"column_size":5,"nullable":1,"case_sensitive":false,"searchable":3,"unsigned_attribute":false,"fixed_prec_scale":false,"sql_data_type":5,"num_prec_radix":10,"local_type_name":"SMALLINT"},
{"type_name":"INTEGER","data_type":4,"column_size":10,"nullable":1,"case_sensitive":false,"searchable":3,"unsigned_attribute":false,"fixed_prec_scale":false,"sql_data_type":4,"num_prec_radix":10,"local_type_name":"INTEGER"},
{"type_name":"BIGINT","data_type":-5,"column_size":19,"nullable":1,"case_sensitive":false,"searchable":3,"unsigned_attribute":false,"fixed_prec_scale":false,"sql_data_type":-5,"num_prec_radix":10,"local_type_name":"BIGINT"},
{"type_name":"FLOAT","data_type":6,"column_size":24,"nullable":1,"case_sensitive":false,"searchable":3,"unsigned_attribute":false,"fixed_prec_scale":false,"sql_data_type":6,"num_prec_radix":2,"local_type_name":"FLOAT"},
{"type_name":"DOUBLE","data_type":8,"column_size":53,"nullable":1,"case_sensitive":false,"searchable":3,"unsigned_attribute":false,"fixed_prec_scale":false,"sql_data_type":8,"num_prec_radix":2,"local_type_name":"DOUBLE"},
{"type_name":"VARCHAR","data_type":12,"nullable":1,"case_sensitive":true,"searchable":3,"fixed_prec_scale":false,"sql_data_type":12,"literal_prefix":"'","literal_suffix":"'","local_type_name":"VARCHAR"},
{"type_name":"BLOB","data_type":-3,"nullable":1,"case_sensitive":false,"searchable":0,"fixed_prec_scale":false,"sql_data_type":-3,"literal_prefix":"'","literal_suffix":"'","local_type_name":"BLOB"},
{"type_name":"DATE","data_type":91,"nullable":1,"case_sensitive":false,"searchable":3,"fixed_prec_scale":false,"sql_data_type":9,"datetime_subcode":1,"literal_prefix":"DATE '","literal_suffix":"'","local_type_name":"DATE"},
{"type_name":"TIMESTAMP","data_type":93,"nullable":1,"case_sensitive":false,"searchable":3,"fixed_prec_scale":false,"sql_data_type":9,"datetime_subcode":3,"literal_prefix":"TIMESTAMP '","literal_suffix":"'","local_type_name":"TIMESTAMP"}
]`

func (s *sqlServer) GetFlightInfoXdbcTypeInfo(_ context.Context, _ flightsql.GetXdbcTypeInfo, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.info(desc, schema_ref.XdbcTypeInfo), nil
}

func (s *sqlServer) DoGetXdbcTypeInfo(_ context.Context, cmd flightsql.GetXdbcTypeInfo) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	rec, _, err := array.RecordFromJSON(s.svc.mem, schema_ref.XdbcTypeInfo, strings.NewReader(xdbcTypes))
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "xdbc type info: %v", err)
	}
	if dt := cmd.GetDataType(); dt != nil {
		codes := rec.Column(1).(*array.Int32)
		var part arrow.RecordBatch
		for i := 0; i < codes.Len(); i++ {
			if codes.Value(i) == *dt {
				part = rec.NewSlice(int64(i), int64(i+1))
				break
			}
		}
		if part == nil {
			part = rec.NewSlice(0, 0)
		}
		rec.Release()
		rec = part
	}
	return schema_ref.XdbcTypeInfo, oneBatch(rec), nil
}

// likeMatch matches s against a SQL LIKE pattern (% any run, _ one
// character, \ escapes); nil or "" matches everything.
func likeMatch(pattern *string, s string) bool {
	if pattern == nil || *pattern == "" {
		return true
	}
	var re strings.Builder
	re.WriteString("^(?s)")
	p := []rune(*pattern)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			re.WriteString(regexp.QuoteMeta(string(p[i])))
		case c == '%':
			re.WriteString(".*")
		case c == '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	ok, err := regexp.MatchString(re.String(), s)
	return err == nil && ok
}

// ---- Statements ----

// statementHandle is the opaque handle of a CommandStatementQuery's
// ticket: the statement itself, so the ticket stays valid (past the five
// minutes API.md promises) and every DoGet reads fresh snapshots.
const statementHandlePrefix = "flightwal-sql-1:"

// countPrefix starts the handle of a write run through the query path
// (ADBC's and DB-API's execute of an INSERT): the write ran when the
// FlightInfo was asked for, and the ticket reads its count.
const countPrefix = "flightwal-sql-count:"

// countSchema is the result of a write run as a query: the rows affected.
var countSchema = arrow.NewSchema([]arrow.Field{{Name: "count", Type: arrow.PrimitiveTypes.Int64}}, nil)

// statementKind authorizes query for ctx's caller and tells its kind.
func statementKind(ctx context.Context, query string) (sqlexec.Kind, error) {
	kind := sqlexec.Classify(query)
	if err := authorize(ctx, sqlRoles[kind], "SQL "+kind.String()); err != nil {
		return kind, err
	}
	if kind == sqlexec.KindTransaction {
		return kind, status.Error(codes.Unimplemented, "transactions are not supported (GetSqlInfo: FLIGHT_SQL_SERVER_TRANSACTION none): every statement reads its own snapshot, every write is durable on its own")
	}
	return kind, nil
}

func (s *sqlServer) GetFlightInfoStatement(ctx context.Context, cmd flightsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if len(cmd.GetTransactionId()) > 0 {
		return nil, status.Error(codes.Unimplemented, "transactions are not supported (GetSqlInfo: FLIGHT_SQL_SERVER_TRANSACTION none)")
	}
	kind, err := statementKind(ctx, cmd.GetQuery())
	if err != nil {
		return nil, err
	}
	if kind.IsWrite() {
		return s.execAsQuery(ctx, cmd.GetQuery(), nil, desc)
	}
	sc, err := s.schema(ctx, cmd.GetQuery())
	if err != nil {
		return nil, err
	}
	return s.ticketInfo(desc, sc, statementHandlePrefix+cmd.GetQuery())
}

// ticketInfo is a FlightInfo of one endpoint whose ticket holds handle.
func (s *sqlServer) ticketInfo(desc *flight.FlightDescriptor, sc *arrow.Schema, handle string) (*flight.FlightInfo, error) {
	tkt, err := flightsql.CreateStatementQueryTicket([]byte(handle))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "statement ticket: %v", err)
	}
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: tkt}}},
		FlightDescriptor: desc,
		Schema:           flight.SerializeSchema(sc, s.svc.mem),
		TotalRecords:     -1,
		TotalBytes:       -1,
	}, nil
}

// execAsQuery runs a write given as a query now and answers a FlightInfo
// whose ticket reads the count.
func (s *sqlServer) execAsQuery(ctx context.Context, query string, params [][]any, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	n, err := s.exec(ctx, query, params)
	if err != nil {
		return nil, err
	}
	info, err := s.ticketInfo(desc, countSchema, countPrefix+strconv.FormatInt(n, 10))
	if err == nil {
		info.TotalRecords = 1
	}
	return info, err
}

// exec runs a write statement (authorized already).
func (s *sqlServer) exec(ctx context.Context, query string, params [][]any) (int64, error) {
	eng, err := s.engine()
	if err != nil {
		return 0, err
	}
	n, err := eng.Exec(ctx, query, params)
	if err != nil {
		return 0, sqlStatus(err)
	}
	return n, nil
}

func (s *sqlServer) GetSchemaStatement(ctx context.Context, cmd flightsql.StatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	kind, err := statementKind(ctx, cmd.GetQuery())
	if err != nil {
		return nil, err
	}
	sc := countSchema
	if !kind.IsWrite() {
		if sc, err = s.schema(ctx, cmd.GetQuery()); err != nil {
			return nil, err
		}
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(sc, s.svc.mem)}, nil
}

func (s *sqlServer) DoGetStatement(ctx context.Context, tkt flightsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	h := string(tkt.GetStatementHandle())
	if n, ok := strings.CutPrefix(h, countPrefix); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, nil, status.Error(codes.InvalidArgument, "Flight SQL statement ticket: a bad count")
		}
		b := array.NewRecordBuilder(s.svc.mem, countSchema)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).Append(v)
		return countSchema, oneBatch(b.NewRecordBatch()), nil
	}
	if !strings.HasPrefix(h, statementHandlePrefix) {
		return nil, nil, status.Error(codes.InvalidArgument, "Flight SQL statement ticket: not one this server made (get it from GetFlightInfo)")
	}
	query := strings.TrimPrefix(h, statementHandlePrefix)
	if kind, err := statementKind(ctx, query); err != nil {
		return nil, nil, err
	} else if kind.IsWrite() {
		return nil, nil, status.Error(codes.InvalidArgument, "Flight SQL statement ticket: a write's ticket holds its count")
	}
	return s.stream(ctx, query, nil)
}

// DoPutCommandStatementUpdate runs INSERT, DELETE, CREATE TABLE or DROP
// TABLE and answers the rows affected once durable.
func (s *sqlServer) DoPutCommandStatementUpdate(ctx context.Context, cmd flightsql.StatementUpdate) (int64, error) {
	if len(cmd.GetTransactionId()) > 0 {
		return 0, status.Error(codes.Unimplemented, "transactions are not supported (GetSqlInfo: FLIGHT_SQL_SERVER_TRANSACTION none)")
	}
	if _, err := statementKind(ctx, cmd.GetQuery()); err != nil {
		return 0, err
	}
	return s.exec(ctx, cmd.GetQuery(), nil)
}

// stream runs query and streams its result, each batch in messages under
// the 4 MiB limit.
func (s *sqlServer) stream(ctx context.Context, query string, args []any) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	eng, err := s.engine()
	if err != nil {
		return nil, nil, err
	}
	rows, err := eng.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, sqlStatus(err)
	}
	sc := rows.Schema() // before the goroutine, which closes rows
	ch := make(chan flight.StreamChunk, 2)
	go func() {
		defer close(ch)
		defer rows.Close()
		send := func(c flight.StreamChunk) bool {
			select {
			case ch <- c:
				return true
			case <-ctx.Done():
				if c.Data != nil {
					c.Data.Release()
				}
				return false
			}
		}
		for rows.Next() {
			err := eachMessage(rows.RecordBatch(), func(part arrow.RecordBatch) error {
				part.Retain() // the receiver of the chunk releases it
				if !send(flight.StreamChunk{Data: part}) {
					return ctx.Err()
				}
				return nil
			})
			if err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			send(flight.StreamChunk{Err: sqlStatus(err)})
		}
	}()
	return sc, ch, nil
}

// ---- Prepared statements ----

func (s *sqlServer) CreatePreparedStatement(ctx context.Context, req flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	var res flightsql.ActionCreatePreparedStatementResult
	if len(req.GetTransactionId()) > 0 {
		return res, status.Error(codes.Unimplemented, "transactions are not supported (GetSqlInfo: FLIGHT_SQL_SERVER_TRANSACTION none)")
	}
	kind, err := statementKind(ctx, req.GetQuery())
	if err != nil {
		return res, err
	}
	eng, err := s.engine()
	if err != nil {
		return res, err
	}
	params, err := eng.Params(ctx, req.GetQuery())
	if err != nil {
		return res, sqlStatus(err)
	}
	fields := make([]arrow.Field, len(params))
	for i, t := range params {
		fields[i] = arrow.Field{Name: fmt.Sprintf("$%d", i+1), Type: t, Nullable: true}
	}
	res.ParameterSchema = arrow.NewSchema(fields, nil)
	if len(params) == 0 && !kind.IsWrite() {
		// With parameters the result's schema may depend on them: it is
		// known once they are bound (GetSchema, GetFlightInfo).
		if res.DatasetSchema, err = eng.Schema(ctx, req.GetQuery()); err != nil {
			return res, sqlStatus(err)
		}
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return res, status.Errorf(codes.Internal, "statement handle: %v", err)
	}
	h := hex.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stmts) >= maxPrepared {
		return res, status.Errorf(codes.ResourceExhausted, "%d prepared statements are open: close some (ClosePreparedStatement)", maxPrepared)
	}
	s.stmts[h] = &preparedStmt{query: req.GetQuery(), kind: kind, nparams: len(params)}
	res.Handle = []byte(h)
	return res, nil
}

func (s *sqlServer) ClosePreparedStatement(_ context.Context, req flightsql.ActionClosePreparedStatementRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := string(req.GetPreparedStatementHandle())
	if _, ok := s.stmts[h]; !ok {
		return status.Error(codes.NotFound, "prepared statement: unknown handle (closed already?)")
	}
	delete(s.stmts, h)
	return nil
}

// prepared returns a copy of the statement h names.
func (s *sqlServer) prepared(h []byte) (preparedStmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.stmts[string(h)]
	if !ok {
		return preparedStmt{}, status.Error(codes.NotFound, "prepared statement: unknown handle (closed, or made by another server)")
	}
	return *p, nil
}

// DoPutPreparedStatementQuery binds parameters: one column per parameter
// in order, one row per execution (a query takes one). They stay bound
// until the next DoPut.
func (s *sqlServer) DoPutPreparedStatementQuery(_ context.Context, cmd flightsql.PreparedStatementQuery, rdr flight.MessageReader, _ flight.MetadataWriter) ([]byte, error) {
	h := cmd.GetPreparedStatementHandle()
	p, err := s.prepared(h)
	if err != nil {
		return nil, err
	}
	rows, err := readParams(rdr, p.nparams)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[string(h)]; ok {
		st.rows = rows
	}
	return h, nil
}

// maxParamRows bounds the rows of parameters one DoPut binds.
const maxParamRows = 1 << 20

// readParams reads rows of parameters: one column per parameter.
func readParams(rdr flight.MessageReader, nparams int) ([][]any, error) {
	var rows [][]any
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if int(rec.NumCols()) != nparams {
			return nil, status.Errorf(codes.InvalidArgument, "prepared statement: %d parameter columns bound, the statement has %d parameters", rec.NumCols(), nparams)
		}
		if len(rows)+int(rec.NumRows()) > maxParamRows {
			return nil, status.Errorf(codes.ResourceExhausted, "prepared statement: more than %d rows of parameters in one DoPut", maxParamRows)
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			args := make([]any, rec.NumCols())
			for c, col := range rec.Columns() {
				args[c] = paramValue(col, r)
			}
			rows = append(rows, args)
		}
	}
	if err := rdr.Err(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "prepared statement: reading the parameters: %v", err)
	}
	return rows, nil
}

// DoPutPreparedStatementUpdate runs a prepared write once per row of the
// parameters sent with it (or those bound before), as one durable batch.
func (s *sqlServer) DoPutPreparedStatementUpdate(ctx context.Context, cmd flightsql.PreparedStatementUpdate, rdr flight.MessageReader) (int64, error) {
	p, err := s.prepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return 0, err
	}
	if _, err := statementKind(ctx, p.query); err != nil {
		return 0, err
	}
	rows, err := readParams(rdr, p.nparams)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		rows = p.rows
	}
	if len(rows) == 0 && p.nparams > 0 {
		return 0, status.Error(codes.InvalidArgument, "prepared update: no parameters bound")
	}
	return s.exec(ctx, p.query, rows)
}

// paramValue is row r of col as a Go value for the engine.
func paramValue(col arrow.Array, r int) any {
	if col.IsNull(r) {
		return nil
	}
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(r)
	case *array.Int32:
		return a.Value(r)
	case *array.Int16:
		return a.Value(r)
	case *array.Int8:
		return a.Value(r)
	case *array.Uint64:
		return a.Value(r)
	case *array.Uint32:
		return a.Value(r)
	case *array.Uint16:
		return a.Value(r)
	case *array.Uint8:
		return a.Value(r)
	case *array.Float64:
		return a.Value(r)
	case *array.Float32:
		return a.Value(r)
	case *array.Boolean:
		return a.Value(r)
	case *array.String:
		return a.Value(r)
	case *array.LargeString:
		return a.Value(r)
	case *array.Binary:
		return a.Value(r)
	}
	return col.ValueStr(r)
}

func (s *sqlServer) GetFlightInfoPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	p, err := s.prepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	if _, err := statementKind(ctx, p.query); err != nil {
		return nil, err
	}
	if p.kind.IsWrite() {
		if len(p.rows) == 0 && p.nparams > 0 {
			return nil, status.Error(codes.InvalidArgument, "prepared update: no parameters bound")
		}
		return s.execAsQuery(ctx, p.query, p.rows, desc)
	}
	sc, err := s.preparedSchema(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return s.info(desc, sc), nil
}

func (s *sqlServer) GetSchemaPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	sc, err := s.preparedSchema(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(sc, s.svc.mem)}, nil
}

// preparedSchema is the result schema of a prepared statement with its
// bound parameters.
func (s *sqlServer) preparedSchema(ctx context.Context, cmd flightsql.PreparedStatementQuery) (*arrow.Schema, error) {
	p, err := s.prepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	if _, err := statementKind(ctx, p.query); err != nil {
		return nil, err
	}
	if p.kind.IsWrite() {
		return countSchema, nil
	}
	args, err := p.args()
	if err != nil {
		return nil, err
	}
	return s.schema(ctx, p.query, args...)
}

// schema is the result schema of query with args, or its error as a
// status.
func (s *sqlServer) schema(ctx context.Context, query string, args ...any) (*arrow.Schema, error) {
	eng, err := s.engine()
	if err != nil {
		return nil, err
	}
	sc, err := eng.Schema(ctx, query, args...)
	if err != nil {
		return nil, sqlStatus(err)
	}
	return sc, nil
}

func (s *sqlServer) DoGetPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	p, err := s.prepared(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, nil, err
	}
	if _, err := statementKind(ctx, p.query); err != nil {
		return nil, nil, err
	}
	if p.kind.IsWrite() {
		return nil, nil, status.Error(codes.InvalidArgument, "prepared statement: a write runs with GetFlightInfo or an update (DoPut)")
	}
	args, err := p.args()
	if err != nil {
		return nil, nil, err
	}
	return s.stream(ctx, p.query, args)
}
