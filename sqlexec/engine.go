//go:build duckdb_arrow

package sqlexec

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/flightwal/flightwal/lsm"
)

// Available reports whether this build has the SQL engine.
const Available = true

// Options configures the engine.
type Options struct {
	Allocator memory.Allocator // for the snapshot reads
	// MemoryLimit bounds the engine's memory in bytes (sql.memory_limit;
	// 0: DuckDB's default, 80% of RAM). A statement that needs more
	// spills to TempDir or fails with lsm.ErrResourceExhausted.
	MemoryLimit int64
	Threads     int // DuckDB's threads (0 = DuckDB's default)
	// TempDir is where the engine spills; "" makes a directory under
	// os.TempDir that Close removes.
	TempDir string
}

// Engine runs SQL statements over flightwal tables.
type Engine struct {
	db      *lsm.DB
	mem     memory.Allocator
	conn    *duckdb.Connector
	tempDir string // removed by Close
}

// New opens an in-memory DuckDB for db's tables.
func New(db *lsm.DB, opts Options) (*Engine, error) {
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	e := &Engine{db: db, mem: opts.Allocator}
	if opts.TempDir == "" {
		dir, err := os.MkdirTemp("", "flightwal-sql-")
		if err != nil {
			return nil, fmt.Errorf("opening the SQL engine: %w", err)
		}
		opts.TempDir, e.tempDir = dir, dir
	}
	dsn := "?autoinstall_known_extensions=false&autoload_known_extensions=false"
	if opts.MemoryLimit > 0 {
		dsn += fmt.Sprintf("&memory_limit=%dKiB", max(opts.MemoryLimit>>10, 1))
	}
	if opts.Threads > 0 {
		dsn += fmt.Sprintf("&threads=%d", opts.Threads)
	}
	// The database is configured once, by its first connection: then
	// statements read flightwal tables only (no files, no URLs, no
	// extensions fetched: a client must not read the server's disk
	// through read_csv and the like), and no statement changes a setting
	// (memory_limit above all).
	var once sync.Once
	var onceErr error
	c, err := duckdb.NewConnector(dsn, func(ex driver.ExecerContext) error {
		once.Do(func() {
			for _, s := range []string{
				"SET temp_directory = '" + strings.ReplaceAll(opts.TempDir, "'", "''") + "'",
				"SET enable_external_access = false",
				"SET preserve_insertion_order = false",
				"SET lock_configuration = true",
			} {
				if _, err := ex.ExecContext(context.Background(), s, nil); err != nil {
					onceErr = err
					return
				}
			}
		})
		return onceErr
	})
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("opening the SQL engine: %w", err)
	}
	e.conn = c
	return e, nil
}

func (e *Engine) removeTemp() {
	if e.tempDir != "" {
		os.RemoveAll(e.tempDir)
	}
}

// Close closes the engine.
func (e *Engine) Close() error {
	defer e.removeTemp()
	return e.conn.Close()
}

// Rows is a running statement's result. Close it.
type Rows struct {
	array.RecordReader
	sess *session
}

// Close releases the result, the statement's tables and its connection.
func (r *Rows) Close() {
	if r.RecordReader != nil {
		r.RecordReader.Release()
		r.RecordReader = nil
	}
	r.sess.close()
}

// Err is the error that stopped Next, as the engine's SQL error.
func (r *Rows) Err() error { return sqlError(r.RecordReader.Err()) }

