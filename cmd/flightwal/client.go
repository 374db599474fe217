package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/spf13/pflag"

	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/flightclient"
)

// dial opens a plaintext client without a token (this package's tests).
func dial(addr string) (flight.Client, error) { return flightclient.Dial(addr) }

// clientCreds are the subcommands' credential flags.
type clientCreds struct {
	token, ca, cert, key *string
}

func credFlags(fs *pflag.FlagSet) clientCreds {
	return clientCreds{
		token: fs.String("token", "", "bearer token (default $FLIGHTWAL_TOKEN)"),
		ca:    fs.String("tls-ca", "", "CA certificate (PEM) to verify the server; turns on TLS"),
		cert:  fs.String("tls-cert", "", "client certificate (PEM) for mTLS"),
		key:   fs.String("tls-key", "", "client key (PEM) for mTLS"),
	}
}

func (c clientCreds) dial(addr string) (flight.Client, error) {
	tok := *c.token
	if tok == "" {
		tok = os.Getenv("FLIGHTWAL_TOKEN")
	}
	return flightclient.DialWith(addr, flightclient.DialOptions{Token: tok, CAFile: *c.ca, CertFile: *c.cert, KeyFile: *c.key})
}

func runPut(args []string) error {
	fs := pflag.NewFlagSet("put", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8815", "server address (host:port, grpc://host:port or grpc+tls://host:port)")
	creds := credFlags(fs)
	table := fs.String("table", "", "table name")
	path := fs.String("file", "", "Parquet (.parquet), Arrow IPC (.arrow, .arrows, .ipc) or CSV (.csv) file to load")
	generate := fs.Int64("generate", 0, "instead of a file, generate this many rows of (id, vec, text)")
	dim := fs.Int("dim", 128, "vector dimension for --generate")
	seed := fs.Uint64("seed", 1, "seed for --generate")
	batchRows := fs.Int64("batch-rows", 1000, "rows per batch for --generate and CSV")
	create := fs.Bool("create", false, "create the table from the data's schema if it is missing")
	pk := fs.String("pk", "", "primary key column when creating")
	async := fs.Bool("async", false, "durable=false: acknowledge once in the memtable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" {
		return fmt.Errorf("put needs --table")
	}
	mem := memory.DefaultAllocator
	var recs []arrow.RecordBatch
	switch {
	case *generate > 0:
		for first := int64(0); first < *generate; first += *batchRows {
			recs = append(recs, datagen.Batch(mem, *dim, *seed, first, min(*batchRows, *generate-first)))
		}
	case *path != "":
		var err error
		if recs, err = readFile(*path, *batchRows); err != nil {
			return err
		}
	default:
		return fmt.Errorf("put needs --file or --generate")
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if len(recs) == 0 {
		return fmt.Errorf("no rows to put")
	}
	cmd := map[string]any{"table": *table, "durable": !*async}
	if *create {
		c := map[string]any{}
		if *pk != "" {
			c["primary_key"] = *pk
		}
		cmd["create"] = c
	}
	c, err := creds.dial(*addr)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, _ := json.Marshal(cmd)
	var rows int64
	prog := newProgress(os.Stderr, len(recs))
	acks, err := flightclient.Put(context.Background(), c, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: raw}, recs, func(i int, metadata []byte) {
		var md struct{ Rows int64 }
		_ = json.Unmarshal(metadata, &md)
		rows += md.Rows
		prog.ack(md.Rows, int64(util.TotalRecordSize(recs[i])))
	})
	prog.done()
	if err != nil {
		return err
	}
	fmt.Printf("put %d rows into %s (%d batches acknowledged)\n", rows, *table, acks.N)
	return nil
}

// readFile loads a Parquet, Arrow IPC or CSV file.
func readFile(path string, batchRows int64) ([]arrow.RecordBatch, error) {
	mem := memory.DefaultAllocator
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rr array.RecordReader
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet":
		pf, err := file.NewParquetReader(f)
		if err != nil {
			return nil, err
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, mem)
		if err != nil {
			return nil, err
		}
		r, err := fr.GetRecordReader(context.Background(), nil, nil)
		if err != nil {
			return nil, err
		}
		rr = r
	case ".arrow", ".ipc", ".feather":
		fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			if _, serr := f.Seek(0, io.SeekStart); serr != nil {
				return nil, err
			}
			sr, serr := ipc.NewReader(f, ipc.WithAllocator(mem))
			if serr != nil {
				return nil, fmt.Errorf("%s is neither an Arrow IPC file nor stream: %v", path, err)
			}
			rr = sr
			break
		}
		defer fr.Close()
		var out []arrow.RecordBatch
		for i := 0; i < fr.NumRecords(); i++ {
			r, err := fr.RecordBatch(i)
			if err != nil {
				return nil, err
			}
			r.Retain()
			out = append(out, r)
		}
		return out, nil
	case ".arrows":
		sr, err := ipc.NewReader(f, ipc.WithAllocator(mem))
		if err != nil {
			return nil, err
		}
		rr = sr
	case ".csv":
		rr = csv.NewInferringReader(f, csv.WithHeader(true), csv.WithChunk(int(batchRows)))
	default:
		return nil, fmt.Errorf("%s: unknown file type (want .parquet, .arrow, .arrows or .csv)", path)
	}
	defer rr.Release()
	var out []arrow.RecordBatch
	for rr.Next() {
		r := rr.RecordBatch()
		r.Retain()
		out = append(out, r)
	}
	return out, rr.Err()
}

func runGet(args []string) error {
	fs := pflag.NewFlagSet("get", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8815", "server address (host:port, grpc://host:port or grpc+tls://host:port)")
	creds := credFlags(fs)
	format := fs.String("format", "table", "output: table, json (one object per row) or ipc (Arrow IPC stream)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf(`get takes one ticket, e.g. '{"table": "t", "limit": 10}'`)
	}
	c, err := creds.dial(*addr)
	if err != nil {
		return err
	}
	defer c.Close()
	rdr, err := flightclient.OpenGet(context.Background(), c, []byte(fs.Arg(0)))
	if err != nil {
		return err
	}
	defer rdr.Release()
	var iw *ipc.Writer
	if *format == "ipc" {
		iw = ipc.NewWriter(os.Stdout, ipc.WithSchema(rdr.Schema()))
		defer iw.Close()
	}
	n, err := flightclient.Read(rdr, func(rec arrow.RecordBatch) error {
		switch *format {
		case "ipc":
			return iw.Write(rec)
		case "json":
			return writeJSONRows(os.Stdout, rec)
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				v := rec.Column(c).ValueStr(r)
				if len(v) > 48 {
					v = v[:45] + "..."
				}
				cells = append(cells, rec.ColumnName(c)+"="+v)
			}
			fmt.Println(strings.Join(cells, "  "))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if *format == "table" {
		fmt.Fprintf(os.Stderr, "(%d rows)\n", n)
	}
	return nil
}

func writeJSONRows(w io.Writer, rec arrow.RecordBatch) error {
	raw, err := rec.MarshalJSON()
	if err != nil {
		return err
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%s\n", r); err != nil {
			return err
		}
	}
	return nil
}

func runAction(args []string) error {
	fs := pflag.NewFlagSet("action", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8815", "server address (host:port, grpc://host:port or grpc+tls://host:port)")
	creds := credFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return fmt.Errorf(`action takes TYPE and an optional JSON body, e.g. stats '{"table": "t"}'`)
	}
	c, err := creds.dial(*addr)
	if err != nil {
		return err
	}
	defer c.Close()
	body := []byte("{}")
	if fs.NArg() == 2 {
		body = []byte(fs.Arg(1))
	}
	return flightclient.Action(context.Background(), c, fs.Arg(0), body, func(res []byte) error {
		fmt.Println(string(res))
		return nil
	})
}
