package flight_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flightwal/flightwal/config"
	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/serverconf"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

// Example runs a flightwal server in-process and talks to it with
// arrow-go's Flight client, as any Flight client would (pyarrow.flight,
// ADBC): create a table, write two batches and wait for their durable
// acknowledgements, read a filtered snapshot, and look at the table's
// stats. The README lists the tickets, descriptors and actions.
func Example() {
	ctx := context.Background()

	// The server: tables on in-memory storage (objstore.NewLocal(dir) or
	// objstore.NewS3 for real data), served on a free port.
	db, err := lsm.Open(ctx, objstore.NewMem(), serverconf.LSM(config.Default(), nil))
	fatalIf(err)
	defer db.Close()
	srv, err := fw.Listen("127.0.0.1:0", fw.NewService(db, fw.Options{}))
	fatalIf(err)
	defer srv.Shutdown(ctx)

	client, err := flight.NewClientWithMiddleware(srv.Addr().String(), nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	fatalIf(err)
	defer client.Close()

	// create_table takes the schema as a base64 Arrow IPC schema message.
	// The table is at version 2: the dataset, then its MemWAL index (the
	// regions' bucket spec, as LanceDB's setLsmWriteSpec commits it).
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	fmt.Printf("%s\n", flightAction(ctx, client, "create_table", map[string]any{
		"name":        "events",
		"primary_key": "id",
		"schema":      base64.StdEncoding.EncodeToString(flight.SerializeSchema(schema, memory.DefaultAllocator)),
	}))

	// DoPut with a PATH descriptor upserts, durably: the PutResult of a
	// batch comes once its write-ahead log entry is on storage. (A CMD
	// descriptor, {"table": "events", "durable": false}, acknowledges
	// sooner.) The second batch replaces row 2: the newest version wins.
	stream, err := client.DoPut(ctx)
	fatalIf(err)
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"events"}})
	for _, rows := range []string{
		`[{"id": 1, "text": "one"}, {"id": 2, "text": "two"}, {"id": 3, "text": null}]`,
		`[{"id": 2, "text": "two, edited"}]`,
	} {
		rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(rows))
		fatalIf(err)
		fatalIf(w.Write(rec))
		rec.Release()
		ack, err := stream.Recv() // this batch's PutResult
		fatalIf(err)
		fmt.Printf("%s\n", ack.AppMetadata)
	}
	fatalIf(w.Close())
	fatalIf(stream.CloseSend())
	for _, err := stream.Recv(); !errors.Is(err, io.EOF); _, err = stream.Recv() {
		fatalIf(err)
	}

	// DoGet takes a JSON ticket and returns a consistent snapshot: here the
	// rows with id < 3, newest version of each.
	get, err := client.DoGet(ctx, &flight.Ticket{Ticket: []byte(`{"table": "events", "filter": "id < 3"}`)})
	fatalIf(err)
	rdr, err := flight.NewRecordReader(get)
	fatalIf(err)
	for rdr.Next() {
		fatalIf(array.RecordToJSON(rdr.RecordBatch(), os.Stdout))
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		log.Fatal(err)
	}
	rdr.Release()

	// stats: the table's schema, base version and writer state per region.
	var stats struct {
		PrimaryKey string `json:"primary_key"`
		Regions    []struct {
			ActiveRows       int64  `json:"active_rows"`
			DurableWatermark uint64 `json:"durable_watermark"`
		} `json:"regions"`
	}
	fatalIf(json.Unmarshal(flightAction(ctx, client, "stats", map[string]any{"table": "events"}), &stats))
	fmt.Printf("primary key %s, %d region(s), %d rows in the memtable, durable up to seq %d\n",
		stats.PrimaryKey, len(stats.Regions), stats.Regions[0].ActiveRows, stats.Regions[0].DurableWatermark)

	// Output:
	// {"name":"events","version":2}
	// {"batch":0,"rows":3,"durable":true,"regions":{"0":1}}
	// {"batch":1,"rows":1,"durable":true,"regions":{"0":2}}
	// {"id":1,"text":"one"}
	// {"id":2,"text":"two, edited"}
	// primary key id, 1 region(s), 4 rows in the memtable, durable up to seq 2
}

// flightAction runs a Flight action and returns its JSON result.
func flightAction(ctx context.Context, c flight.Client, typ string, body any) []byte {
	raw, err := json.Marshal(body)
	fatalIf(err)
	stream, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: raw})
	fatalIf(err)
	res, err := stream.Recv()
	fatalIf(err)
	for _, err := stream.Recv(); !errors.Is(err, io.EOF); _, err = stream.Recv() {
		fatalIf(err)
	}
	return res.GetBody()
}

// fatalIf exits on an error (an example's error handling).
func fatalIf(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