// Schema returns the schema of query's result without reading any table's
// rows: the statement runs over empty tables of the same schemas. Syntax
// errors, unknown tables and columns are reported as Query would.
func (e *Engine) Schema(ctx context.Context, query string, args ...any) (*arrow.Schema, error) {
	rows, err := e.run(ctx, query, true, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Schema(), nil
}

// Params returns the type of each parameter of query (placeholders ? or
// $n, in order) as the engine infers it; a type it leaves open (a
// parameter compared with another parameter, say) is arrow.Null.
func (e *Engine) Params(ctx context.Context, query string) ([]arrow.DataType, error) {
	s, rewritten, err := e.open(ctx, query, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	st, err := s.conn.(driver.ConnPrepareContext).PrepareContext(ctx, rewritten)
	if err != nil {
		return nil, sqlError(err)
	}
	defer st.Close()
	ds := st.(*duckdb.Stmt)
	out := make([]arrow.DataType, ds.NumInput())
	for i := range out {
		t, err := ds.ParamType(i + 1)
		if err != nil {
			return nil, sqlError(err)
		}
		out[i] = paramTypes[t]
		if out[i] == nil {
			out[i] = arrow.Null
		}
	}
	return out, nil
}

// paramTypes are the Arrow types of the engine's parameter types.
var paramTypes = map[duckdb.Type]arrow.DataType{
	duckdb.TYPE_BOOLEAN:   arrow.FixedWidthTypes.Boolean,
	duckdb.TYPE_TINYINT:   arrow.PrimitiveTypes.Int8,
	duckdb.TYPE_SMALLINT:  arrow.PrimitiveTypes.Int16,
	duckdb.TYPE_INTEGER:   arrow.PrimitiveTypes.Int32,
	duckdb.TYPE_BIGINT:    arrow.PrimitiveTypes.Int64,
	duckdb.TYPE_UTINYINT:  arrow.PrimitiveTypes.Uint8,
	duckdb.TYPE_USMALLINT: arrow.PrimitiveTypes.Uint16,
	duckdb.TYPE_UINTEGER:  arrow.PrimitiveTypes.Uint32,
	duckdb.TYPE_UBIGINT:   arrow.PrimitiveTypes.Uint64,
	duckdb.TYPE_FLOAT:     arrow.PrimitiveTypes.Float32,
	duckdb.TYPE_DOUBLE:    arrow.PrimitiveTypes.Float64,
	duckdb.TYPE_VARCHAR:   arrow.BinaryTypes.String,
	duckdb.TYPE_BLOB:      arrow.BinaryTypes.Binary,
	duckdb.TYPE_DATE:      arrow.FixedWidthTypes.Date32,
	duckdb.TYPE_TIMESTAMP: arrow.FixedWidthTypes.Timestamp_us,
}

// Query runs query over snapshots of the tables it names, taken now.
func (e *Engine) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	return e.run(ctx, query, false, args)
}

func (e *Engine) run(ctx context.Context, query string, empty bool, args []any) (*Rows, error) {
	if rr := e.fastSelect(ctx, query, empty, args); rr != nil {
		return &Rows{RecordReader: rr, sess: &session{}}, nil
	}
	s, rewritten, err := e.openWith(ctx, query, func(string) bool { return empty }, len(args) == 0)
	if err != nil {
		return nil, err
	}
	if s.direct != nil {
		rr := s.direct
		s.direct = nil
		return &Rows{RecordReader: rr, sess: s}, nil
	}
	if err := s.checkQuery(ctx, rewritten); err != nil {
		s.close()
		return nil, err
	}
	rr, err := s.arrow.QueryContext(ctx, rewritten, args...)
	if err != nil {
		s.close()
		return nil, sqlError(err)
	}
	return &Rows{RecordReader: rr, sess: s}, nil
}

// session is one DuckDB connection holding a statement's tables.
type session struct {
	conn  driver.Conn
	arrow *duckdb.Arrow
	// direct is the answer of a plain select its table's scan gave
	// (pushdown.go), when the statement needs no engine.
	direct array.RecordReader
}

func (s *session) close() {
	if s.direct != nil {
		s.direct.Release()
		s.direct = nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

func (s *session) exec(ctx context.Context, stmt string) error {
	_, err := s.conn.(driver.ExecerContext).ExecContext(ctx, stmt, nil)
	return err
}

// execArgs runs stmt with positional args, as the engine's error.
func (s *session) execArgs(ctx context.Context, stmt string, args []any) error {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	_, err := s.conn.(driver.ExecerContext).ExecContext(ctx, stmt, named)
	return sqlError(err)
}

// stmtType prepares query (checking it) and tells its type.
func (s *session) stmtType(ctx context.Context, query string) (duckdb.StmtType, error) {
	st, err := s.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return duckdb.STATEMENT_TYPE_INVALID, sqlError(err)
	}
	defer st.Close()
	typ, err := st.(*duckdb.Stmt).StatementType()
	if err != nil {
		return duckdb.STATEMENT_TYPE_INVALID, sqlError(err)
	}
	return typ, nil
}

// checkQuery accepts queries only: a write here would change the
// statement's private copy, not the table (writes run in Exec).
func (s *session) checkQuery(ctx context.Context, query string) error {
	if err := oneStatement(query); err != nil {
		return err
	}
	typ, err := s.stmtType(ctx, query)
	if err != nil {
		return err
	}
	switch typ {
	case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN:
		return nil
	case duckdb.STATEMENT_TYPE_TRANSACTION:
		return fmt.Errorf("%w: transactions: every statement reads its own snapshot and every write is durable on its own", ErrUnimplemented)
	case duckdb.STATEMENT_TYPE_INSERT, duckdb.STATEMENT_TYPE_DELETE, duckdb.STATEMENT_TYPE_CREATE, duckdb.STATEMENT_TYPE_DROP:
		return fmt.Errorf("%w: %s is a write: run it with Exec", ErrNotQuery, Classify(query))
	}
	return fmt.Errorf("%w: flightwal runs queries (SELECT, WITH, EXPLAIN), INSERT, DELETE, CREATE TABLE and DROP TABLE", ErrUnimplemented)
}

// open reads the tables query names into a new connection (as empty
// tables if empty), all from snapshots taken together before any is read.
func (e *Engine) open(ctx context.Context, query string, empty bool) (*session, string, error) {
	return e.openWith(ctx, query, func(string) bool { return empty }, false)
}

// resolver maps a name as SQL spells it (folded to lower case unless
// quoted) to a table's stored name, or "".
func (e *Engine) resolver(ctx context.Context) (func(string) string, error) {
	names, err := e.db.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]string, len(names))
	for _, n := range names {
		byName[n] = n
		if _, ok := byName[strings.ToLower(n)]; !ok {
			byName[strings.ToLower(n)] = n
		}
	}
	return func(s string) string { return byName[s] }, nil
}

