package flight

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/util"
)

// DoGet streams a consistent snapshot read (API.md, DoGet).
func (s *Service) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	if isFlightSQL(tkt.GetTicket()) {
		return sqlStatus(s.sql.wire.DoGet(tkt, stream))
	}
	ctx := stream.Context()
	tk, err := ticketOf(ctx, tkt)
	if err != nil {
		return toStatus(err)
	}
	t, err := s.table(ctx, tk.Table)
	if err != nil {
		return toStatus(err)
	}
	plan, err := t.Prepare(tk.query())
	if err != nil {
		return toStatus(err)
	}
	snap := t.Snapshot()
	defer snap.Release()
	w := flight.NewRecordWriter(stream, ipc.WithSchema(plan.Schema()), ipc.WithAllocator(s.mem))
	err = snap.Run(ctx, s.mem, plan, func(rec arrow.RecordBatch) error { return writeSliced(w, rec) })
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing stream: %w", cerr)
	}
	return toStatus(err)
}

// writeSliced sends rec in slices small enough for a 4 MiB message limit.
func writeSliced(w *flight.Writer, rec arrow.RecordBatch) error {
	return eachMessage(rec, w.Write)
}

// eachMessage calls fn with rec cut into slices small enough for a 4 MiB
// message limit (rec itself when it fits, an empty batch included). A
// slice is valid during the call; fn retains what it keeps.
func eachMessage(rec arrow.RecordBatch, fn func(arrow.RecordBatch) error) error {
	rows := rec.NumRows()
	size := int64(util.TotalRecordSize(rec))
	if rows <= 1 || size <= maxOutgoingMessage {
		return fn(rec)
	}
	per := max(1, rows*maxOutgoingMessage/size)
	for off := int64(0); off < rows; off += per {
		part := rec.NewSlice(off, min(rows, off+per))
		err := fn(part)
		part.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
