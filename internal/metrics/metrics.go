// Package metrics exports flightwal's metrics to Prometheus (API.md,
// Operations): lsm's counters (lsm.DB.Metrics, read at each scrape), the
// Flight service's ack and read latencies and its errors by gRPC code,
// and serves them with /healthz, /readyz and /debug/pprof/ over HTTP.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/lsm"
)

const ns = "flightwal"

// latencyBuckets are lsm's latency bounds in seconds, so every latency
// histogram of the server has the same buckets.
func latencyBuckets() []float64 {
	var out []float64
	for _, b := range lsm.LatencyBounds() {
		out = append(out, b.Seconds())
	}
	return out
}

// Metrics is the registry of one server.
type Metrics struct {
	reg      *prometheus.Registry
	db       *lsm.DB
	ack      *prometheus.HistogramVec
	reads    *prometheus.CounterVec
	readDur  *prometheus.HistogramVec
	errs     *prometheus.CounterVec
	ackByMod [2]prometheus.Observer // async, durable
}

// New registers the metrics of db, Go's and the process's collectors.
func New(db *lsm.DB) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), db: db}
	m.ack = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "ack_latency_seconds",
		Help: "DoPut: from a batch read to its PutResult sent, by mode (durable, async)", Buckets: latencyBuckets()}, []string{"mode"})
	m.reads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "reads_total",
		Help: "DoGet reads by kind (scan, pk, nearest, search, invalid)"}, []string{"kind"})
	m.readDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "read_duration_seconds",
		Help: "DoGet duration by kind", Buckets: latencyBuckets()}, []string{"kind"})
	m.errs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "errors_total",
		Help: "Flight calls that ended with an error, by gRPC code"}, []string{"code"})
	m.ackByMod[0] = m.ack.WithLabelValues("async")
	m.ackByMod[1] = m.ack.WithLabelValues("durable")
	m.reg.MustRegister(m.ack, m.reads, m.readDur, m.errs, &lsmCollector{db: db},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the Prometheus registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Ack implements flight.Observer.
func (m *Metrics) Ack(durable bool, d time.Duration) {
	i := 0
	if durable {
		i = 1
	}
	m.ackByMod[i].Observe(d.Seconds())
}

// Read implements flight.Observer.
func (m *Metrics) Read(kind string, d time.Duration, _ error) {
	m.reads.WithLabelValues(kind).Inc()
	m.readDur.WithLabelValues(kind).Observe(d.Seconds())
}

// ListenOptions observe the Flight server: acks, reads, and errors by
// code (counted outside every other interceptor, so refusals by auth and
// limits count too; the health service is not counted).
func (m *Metrics) ListenOptions() []flight.ListenOption {
	count := func(method string, err error) {
		if err != nil && !strings.HasPrefix(method, "/grpc.health.v1.Health/") {
			m.errs.WithLabelValues(status.Code(err).String()).Inc()
		}
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		count(info.FullMethod, err)
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, ss)
		count(info.FullMethod, err)
		return err
	}
	return []flight.ListenOption{flight.WithInterceptors(unary, stream), flight.WithObserver(m)}
}

// lsmCollector reads lsm.DB.Metrics at each scrape.
type lsmCollector struct{ db *lsm.DB }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