// openWith is open with the tables for which empty is true read without
// their rows.
// With mayDirect, a plain select its table's scan answers is answered so
// (session.direct) and no table is loaded.
func (e *Engine) openWith(ctx context.Context, query string, empty func(table string) bool, mayDirect bool) (*session, string, error) {
	known, err := e.resolver(ctx)
	if err != nil {
		return nil, "", err
	}
	query, calls, err := tableFunctions(query)
	if err != nil {
		return nil, "", err
	}
	rewritten, refs := tableRefs(query, known)
	tables := make([]*lsm.Table, 0, len(refs))
	for _, n := range refs {
		t, err := e.db.Table(ctx, n)
		if errors.Is(err, lsm.ErrNotFound) {
			continue // dropped since ListTables: the engine reports it unknown
		}
		if err != nil {
			return nil, "", err
		}
		tables = append(tables, t)
	}
	// The tables and plans of nearest() and search() calls.
	fnTables := make([]*lsm.Table, len(calls))
	fnPlans := make([]*lsm.Plan, len(calls))
	for i, c := range calls {
		name := known(c.table)
		if name == "" {
			name = known(strings.ToLower(c.table))
		}
		if name == "" {
			return nil, "", fmt.Errorf("%w: table %q", lsm.ErrNotFound, c.table)
		}
		t, err := e.db.Table(ctx, name)
		if err != nil {
			return nil, "", err
		}
		if fnPlans[i], err = t.Prepare(c.query); err != nil {
			return nil, "", fmt.Errorf("table %q: %w", name, err)
		}
		fnTables[i] = t
	}
	// One snapshot per table, all taken before any is read.
	snapOf := map[string]*lsm.Snapshot{}
	defer func() {
		for _, sn := range snapOf {
			sn.Release()
		}
	}()
	snapshot := func(t *lsm.Table) *lsm.Snapshot {
		if empty(t.Name()) {
			return nil
		}
		if sn, ok := snapOf[t.Name()]; ok {
			return sn
		}
		sn := t.Snapshot()
		snapOf[t.Name()] = sn
		return sn
	}
	snaps := make([]*lsm.Snapshot, len(tables))
	for i, t := range tables {
		snaps[i] = snapshot(t)
	}
	fnSnaps := make([]*lsm.Snapshot, len(calls))
	for i, t := range fnTables {
		fnSnaps[i] = snapshot(t)
	}
	dc, err := e.conn.Connect(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("SQL engine: %w", err)
	}
	ar, err := duckdb.NewArrowFromConn(dc)
	if err != nil {
		dc.Close()
		return nil, "", fmt.Errorf("SQL engine: %w", err)
	}
	s := &session{conn: dc, arrow: ar}
	scans := s.pushdown(ctx, rewritten, tables, known, mayDirect && len(calls) == 0)
	if mayDirect && scans.direct != "" && len(calls) == 0 {
		for i, t := range tables {
			if t.Name() == scans.direct {
				rr, err := directScan(ctx, e.mem, t, snaps[i], scans.plans[i])
				if err != nil {
					s.close()
					return nil, "", err
				}
				s.direct = rr
				return s, rewritten, nil
			}
		}
	}
	for i, t := range tables {
		if err := s.load(ctx, e.mem, t.Name(), t, snaps[i], scans.plans[i], i); err != nil {
			s.close()
			return nil, "", err
		}
	}
	for i, t := range fnTables {
		if err := s.load(ctx, e.mem, fnTableName(i), t, fnSnaps[i], fnPlans[i], len(tables)+i); err != nil {
			s.close()
			return nil, "", err
		}
	}
	return s, rewritten, nil
}

