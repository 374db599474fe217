package metrics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/config"
	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
	"github.com/flightwal/flightwal/internal/serverconf"
	"github.com/flightwal/flightwal/lsm"
	"github.com/flightwal/flightwal/objstore"
)

type testServer struct {
	db     *lsm.DB
	client flight.Client
	http   string // metrics base URL
	mem    memory.Allocator
}

func start(t *testing.T) *testServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := lsm.Open(context.Background(), objstore.NewMem(), serverconf.LSM(config.Default(), log))
	if err != nil {
		t.Fatal(err)
	}
	m := New(db)
	srv, err := fw.Listen("127.0.0.1:0", fw.NewService(db, serverconf.Flight(config.Default(), log)), m.ListenOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := Listen("127.0.0.1:0", m, func(ctx context.Context) error { _, err := db.ListTables(ctx); return err }, log)
	if err != nil {
		t.Fatal(err)
	}
	c, err := flight.NewClientWithMiddleware(srv.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		hs.Close()
		srv.Shutdown(context.Background())
		db.Close()
	})
	hs.SetReady(true)
	return &testServer{db: db, client: c, http: "http://" + hs.Addr().String(), mem: memory.NewGoAllocator()}
}

// scrape reads /metrics as "name{labels}" -> value (histograms by count).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func (s *testServer) action(t *testing.T, typ string, body any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	st, err := s.client.DoAction(context.Background(), &flight.Action{Type: typ, Body: raw})
	if err == nil {
		err = drain(st.Recv)
	}
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
}

func (s *testServer) put(t *testing.T, table string, durable bool, sizes ...int64) {
	t.Helper()
	st, err := s.client.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal(map[string]any{"table": table, "durable": durable})
	w := flight.NewRecordWriter(st, ipc.WithSchema(datagen.Schema(4)))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
	first := int64(0)
	for _, n := range sizes {
		rec := datagen.Batch(s.mem, 4, 1, first, n)
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		first += n
	}
	w.Close()
	st.CloseSend()
	if err := drain(st.Recv); err != nil {
		t.Fatal(err)
	}
}

func (s *testServer) get(ticket any) error {
	raw, ok := ticket.(string)
	if !ok {
		b, _ := json.Marshal(ticket)
		raw = string(b)
	}
	st, err := s.client.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(raw)})
	if err != nil {
		return err
	}
	return drain(st.Recv)
}

