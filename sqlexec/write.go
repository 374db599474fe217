//go:build duckdb_arrow

package sqlexec

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/flightwal/flightwal/lsm"
)

// Writes never let DuckDB change a table: the engine runs the statement
// over the statement's private copy of the tables it names, with
// RETURNING, to learn the rows it inserts or the keys it deletes, and
// writes those through lsm as one durable batch, as a DoPut does.

// Exec runs a write statement (INSERT, DELETE, CREATE TABLE, DROP TABLE)
// once per row of params (once without parameters if params is empty),
// writes what it changes through lsm as one batch and returns, once that
// is durable, the rows affected: inserted (a replaced key counts 1),
// deleted, or a CREATE TABLE ... AS SELECT's rows (0 for other DDL).
func (e *Engine) Exec(ctx context.Context, query string, params [][]any) (int64, error) {
	if err := oneStatement(query); err != nil {
		return 0, err
	}
	if len(params) == 0 {
		params = [][]any{nil}
	}
	switch kind := Classify(query); kind {
	case KindInsert, KindDelete:
		return e.execDML(ctx, kind, query, params)
	case KindCreate:
		return e.execCreate(ctx, query, params)
	case KindDrop:
		return e.execDrop(ctx, query)
	case KindQuery:
		return 0, fmt.Errorf("%w: a query returns rows: run it as a query (CommandStatementQuery, ExecuteQuery)", errInvalid)
	case KindTransaction:
		return 0, fmt.Errorf("%w: transactions: every write is durable on its own", ErrUnimplemented)
	}
	return 0, fmt.Errorf("%w: flightwal runs queries, INSERT, DELETE, CREATE TABLE and DROP TABLE", ErrUnimplemented)
}

func (e *Engine) execDML(ctx context.Context, kind Kind, query string, params [][]any) (int64, error) {
	written, err := dmlTarget(query, kind)
	if err != nil {
		return 0, err
	}
	known, err := e.resolver(ctx)
	if err != nil {
		return 0, err
	}
	name := known(written)
	if name == "" {
		return 0, fmt.Errorf("%w: table %q", lsm.ErrNotFound, written)
	}
	t, err := e.db.Table(ctx, name)
	if err != nil {
		return 0, err
	}
	op, want := lsm.OpUpsert, t.Schema()
	returning := "*"
	if kind == KindDelete {
		pk := t.PrimaryKey()
		if pk == "" {
			return 0, fmt.Errorf("%w: table %q has no primary key: it is append-only, DELETE needs a key", errInvalid, name)
		}
		op, returning = lsm.OpDelete, quoteIdent(pk)
		want = arrow.NewSchema([]arrow.Field{want.Field(want.FieldIndices(pk)[0])}, nil)
	}
	// An INSERT's target needs no rows unless the statement reads it too.
	uses := 0
	for _, tok := range lex(query) {
		if tok.word != "" && (tok.quoted && known(tok.word) == name || !tok.quoted && known(strings.ToLower(tok.word)) == name) {
			uses++
		}
	}
	s, rewritten, err := e.openWith(ctx, query, func(n string) bool { return kind == KindInsert && n == name && uses == 1 }, false)
	if err != nil {
		return 0, err
	}
	defer s.close()
	typ, err := s.stmtType(ctx, rewritten)
	if err != nil {
		return 0, err
	}
	if kind == KindInsert && typ != duckdb.STATEMENT_TYPE_INSERT || kind == KindDelete && typ != duckdb.STATEMENT_TYPE_DELETE {
		return 0, fmt.Errorf("%w: the statement is not a plain %s", ErrUnimplemented, kind)
	}
	stmt := trimStatement(rewritten) + " RETURNING " + returning
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, args := range params {
		rr, err := s.arrow.QueryContext(ctx, stmt, args...)
		if err != nil {
			return 0, sqlError(err)
		}
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			return 0, sqlError(err)
		}
	}
	return e.write(ctx, t, op, want, recs)
}

// write conforms recs to want and writes them through lsm as one batch,
// waiting until it is durable; it returns the rows written.
func (e *Engine) write(ctx context.Context, t *lsm.Table, op lsm.Op, want *arrow.Schema, recs []arrow.RecordBatch) (int64, error) {
	rec, err := conform(ctx, e, want, recs)
	if err != nil {
		return 0, fmt.Errorf("table %q: %w", t.Name(), err)
	}
	defer rec.Release()
	if rec.NumRows() == 0 {
		return 0, nil
	}
	w, err := t.NewWriter(want, op)
	if err != nil {
		return 0, fmt.Errorf("table %q: %w", t.Name(), err)
	}
	res, err := w.Write(ctx, e.mem, rec)
	if err != nil {
		return 0, fmt.Errorf("table %q: %w", t.Name(), err)
	}
	if err := t.WaitDurable(ctx, res); err != nil {
		return 0, fmt.Errorf("table %q: %w", t.Name(), err)
	}
	return rec.NumRows(), nil
}