// scanPlans are the scans of a statement's tables (in open's order) and
// the table that answers it directly, if any.
type scanPlans struct {
	plans  []*lsm.Plan
	direct string
}

// pushdown plans each table's scan from the statement's syntax tree
// (pushdown.go): a request lsm refuses is narrowed (the key lookup
// dropped, then each conjunct it cannot bind) down to a full scan.
func (s *session) pushdown(ctx context.Context, query string, tables []*lsm.Table, known func(string) string, mayDirect bool) scanPlans {
	out := scanPlans{plans: make([]*lsm.Plan, len(tables))}
	infos := make(map[string]tableInfo, len(tables))
	for _, t := range tables {
		infos[t.Name()] = tableInfo{schema: t.Schema(), pk: t.PrimaryKey()}
	}
	if Classify(query) == KindDelete {
		query = deleteAsSelect(query, infos, known)
	}
	var tree []byte
	if rr, err := s.arrow.QueryContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)", query); err == nil {
		for tree == nil && rr.Next() { // the row may follow empty batches
			if col, ok := rr.RecordBatch().Column(0).(*array.String); ok && col.Len() == 1 {
				tree = []byte(col.Value(0))
			}
		}
		rr.Release()
	}
	p := analyze(tree, infos, known)
	if !mayDirect {
		p.direct = "" // the engine runs the statement: its scans read what it mentions
	}
	for i, t := range tables {
		req := p.scans[t.Name()]
		q := lsm.Query{Columns: req.columns, Filter: filterText(req.filter), PK: req.pk}
		if t.Name() == p.direct {
			q.Columns, q.Limit = p.directColumns, p.directLimit
		}
		plan, err := t.Prepare(q)
		if err != nil && q.PK != nil {
			q.PK = nil
			plan, err = t.Prepare(q)
		}
		if err != nil {
			var kept []string
			for _, c := range req.filter {
				if _, err := t.Prepare(lsm.Query{Filter: c}); err == nil {
					kept = append(kept, c)
				}
			}
			q.Filter = ""
			if len(kept) > 0 {
				q.Filter = filterText(kept)
			}
			if len(kept) < len(req.filter) && t.Name() == p.direct {
				p.direct = "" // the engine must apply what the scan cannot
			}
			if plan, err = t.Prepare(q); err != nil {
				plan, _ = t.Prepare(lsm.Query{}) // every table takes the empty query
				if t.Name() == p.direct {
					p.direct = ""
				}
			}
		}
		out.plans[i] = plan
	}
	out.direct = p.direct
	return out
}

