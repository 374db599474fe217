package main

// The ingest side of flightwal-bench: DoPut throughput and ack latency,
// durable and async, 1 and 16 writers, 100 / 1,000 / 10,000-row batches,
// with a Flight server that decodes and discards the same streams as the
// baseline, in the same run.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flightwal/flightwal/internal/benchutil"
	"github.com/flightwal/flightwal/internal/flightclient"
)

var (
	ingestWriters = []int{1, 16}
	ingestBatches = []int{100, 1000, 10000}
	ingestModes   = []string{"durable", "async"}
)

const targetDiscard = "discard"

// ingestCell is one ingest configuration's result.
type ingestCell struct {
	Target    string  `json:"target"` // flightwal or discard
	Mode      string  `json:"mode"`   // durable (PATH descriptor), async (CMD durable=false); "" for discard
	Writers   int     `json:"writers"`
	BatchRows int     `json:"batch_rows"`
	Batches   int     `json:"batches"`
	Rows      int64   `json:"rows"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	RowsPerS  float64 `json:"rows_per_s"`
	MBPerS    float64 `json:"mb_per_s"`
	// Closed loop: each writer waits for a batch's PutResult before it
	// sends the next (AckSamples batches in all).
	AckP50Ms   float64 `json:"ack_p50_ms"`
	AckP99Ms   float64 `json:"ack_p99_ms"`
	AckSamples int     `json:"ack_samples"`
	// Streaming (the throughput run): from a batch's write to its
	// PutResult while the writer keeps sending.
	StreamAckP50Ms float64 `json:"stream_ack_p50_ms"`
	StreamAckP99Ms float64 `json:"stream_ack_p99_ms"`
	SyncMs         float64 `json:"sync_ms,omitempty"` // async: the sync action after the last ack
	VsDiscard      float64 `json:"vs_discard"`        // rows/s over the discard server's for the same writers and batches
	Status         string  `json:"status"`
	Reason         string  `json:"reason,omitempty"`
}

// ingestPlan is the batches of one (writers, batch rows) configuration:
// every writer sends the same number of full batches, at least
// IngestRows in all. Vectors and texts are zero-copy slices of the data
// set (wrapping around), ids are fresh so no row replaces another.
type ingestPlan struct {
	writers, batch int
	perWriter      [][]arrow.RecordBatch
	rows, bytes    int64
}

func (b *benchRun) ingestPlan(writers, batch int, firstID int64) *ingestPlan {
	p := &ingestPlan{writers: writers, batch: batch}
	per := max(1, (b.c.IngestRows+writers*batch-1)/(writers*batch))
	src := 0
	id := firstID
	for range writers {
		var recs []arrow.RecordBatch
		for range per {
			rec := b.ds.ingestBatch(src, batch, id)
			src = (src + batch) % b.ds.rows
			id += int64(batch)
			p.rows += rec.NumRows()
			p.bytes += recordBytes(rec)
			recs = append(recs, rec)
		}
		p.perWriter = append(p.perWriter, recs)
	}
	return p
}

func (p *ingestPlan) release() {
	for _, recs := range p.perWriter {
		releaseAll(recs)
	}
}

func (p *ingestPlan) batches() int { return p.writers * len(p.perWriter[0]) }

// ingestBatch is n rows whose vectors and texts start at row src of the
// data set (wrapping around) and whose ids are first, first+1, ...
func (d *benchDataset) ingestBatch(src, n int, first int64) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(n)
	for i := range n {
		ib.UnsafeAppend(first + int64(i))
	}
	ids := ib.NewArray()
	defer ids.Release()
	var vecParts, textParts []arrow.Array
	for left, at := n, src; left > 0; {
		k := min(left, d.rows-at)
		s := d.rec.NewSlice(int64(at), int64(at+k))
		vecParts = append(vecParts, s.Column(1))
		textParts = append(textParts, s.Column(2))
		s.Column(1).Retain()
		s.Column(2).Retain()
		s.Release()
		left -= k
		at = 0
	}
	join := func(parts []arrow.Array) arrow.Array {
		if len(parts) == 1 {
			return parts[0]
		}
		a, err := array.Concatenate(parts, mem)
		if err != nil {
			panic(err) // same types by construction
		}
		for _, p := range parts {
			p.Release()
		}
		return a
	}
	vecs, texts := join(vecParts), join(textParts)
	defer vecs.Release()
	defer texts.Release()
	return array.NewRecordBatch(d.schema, []arrow.Array{ids, vecs, texts}, int64(n))
}

// ingest runs every configuration against flightwal and the discard server.
func (b *benchRun) ingest(ctx context.Context) error {
	disc, err := benchutil.NewDiscardServer(nil)
	if err != nil {
		return fmt.Errorf("starting the discard server: %w", err)
	}
	defer disc.Close()
	var nextID int64 = 1 << 40 // far from the query tables' ids
	for _, writers := range ingestWriters {
		for _, batch := range ingestBatches {
			plan := b.ingestPlan(writers, batch, nextID)
			nextID += plan.rows
			b.pr.logf("ingest: %d writer(s), %d-row batches, %d rows (%d MiB) per target", writers, batch, plan.rows, plan.bytes>>20)
			base := b.ingestRun(ctx, disc.Addr(), targetDiscard, "", plan, nil)
			b.rep.Ingest = append(b.rep.Ingest, base)
			for _, mode := range ingestModes {
				name := fmt.Sprintf("ingest_%s_%dw_%d", mode, writers, batch)
				if err := b.createTable(ctx, name, nil); err != nil {
					return fmt.Errorf("create_table %s: %w", name, err)
				}
				var cmd []byte
				if mode == "async" {
					cmd, _ = json.Marshal(map[string]any{"table": name, "durable": false})
				}
				cell := b.ingestRun(ctx, b.srv.addr, engineFlightwal, mode, plan, func(c *flight.FlightDescriptor) {
					if cmd != nil {
						*c = flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd}
					} else {
						*c = flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}}
					}
				})
				if cell.Status == statusOK && mode == "async" {
					start := time.Now()
					if err := b.action(ctx, "sync", map[string]any{"table": name}, nil); err == nil {
						cell.SyncMs = float64(time.Since(start).Nanoseconds()) / 1e6
					}
				}
				if base.Status == statusOK && base.RowsPerS > 0 {
					cell.VsDiscard = cell.RowsPerS / base.RowsPerS
				}
				b.rep.Ingest = append(b.rep.Ingest, cell)
				_ = b.action(ctx, "drop_table", map[string]any{"name": name}, nil)
				b.settle(ctx, "")
			}
			plan.release()
		}
	}
	return nil
}

// ingestRun streams plan to addr, one DoPut per writer, each writer on its
// own connection, all at once, and measures until the last PutResult.
func (b *benchRun) ingestRun(ctx context.Context, addr, target, mode string, plan *ingestPlan, desc func(*flight.FlightDescriptor)) ingestCell {
	cell := ingestCell{Target: target, Mode: mode, Writers: plan.writers, BatchRows: plan.batch, Batches: plan.batches(),
		Rows: plan.rows, Bytes: plan.bytes, Status: statusOK}
	d := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"discard"}}
	if desc != nil {
		desc(d)
	}
	clients := make([]flight.Client, plan.writers)
	for i := range clients {
		c, err := flightclient.Dial(addr)
		if err != nil {
			cell.Status, cell.Reason = statusError, err.Error()
			return cell
		}
		defer c.Close()
		clients[i] = c
	}
	// putAll runs put on every writer's connection at once, each with its
	// first n batches, and returns each batch's write-to-PutResult time in ms.
	putAll := func(put func(context.Context, flight.Client, *flight.FlightDescriptor, []arrow.RecordBatch, func(int, []byte)) (*flightclient.Acks, error), n int) ([]float64, error) {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			lats []float64
			errs []error
		)
		for w := range plan.writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acks, err := put(ctx, clients[w], d, plan.perWriter[w][:min(len(plan.perWriter[w]), n)], nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				for i := range acks.N {
					lats = append(lats, float64(acks.Acked[i].Sub(acks.Sent[i]).Nanoseconds())/1e6)
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			return nil, errs[0]
		}
		return lats, nil
	}
	start := time.Now()
	lats, err := putAll(flightclient.Put, len(plan.perWriter[0]))
	elapsed := time.Since(start)
	if err != nil {
		cell.Status, cell.Reason = statusError, err.Error()
		return cell
	}
	cell.Seconds = elapsed.Seconds()
	cell.RowsPerS = float64(plan.rows) / cell.Seconds
	cell.MBPerS = float64(plan.bytes) / 1e6 / cell.Seconds
	cell.StreamAckP50Ms, cell.StreamAckP99Ms = percentile(lats, 0.5), percentile(lats, 0.99)

	// Closed loop, on the same connections and rows (upserted again).
	if lats, err = putAll(flightclient.PutLockstep, b.c.AckSamples); err != nil {
		cell.Status, cell.Reason = statusError, "closed-loop latency run: "+err.Error()
		return cell
	}
	cell.AckP50Ms, cell.AckP99Ms, cell.AckSamples = percentile(lats, 0.5), percentile(lats, 0.99), len(lats)
	return cell
}