// conform concatenates recs into one batch of schema want, each column
// cast to want's type (DuckDB's Arrow types differ from the table's in
// names of list items, string widths, units).
func conform(ctx context.Context, e *Engine, want *arrow.Schema, recs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, want.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for i, f := range want.Fields() {
		parts := make([]arrow.Array, 0, len(recs))
		release := func() {
			for _, p := range parts {
				p.Release()
			}
		}
		for _, r := range recs {
			if int(r.NumCols()) != want.NumFields() {
				release()
				return nil, fmt.Errorf("%w: %d columns, the table has %d", errInvalid, r.NumCols(), want.NumFields())
			}
			c, err := castTo(ctx, e, r.Column(i), f.Type)
			if err != nil {
				release()
				return nil, fmt.Errorf("%w: column %q: %v", errInvalid, f.Name, err)
			}
			parts = append(parts, c)
		}
		if len(parts) == 0 {
			b := array.NewBuilder(e.mem, f.Type)
			cols[i] = b.NewArray()
			b.Release()
		} else {
			c, err := array.Concatenate(parts, e.mem)
			release()
			if err != nil {
				return nil, err
			}
			cols[i] = c
		}
		rows = int64(cols[i].Len())
	}
	return array.NewRecordBatch(want, cols, rows), nil
}

// castTo is a (new reference to) a with type to: relabelled when only
// names of nested fields differ, cast otherwise.
func castTo(ctx context.Context, e *Engine, a arrow.Array, to arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(a.DataType(), to) {
		a.Retain()
		return a, nil
	}
	if d, ok := relabel(a.Data(), to); ok {
		defer d.Release()
		return array.MakeFromData(d), nil
	}
	return compute.CastArray(compute.WithAllocator(ctx, e.mem), a, compute.SafeCastOptions(to))
}