// directScan reads plan over snap (no rows if snap is nil) as the
// statement's result: the scan's columns without Lance's field metadata.
func directScan(ctx context.Context, mem memory.Allocator, t *lsm.Table, snap *lsm.Snapshot, plan *lsm.Plan) (array.RecordReader, error) {
	schema := plainSchema(plan.Schema())
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if snap != nil {
		err := snap.Run(ctx, mem, plan, func(rec arrow.RecordBatch) error {
			recs = append(recs, array.NewRecordBatch(schema, rec.Columns(), rec.NumRows()))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading table %q: %w", t.Name(), err)
		}
	}
	return array.NewRecordReader(schema, recs)
}

// plainSchema is s without metadata: DuckDB gets the columns only, field
// metadata is Lance's business.
func plainSchema(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	for j := range fields {
		fields[j].Metadata = arrow.Metadata{}
	}
	return arrow.NewSchema(fields, nil)
}

// load copies what plan reads of a snapshot of t (or none of its rows, if
// snap is nil) into a temporary table of the connection named as.
func (s *session) load(ctx context.Context, mem memory.Allocator, as string, t *lsm.Table, snap *lsm.Snapshot, plan *lsm.Plan, i int) error {
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if snap != nil {
		err := snap.Run(ctx, mem, plan, func(rec arrow.RecordBatch) error {
			rec.Retain()
			recs = append(recs, rec)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading table %q: %w", t.Name(), err)
		}
	}
	schema := plainSchema(plan.Schema())
	plain := make([]arrow.RecordBatch, len(recs))
	for j, r := range recs {
		plain[j] = array.NewRecordBatch(schema, r.Columns(), r.NumRows())
	}
	defer func() {
		for _, r := range plain {
			r.Release()
		}
	}()
	rdr, err := array.NewRecordReader(schema, plain)
	if err != nil {
		return err
	}
	defer rdr.Release()
	scan := fmt.Sprintf("__flightwal_scan_%d", i)
	release, err := s.arrow.RegisterView(rdr, scan)
	if err != nil {
		return fmt.Errorf("SQL engine: table %q: %w", t.Name(), err)
	}
	defer release()
	if err := s.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT * FROM %s", quoteIdent(as), scan)); err != nil {
		return fmt.Errorf("SQL engine: loading table %q: %w", t.Name(), sqlError(err))
	}
	return s.exec(ctx, "DROP VIEW "+scan)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqlError maps the engine's errors to lsm's kinds (API.md, Errors): an
// unknown table is NotFound, any other SQL error InvalidArgument with
// DuckDB's message.
func sqlError(err error) error {
	var de *duckdb.Error
	if err == nil || !errors.As(err, &de) {
		return err
	}
	switch de.Type {
	case duckdb.ErrorTypeCatalog:
		if strings.Contains(de.Msg, "Table with name") || strings.Contains(de.Msg, "does not exist") && strings.Contains(de.Msg, "Table") {
			return fmt.Errorf("%w: %s", lsm.ErrNotFound, de.Msg)
		}
	case duckdb.ErrorTypeOutOfMemory:
		return fmt.Errorf("%w: the statement needs more than the SQL engine's memory (sql.memory_limit): %s", lsm.ErrResourceExhausted, de.Msg)
	case duckdb.ErrorTypeInterrupt:
		return fmt.Errorf("%w: %s", context.Canceled, de.Msg)
	case duckdb.ErrorTypeInternal, duckdb.ErrorTypeFatal, duckdb.ErrorTypeIO, duckdb.ErrorTypeConnection:
		return fmt.Errorf("SQL engine: %s", de.Msg)
	case duckdb.ErrorTypeNotImplemented:
		return fmt.Errorf("%w: %s", ErrUnimplemented, de.Msg)
	}
	return fmt.Errorf("%w: %s", lsm.ErrInvalidArgument, de.Msg)
}