// TestMetricsMoveByWhatWasDone: /metrics counters move by exactly the
// rows put, the reads by kind and the errors by code a test caused.
func TestMetricsMoveByWhatWasDone(t *testing.T) {
	s := start(t)
	schema := base64.StdEncoding.EncodeToString(flight.SerializeSchema(datagen.Schema(4), s.mem))
	s.action(t, "create_table", map[string]any{"name": "m", "schema": schema})
	before := scrape(t, s.http)
	s.put(t, "m", true, 10, 5)
	s.put(t, "m", false, 7)
	for _, tk := range []any{
		map[string]any{"table": "m"},
		map[string]any{"table": "m", "pk": []int{1, 2}},
		map[string]any{"table": "m", "pk": []int{3}},
	} {
		if err := s.get(tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.get("{not json"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad ticket: %v", err)
	}
	if _, err := s.client.GetSchema(context.Background(), &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"nosuch"}}); status.Code(err) != codes.NotFound {
		t.Fatalf("missing table: %v", err)
	}
	if err := s.get(map[string]any{"table": "nosuch"}); status.Code(err) != codes.NotFound {
		t.Fatalf("missing table: %v", err)
	}
	after := scrape(t, s.http)
	for key, want := range map[string]float64{
		`flightwal_ingest_rows_total{table="m"}`:         22,
		`flightwal_ingest_batches_total{table="m"}`:      3,
		`flightwal_ack_latency_seconds{mode="durable"}`:  2,
		`flightwal_ack_latency_seconds{mode="async"}`:    1,
		`flightwal_reads_total{kind="scan"}`:             2, // one of them on a missing table
		`flightwal_reads_total{kind="pk"}`:               2,
		`flightwal_reads_total{kind="invalid"}`:          1,
		`flightwal_read_duration_seconds{kind="pk"}`:     2,
		`flightwal_errors_total{code="InvalidArgument"}`: 1,
		`flightwal_errors_total{code="NotFound"}`:        2,
	} {
		if got := after[key] - before[key]; got != want {
			t.Errorf("%s moved by %v, want %v", key, got, want)
		}
	}
	if after[`flightwal_ingest_bytes_total{table="m"}`] <= 0 || after["flightwal_wal_puts_total{}"] < 1 || after["flightwal_wal_bytes_total{}"] <= 0 {
		t.Errorf("ingest bytes / WAL: %v %v %v", after[`flightwal_ingest_bytes_total{table="m"}`], after["flightwal_wal_puts_total{}"], after["flightwal_wal_bytes_total{}"])
	}
	if got, want := after["flightwal_wal_put_seconds{}"]-before["flightwal_wal_put_seconds{}"], after["flightwal_wal_puts_total{}"]-before["flightwal_wal_puts_total{}"]; got != want || got < 1 {
		t.Errorf("wal_put_seconds observed %v puts, wal_puts_total moved by %v", got, want)
	}
	if after["flightwal_memtable_rows{}"] != 22 {
		t.Errorf("memtable rows %v, want 22", after["flightwal_memtable_rows{}"])
	}
	s.action(t, "flush", map[string]any{"table": "m"})
	final := scrape(t, s.http)
	if final["flightwal_flush_seconds{}"]-after["flightwal_flush_seconds{}"] != 1 {
		t.Errorf("flush_seconds observed %v flushes, want 1", final["flightwal_flush_seconds{}"]-after["flightwal_flush_seconds{}"])
	}
	if final["flightwal_flushes_total{}"]-after["flightwal_flushes_total{}"] != 1 || final["flightwal_memtable_rows{}"] != 0 || final["flightwal_unflushed_bytes{}"] != 0 {
		t.Errorf("after a flush: flushes %v, memtable rows %v, unflushed %v", final["flightwal_flushes_total{}"], final["flightwal_memtable_rows{}"], final["flightwal_unflushed_bytes{}"])
	}
	if _, ok := final["go_goroutines{}"]; !ok {
		t.Error("no go_ collector")
	}
	// Every metric the Grafana dashboard plots exists.
	dash, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for k := range final {
		have[k[:strings.IndexByte(k, '{')]] = true
	}
	for _, name := range regexp.MustCompile(`flightwal_[a-z_]+`).FindAllString(string(dash), -1) {
		if name = strings.TrimSuffix(name, "_bucket"); !have[name] {
			t.Errorf("the dashboard plots %s, which /metrics lacks", name)
		}
	}
}

// TestMetricsUnindexedRows: a search index's uncovered memtable rows are
// a gauge labelled by table, index and type.
func TestMetricsUnindexedRows(t *testing.T) {
	s := start(t)
	schema := base64.StdEncoding.EncodeToString(flight.SerializeSchema(datagen.Schema(4), s.mem))
	s.action(t, "create_table", map[string]any{"name": "ix", "schema": schema, "indexes": []map[string]any{
		{"name": "v", "column": "vec", "type": "ivf_pq", "partitions": 2, "train_after": 1000},
	}})
	s.put(t, "ix", true, 10)
	got, ok := scrape(t, s.http)[`flightwal_unindexed_rows{index="v",table="ix",type="ivf_pq"}`]
	if !ok {
		t.Fatal("no flightwal_unindexed_rows for index v")
	}
	if got != 10 { // the model is not trained yet: no row is covered
		t.Fatalf("unindexed rows %v, want 10", got)
	}
}

func TestMetricsHTTPEndpoints(t *testing.T) {
	s := start(t)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/debug/pprof/": 200, "/metrics": 200, "/nope": 404} {
		resp, err := http.Get(s.http + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