var (
	dIngestBatches  = desc("ingest_batches_total", "record batches accepted by DoPut, by table", "table")
	dIngestRows     = desc("ingest_rows_total", "rows accepted by DoPut, by table", "table")
	dIngestBytes    = desc("ingest_bytes_total", "Arrow bytes accepted by DoPut, by table", "table")
	dWALPuts        = desc("wal_puts_total", "WAL entries written")
	dWALBytes       = desc("wal_bytes_total", "bytes of WAL entries written")
	dWALSeconds     = desc("wal_put_seconds", "WAL entry put latency (retries included)")
	dFlushes        = desc("flushes_total", "memtables flushed as Lance generations")
	dFlushSeconds   = desc("flush_seconds", "flush durations")
	dCompactions    = desc("compactions_total", "compactions that merged generations into the base table")
	dCompactSeconds = desc("compaction_seconds", "compaction durations")
	dRebases        = desc("commit_rebases_total", "base table commits rebased on another Lance writer's commit")
	dRetries        = desc("compaction_retries_total", "compactions redone on the latest version after a conflict with another Lance writer")
	dConflicts      = desc("compaction_conflicts_total", "compactions that failed with a conflict with another Lance writer")
	dWaits          = desc("backpressure_waits_total", "writes that waited for unflushed bytes to drop below backpressure.max_unflushed_bytes")
	dFenced         = desc("fenced_writers_total", "region writers stopped because a newer writer fenced them")
	dMemRows        = desc("memtable_rows", "rows in the active memtables of open tables")
	dMemBytes       = desc("memtable_bytes", "Arrow bytes in the active memtables of open tables")
	dUnflushed      = desc("unflushed_bytes", "Arrow bytes in active and frozen memtables (what backpressure bounds)")
	dUnindexed      = desc("unindexed_rows", "memtable rows a search index does not cover yet (searched exactly meanwhile)", "table", "index", "type")
)

func (c *lsmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dIngestBatches, dIngestRows, dIngestBytes, dWALPuts, dWALBytes, dWALSeconds, dFlushes, dFlushSeconds, dCompactions, dCompactSeconds, dRebases, dRetries, dConflicts, dWaits, dFenced, dMemRows, dMemBytes, dUnflushed, dUnindexed} {
		ch <- d
	}
}

func (c *lsmCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.db.Metrics()
	for _, name := range m.TableNames() {
		t := m.IngestTables[name]
		ch <- prometheus.MustNewConstMetric(dIngestBatches, prometheus.CounterValue, float64(t.Batches), name)
		ch <- prometheus.MustNewConstMetric(dIngestRows, prometheus.CounterValue, float64(t.Rows), name)
		ch <- prometheus.MustNewConstMetric(dIngestBytes, prometheus.CounterValue, float64(t.Bytes), name)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	histogram := func(d *prometheus.Desc, h lsm.Histogram) {
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, b := range h.Bounds {
			buckets[b.Seconds()] = h.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets)
	}
	counter(dWALPuts, float64(m.WALPuts))
	counter(dWALBytes, float64(m.WALBytes))
	histogram(dWALSeconds, m.WALPutLatency)
	counter(dFlushes, float64(m.Flushes))
	histogram(dFlushSeconds, m.FlushLatency)
	counter(dCompactions, float64(m.Compactions))
	histogram(dCompactSeconds, m.CompactLatency)
	counter(dRebases, float64(m.CommitRebases))
	counter(dRetries, float64(m.CompactRetries))
	counter(dConflicts, float64(m.CompactConflicts))
	counter(dWaits, float64(m.BackpressureWaits))
	counter(dFenced, float64(m.FencedWriters))
	gauge(dMemRows, float64(m.MemTableRows))
	gauge(dMemBytes, float64(m.MemTableBytes))
	gauge(dUnflushed, float64(m.UnflushedBytes))
	for _, ix := range m.Indexes {
		ch <- prometheus.MustNewConstMetric(dUnindexed, prometheus.GaugeValue, float64(ix.UnindexedRows), ix.Table, ix.Index, ix.Type)
	}
}

// Server is the HTTP server of metrics.listen.
type Server struct {
	http  *http.Server
	lis   net.Listener
	ready atomic.Bool
}

// Listen serves /metrics, /healthz, /readyz and /debug/pprof/ on addr.
// /readyz answers 200 once SetReady(true) and while check passes
// (the object store is reachable), else 503.
func Listen(addr string, m *Metrics, check func(context.Context) error, log *slog.Logger) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	s := &Server{lis: lis}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready (starting or draining)", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if check != nil {
			if err := check(ctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.http.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address served.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// SetReady sets what /readyz answers (true once the Flight port serves,
// false from the drain on).
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Close stops the HTTP server.
func (s *Server) Close() error { return s.http.Close() }
