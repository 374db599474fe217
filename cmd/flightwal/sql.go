package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/pflag"

	"github.com/flightwal/flightwal/sqlexec"
)

// runSQL runs SQL statements over Flight SQL: the argument, or the
// statements read from stdin (separated by ';'), printing each result.
func runSQL(args []string) error {
	fs := pflag.NewFlagSet("sql", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8815", "server address (host:port, grpc://host:port or grpc+tls://host:port)")
	creds := credFlags(fs)
	format := fs.String("format", "table", "output: table, csv, json (one object per row) or arrow (Arrow IPC stream)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *format {
	case "table", "csv", "json", "arrow":
	default:
		return fmt.Errorf("--format %q: want table, csv, json or arrow", *format)
	}
	var stmts []string
	switch fs.NArg() {
	case 0:
		raw, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		stmts = splitStatements(string(raw))
	case 1:
		stmts = []string{fs.Arg(0)}
	default:
		return fmt.Errorf(`sql takes one statement (quote it: flightwal sql "SELECT ..."), or none to read statements from stdin`)
	}
	fc, err := creds.dial(*addr)
	if err != nil {
		return err
	}
	c := &flightsql.Client{Client: fc, Alloc: memory.DefaultAllocator}
	defer c.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, s := range stmts {
		if err := runStatement(context.Background(), c, s, *format, out); err != nil {
			return fmt.Errorf("%s: %w", clipStatement(s), err)
		}
	}
	return nil
}

// runStatement runs one statement: a write as an update (its count on
// stderr), anything else as a query (its rows on w).
func runStatement(ctx context.Context, c *flightsql.Client, stmt, format string, w *bufio.Writer) error {
	if sqlexec.Classify(stmt).IsWrite() {
		n, err := c.ExecuteUpdate(ctx, stmt)
		if err != nil {
			return err
		}
		w.Flush()
		fmt.Fprintf(os.Stderr, "(%d rows affected)\n", n)
		return nil
	}
	info, err := c.Execute(ctx, stmt)
	if err != nil {
		return err
	}
	var (
		schema *arrow.Schema
		recs   []arrow.RecordBatch
		iw     *ipc.Writer
		cw     *csv.Writer
	)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var n int64
	for _, ep := range info.Endpoint {
		r, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			return err
		}
		if schema == nil {
			schema = r.Schema()
			switch format {
			case "arrow":
				iw = ipc.NewWriter(w, ipc.WithSchema(schema))
				defer iw.Close()
			case "csv":
				cw = csv.NewWriter(w, schema, csv.WithHeader(true), csv.WithNullWriter(""))
				defer cw.Flush()
			}
		}
		for r.Next() {
			rec := r.RecordBatch()
			n += rec.NumRows()
			switch format {
			case "arrow":
				err = iw.Write(rec)
			case "csv":
				err = cw.Write(rec)
			case "json":
				err = writeJSONRows(w, rec)
			default:
				rec.Retain()
				recs = append(recs, rec)
			}
			if err != nil {
				r.Release()
				return err
			}
		}
		err = r.Err()
		r.Release()
		if err != nil {
			return err
		}
	}
	if format == "table" && schema != nil {
		writeTable(w, schema, recs)
		w.Flush()
		fmt.Fprintf(os.Stderr, "(%d rows)\n", n)
	}
	return nil
}

// maxCell is the widest cell a table prints; longer values are cut.
const maxCell = 48

// writeTable prints rows as an aligned table with a header.
func writeTable(w io.Writer, schema *arrow.Schema, recs []arrow.RecordBatch) {
	header := make([]string, schema.NumFields())
	width := make([]int, len(header))
	for i, f := range schema.Fields() {
		header[i] = f.Name
		width[i] = utf8.RuneCountInString(f.Name)
	}
	var rows [][]string
	for _, rec := range recs {
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]string, rec.NumCols())
			for c := range row {
				v := "NULL"
				if !rec.Column(c).IsNull(r) {
					v = rec.Column(c).ValueStr(r)
				}
				if utf8.RuneCountInString(v) > maxCell {
					v = string([]rune(v)[:maxCell-3]) + "..."
				}
				v = strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(v)
				row[c] = v
				width[c] = max(width[c], utf8.RuneCountInString(v))
			}
			rows = append(rows, row)
		}
	}
	line := func(cells []string) {
		for i, v := range cells {
			if i > 0 {
				io.WriteString(w, " | ")
			}
			io.WriteString(w, v+strings.Repeat(" ", width[i]-utf8.RuneCountInString(v)))
		}
		io.WriteString(w, "\n")
	}
	line(header)
	sep := make([]string, len(width))
	for i, n := range width {
		sep[i] = strings.Repeat("-", n)
	}
	io.WriteString(w, strings.Join(sep, "-+-")+"\n")
	for _, r := range rows {
		line(r)
	}
}

// splitStatements splits a script at the semicolons outside string
// literals, quoted identifiers and comments, dropping empty statements.
func splitStatements(src string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(src[start:end]); s != "" && !onlyComments(s) {
			out = append(out, s)
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\'' || c == '"':
			for i++; i < len(src) && src[i] != c; i++ {
			}
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			if end := strings.Index(src[i+2:], "*/"); end >= 0 {
				i += end + 3
			} else {
				i = len(src)
			}
		case c == ';':
			flush(i)
			start = i + 1
		}
	}
	flush(len(src))
	return out
}

// onlyComments reports whether s holds nothing but comments.
func onlyComments(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

func clipStatement(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