// relabel is d with type to when the two have the same layout (nested
// field names and nullability aside).
func relabel(d arrow.ArrayData, to arrow.DataType) (arrow.ArrayData, bool) {
	from := d.DataType()
	if arrow.TypeEqual(from, to) {
		d.Retain()
		return d, true
	}
	if from.ID() != to.ID() {
		return nil, false
	}
	var childTypes []arrow.DataType
	switch t := to.(type) {
	case *arrow.FixedSizeListType:
		if from.(*arrow.FixedSizeListType).Len() != t.Len() {
			return nil, false
		}
		childTypes = []arrow.DataType{t.Elem()}
	case *arrow.ListType:
		childTypes = []arrow.DataType{t.Elem()}
	case *arrow.LargeListType:
		childTypes = []arrow.DataType{t.Elem()}
	case *arrow.StructType:
		if from.(*arrow.StructType).NumFields() != t.NumFields() {
			return nil, false
		}
		for _, f := range t.Fields() {
			childTypes = append(childTypes, f.Type)
		}
	default:
		return nil, false
	}
	children := make([]arrow.ArrayData, len(childTypes))
	defer func() {
		for _, c := range children {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, ct := range childTypes {
		c, ok := relabel(d.Children()[i], ct)
		if !ok {
			return nil, false
		}
		children[i] = c
	}
	return array.NewData(to, d.Len(), d.Buffers(), children, d.NullN(), d.Offset()), true
}

func (e *Engine) execDrop(ctx context.Context, query string) (int64, error) {
	written, ifExists, _, err := ddlTarget(query, KindDrop)
	if err != nil {
		return 0, err
	}
	known, err := e.resolver(ctx)
	if err != nil {
		return 0, err
	}
	name := known(written)
	if name == "" {
		if ifExists {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: table %q", lsm.ErrNotFound, written)
	}
	err = e.db.DropTable(ctx, name)
	if ifExists && errors.Is(err, lsm.ErrNotFound) {
		err = nil
	}
	return 0, err
}

// execCreate makes the table CREATE TABLE describes: the engine creates
// it as a temporary table of the statement's connection, whose Arrow
// schema and primary key become the flightwal table's; a CREATE TABLE
// ... AS SELECT's rows are then written to it.
func (e *Engine) execCreate(ctx context.Context, query string, params [][]any) (int64, error) {
	written, ifNotExists, tableTok, err := ddlTarget(query, KindCreate)
	if err != nil {
		return 0, err
	}
	if len(params) > 1 {
		return 0, fmt.Errorf("%w: CREATE TABLE with several rows of parameters", errInvalid)
	}
	if err := lsm.CheckTableName(written); err != nil {
		return 0, err
	}
	known, err := e.resolver(ctx)
	if err != nil {
		return 0, err
	}
	if known(written) != "" {
		if ifNotExists {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: table %q", lsm.ErrAlreadyExists, written)
	}
	toks := lex(query)
	temp := query[:toks[tableTok].start] + "TEMP " + query[toks[tableTok].start:]
	s, rewritten, err := e.open(ctx, temp, false)
	if err != nil {
		return 0, err
	}
	defer s.close()
	if typ, err := s.stmtType(ctx, rewritten); err != nil {
		return 0, err
	} else if typ != duckdb.STATEMENT_TYPE_CREATE {
		return 0, fmt.Errorf("%w: the statement is not a plain CREATE TABLE", ErrUnimplemented)
	}
	if err := s.execArgs(ctx, rewritten, params[0]); err != nil {
		return 0, err
	}
	rr, err := s.arrow.QueryContext(ctx, "SELECT * FROM temp.main."+quoteIdent(written))
	if err != nil {
		return 0, sqlError(err)
	}
	defer rr.Release()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil {
		return 0, sqlError(err)
	}
	pk, notNull, err := s.constraints(ctx, written)
	if err != nil {
		return 0, err
	}
	fields := make([]arrow.Field, 0, rr.Schema().NumFields())
	for _, f := range rr.Schema().Fields() {
		fields = append(fields, arrow.Field{Name: f.Name, Type: plainType(f.Type), Nullable: !notNull[f.Name] && f.Name != pk})
	}
	t, err := e.db.CreateTable(ctx, lsm.TableSpec{Name: written, Schema: arrow.NewSchema(fields, nil), PrimaryKey: pk})
	if err != nil {
		return 0, err
	}
	return e.write(ctx, t, lsm.OpUpsert, t.Schema(), recs)
}

// plainType is t with list items named "item" and nullable, as Arrow
// writers (and Lance) name them.
func plainType(t arrow.DataType) arrow.DataType {
	switch l := t.(type) {
	case *arrow.FixedSizeListType:
		return arrow.FixedSizeListOf(l.Len(), plainType(l.Elem()))
	case *arrow.ListType:
		return arrow.ListOf(plainType(l.Elem()))
	case *arrow.LargeListType:
		return arrow.LargeListOf(plainType(l.Elem()))
	case *arrow.StructType:
		fs := make([]arrow.Field, l.NumFields())
		for i, f := range l.Fields() {
			fs[i] = arrow.Field{Name: f.Name, Type: plainType(f.Type), Nullable: true}
		}
		return arrow.StructOf(fs...)
	}
	return t
}

// constraints reads the primary key (one column, or none) and the NOT
// NULL columns of the connection's temporary table name.
func (s *session) constraints(ctx context.Context, name string) (pk string, notNull map[string]bool, err error) {
	rr, err := s.arrow.QueryContext(ctx, "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() WHERE database_name = 'temp' AND table_name = ?", name)
	if err != nil {
		return "", nil, sqlError(err)
	}
	defer rr.Release()
	notNull = map[string]bool{}
	for rr.Next() {
		rec := rr.RecordBatch()
		typ := rec.Column(0).(*array.String)
		cols := rec.Column(1).(*array.List)
		names := cols.ListValues().(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			start, end := cols.ValueOffsets(i)
			var cs []string
			for j := start; j < end; j++ {
				cs = append(cs, strings.Clone(names.Value(int(j))))
			}
			switch typ.Value(i) {
			case "PRIMARY KEY":
				if len(cs) != 1 {
					return "", nil, fmt.Errorf("%w: a primary key of %d columns: flightwal keys on one", errInvalid, len(cs))
				}
				pk = cs[0]
			case "NOT NULL":
				for _, c := range cs {
					notNull[c] = true
				}
			case "UNIQUE", "CHECK", "FOREIGN KEY":
				return "", nil, fmt.Errorf("%w: %s constraints (flightwal keeps a primary key only)", ErrUnimplemented, typ.Value(i))
			}
		}
	}
	return pk, notNull, sqlError(rr.Err())
}
