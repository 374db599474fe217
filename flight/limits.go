package flight

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec budgetCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Server-wide bounds on what clients can make the server hold, so that no
// client input runs it out of memory:
//
//   - flight.max_inflight_bytes (Options.MaxInflightBytes), a budget over
//     the bytes of incoming messages being received and decoded;
//   - flight.max_streams (Options.MaxStreams), the calls running at once;
//   - draining: once Server.Shutdown starts, new calls get Unavailable.
//
// Past a bound a new message or call waits up to Options.LimitWait, then
// gets ResourceExhausted naming the bound and its key.
//
// How gRPC (v1.85) receives a message, and where the budget is charged.
// Inside the handler's RecvMsg gRPC reads the 5-byte length prefix, opens
// the stream's flow-control window for the whole message (only then does
// the client send it), collects the bytes as a list of pooled 16 KiB
// frames and hands the list to the codec; the proto codec copies it into
// one buffer, and proto.Unmarshal copies data_body out of that again.
// Before the codec nothing sees the message's size, and once RecvMsg is
// entered nothing can stop gRPC from taking in up to
// flight.max_message_bytes. So:
//
//   - A client-streaming call (DoPut) reserves room before each RecvMsg,
//     waiting for it: as much as the largest record batch it has sent so
//     far, flight.max_message_bytes before its first one, nothing (but it
//     still waits while the budget is full) once its batches have all been
//     small. Its next message is thus only let in when the budget can hold
//     it. A reservation not used within a lease (LimitWait/2: the client
//     is idle) is given back, so idle streams do not starve the others.
//   - budgetCodec settles the charge at the message's real length before
//     decoding anything, waiting for room when the reservation fell short
//     (or there was none), or refuses the message undecoded.
//   - FlightData is decoded by decodeFlightData, copying each field once
//     straight from the frames: a message costs its size twice while it
//     is decoded (frames and copy), once afterwards.
//   - The charge is held until the handler is done with the message: for
//     a stream until its next RecvMsg, releaseReceived (DoPut, once
//     Writer.Write returned: the batch belongs to the memtable then, which
//     backpressure.max_unflushed_bytes bounds) or the end of the call; for
//     a unary call until its handler returns.
//
// Messages under smallMessage bytes (tickets, actions, descriptors, a
// DoPut's schema) are not charged, so the server keeps answering reads
// and actions while big writes fill the budget; flight.max_streams bounds
// how many are held. What the budget sees only once gRPC has received it
// is the request of a unary or server-streaming call (DoGet, DoAction)
// and a DoPut message larger than its reservation (a stream whose batches
// grow, or that idled past its lease): each at most
// flight.max_message_bytes, held while it waits for room.

// DefaultLimitWait is how long a message or call waits for room under a
// bound before it gets ResourceExhausted (Options.LimitWait).
const DefaultLimitWait = 5 * time.Second

// smallMessage is the size under which a message is not charged.
const smallMessage = 64 << 10

// limits enforces the bounds; one per Service.
type limits struct {
	bytes      *semaphore.Weighted
	maxBytes   int64
	maxMessage int64
	inflight   atomic.Int64 // bytes charged or reserved now
	streams    *semaphore.Weighted
	maxStreams int64
	wait       time.Duration
	draining   atomic.Bool
	// receipts carries charges between the codec and the interceptors,
	// keyed by the message being decoded (a pointer). A stream's RecvMsg
	// registers one before gRPC decodes; a unary request is decoded before
	// any interceptor runs, so the codec registers its receipt and the
	// unary interceptor claims it.
	receipts sync.Map
}

// receipt is what one received message took from the budget.
type receipt struct {
	ctx  context.Context // the call's; nil for unary requests
	size int64           // the message's length
	n    int64           // bytes charged for it
	err  error           // the refusal, when there was no room in time

	mu       sync.Mutex
	reserved int64       // room reserved before the message came, unsettled
	lease    *time.Timer // gives the reservation back if the client idles
}

// unreserve takes the unsettled reservation out of rc (once).
func (rc *receipt) unreserve() int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := rc.reserved
	rc.reserved = 0
	return r
}

func newLimits(maxBytes, maxMessage, maxStreams int64, wait time.Duration) *limits {
	return &limits{
		bytes: semaphore.NewWeighted(maxBytes), maxBytes: maxBytes, maxMessage: maxMessage,
		streams: semaphore.NewWeighted(maxStreams), maxStreams: maxStreams,
		wait: wait,
	}
}

// budgetError says why a message could not be received or decoded.
func (l *limits) budgetError(what string) error {
	return fmt.Errorf("%w: no room within %v for %s: the bytes of incoming messages being received and decoded, across all streams, are bounded by flight.max_inflight_bytes (%d); retry later",
		errResourceExhausted, l.wait, what, l.maxBytes)
}

// take charges n bytes, waiting up to l.wait; see wait for its errors.
func (l *limits) take(ctx context.Context, n int64) error {
	if !l.bytes.TryAcquire(n) {
		if err := wait(ctx, l.wait, func(ctx context.Context) error { return l.bytes.Acquire(ctx, n) }); err != nil {
			return err
		}
	}
	l.inflight.Add(n)
	return nil
}

func (l *limits) release(n int64) {
	if n > 0 {
		l.inflight.Add(-n)
		l.bytes.Release(n)
	}
}

// reserve takes room for a message of up to n bytes before it is
// received, into rc, for at most a lease; with n == 0 it only waits until
// the budget has room and no message waits for any.
func (l *limits) reserve(rc *receipt, n int64) error {
	if err := l.take(rc.ctx, max(n, 1)); err != nil {
		if errors.Is(err, errWaited) {
			err = l.budgetError("the next message")
		}
		return err
	}
	if n == 0 {
		l.release(1)
		return nil
	}
	rc.reserved = n
	rc.lease = time.AfterFunc(l.wait/2, func() { l.release(rc.unreserve()) })
	return nil
}

// settle charges a received message of n bytes, using rc's reservation.
func (l *limits) settle(rc *receipt, n int64) error {
	have := rc.unreserve()
	switch {
	case n < smallMessage: // not charged
		l.release(have)
		return nil
	case have >= n:
		l.release(have - n)
		rc.n += n
		return nil
	}
	l.release(have) // not enough: wait for all of it, holding nothing
	if n > l.maxBytes {
		return fmt.Errorf("%w: a %d-byte message is larger than flight.max_inflight_bytes (%d)", errResourceExhausted, n, l.maxBytes)
	}
	if err := l.take(rc.ctx, n); err != nil {
		if errors.Is(err, errWaited) {
			err = l.budgetError(fmt.Sprintf("a %d-byte message", n))
		}
		return err
	}
	rc.n += n
	return nil
}

// admit takes a call slot (flight.max_streams), or says why not.
func (l *limits) admit(ctx context.Context) error {
	if l.draining.Load() {
		return errDraining
	}
	if !l.streams.TryAcquire(1) {
		err := wait(ctx, l.wait, func(ctx context.Context) error { return l.streams.Acquire(ctx, 1) })
		if errors.Is(err, errWaited) {
			err = fmt.Errorf("%w: %d calls are running, the bound set by flight.max_streams; waited %v for one to end; retry later", errResourceExhausted, l.maxStreams, l.wait)
		}
		if err != nil {
			return err
		}
	}
	if l.draining.Load() { // the drain began while this call waited
		l.streams.Release(1)
		return errDraining
	}
	return nil
}

// errDraining refuses calls once Server.Shutdown has begun.
var errDraining = fmt.Errorf("%w: the server is shutting down; retry on another server or after it restarts", errShuttingDown)

// errWaited marks a wait that ran out of time (not the caller's context).
var errWaited = errors.New("waited too long")

// wait runs acquire with a context that also ends after d; it returns
// errWaited when d ran out, ctx's error when ctx ended.
func wait(ctx context.Context, d time.Duration, acquire func(context.Context) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := acquire(wctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errWaited
	}
	return nil
}

// streamInterceptor admits a stream and wraps it so that what it
// receives is charged to the budget.
func (l *limits) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	// Health checks are answered while draining and take no call slot.
	if !isHealth(info.FullMethod) {
		if err := l.admit(ss.Context()); err != nil {
			return toStatus(err)
		}
		defer l.streams.Release(1)
	}
	ls := &limitedStream{ServerStream: ss, lim: l, reserve: info.IsClientStream, largest: -1}
	ls.ctx = context.WithValue(ss.Context(), limitedStreamKey{}, ls)
	defer ls.releaseHeld()
	return toStatus(handler(srv, ls))
}

// unaryInterceptor admits a unary call and holds its request's charge
// until the handler returns.
func (l *limits) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r, ok := l.receipts.LoadAndDelete(req); ok {
		rc := r.(*receipt)
		defer l.release(rc.n)
		if rc.err != nil {
			return nil, toStatus(rc.err)
		}
	}
	if isHealth(info.FullMethod) { // answered while draining, no call slot
		return handler(ctx, req)
	}
	if err := l.admit(ctx); err != nil {
		return nil, toStatus(err)
	}
	defer l.streams.Release(1)
	resp, err := handler(ctx, req)
	return resp, toStatus(err)
}

type limitedStreamKey struct{}

// limitedStream charges the messages a call receives and holds the
// charges until the call is done with them.
type limitedStream struct {
	grpc.ServerStream
	ctx     context.Context
	lim     *limits
	reserve bool         // client-streaming: reserve room before each message
	largest int64        // the largest record batch message so far; -1 before one
	held    atomic.Int64 // bytes charged for messages received so far
}

func (s *limitedStream) Context() context.Context { return s.ctx }

// RecvMsg releases the previous messages' charges (the handler asks for
// the next, so it is done with them), reserves room for the next when the
// call is client-streaming, and receives it; budgetCodec settles the
// charge.
func (s *limitedStream) RecvMsg(m any) error {
	s.releaseHeld()
	rc := &receipt{ctx: s.ctx}
	if s.reserve {
		if err := s.lim.reserve(rc, s.expect()); err != nil {
			return err
		}
	}
	s.lim.receipts.Store(m, rc)
	err := s.ServerStream.RecvMsg(m)
	s.lim.receipts.Delete(m)
	if rc.lease != nil {
		rc.lease.Stop()
	}
	s.lim.release(rc.unreserve()) // no message came (or the codec settled it)
	s.held.Add(rc.n)
	if rc.err != nil {
		return rc.err
	}
	if fd, ok := m.(*flight.FlightData); ok && err == nil && len(fd.DataBody) > 0 {
		s.largest = max(s.largest, rc.size)
	}
	return err
}

// expect is how much room to reserve for the next message.
func (s *limitedStream) expect() int64 {
	switch {
	case s.largest < 0:
		return s.lim.maxMessage
	case s.largest < smallMessage:
		return 0
	}
	return s.largest
}

func (s *limitedStream) releaseHeld() { s.lim.release(s.held.Swap(0)) }

// releaseReceived tells the limits that the call whose context is ctx is
// done with the messages it has received so far.
func releaseReceived(ctx context.Context) {
	if s, ok := ctx.Value(limitedStreamKey{}).(*limitedStream); ok {
		s.releaseHeld()
	}
}

// budgetCodec is gRPC's proto codec with the budget settled before a
// message is decoded, and FlightData decoded without the extra copy.
type budgetCodec struct {
	lim   *limits
	proto encoding.CodecV2
}

func newBudgetCodec(l *limits) budgetCodec {
	return budgetCodec{lim: l, proto: encoding.GetCodecV2("proto")}
}

func (c budgetCodec) Name() string                           { return c.proto.Name() }
func (c budgetCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// Unmarshal settles data's charge, then decodes. When there is no room in
// time it leaves v empty and returns nil, recording the refusal in the
// receipt: gRPC would report a codec error as Internal, and the
// interceptor returns ResourceExhausted instead.
func (c budgetCodec) Unmarshal(data mem.BufferSlice, v any) error {
	n := int64(data.Len())
	r, registered := c.lim.receipts.Load(v)
	rc, _ := r.(*receipt)
	if rc == nil {
		if n < smallMessage {
			return c.decode(data, v)
		}
		rc = &receipt{}
	}
	rc.size = n
	charged := rc.n
	if err := c.lim.settle(rc, n); err != nil {
		rc.err = err
	} else if err := c.decode(data, v); err != nil {
		c.lim.release(rc.n - charged)
		rc.n = charged
		return err
	}
	if !registered {
		c.lim.receipts.Store(v, rc)
	}
	return nil
}

func (c budgetCodec) decode(data mem.BufferSlice, v any) error {
	if fd, ok := v.(*flight.FlightData); ok && decodeFlightData(data, fd) {
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

// decodeFlightData fills fd from gRPC's frames, copying each field once
// into its own slice (the proto codec first copies the whole message into
// one buffer, then data_body out of it). It handles FlightData as Flight
// clients send it, each of its four fields at most once, and reports false
// for anything else (unknown or repeated fields, other wire types,
// malformed input), leaving fd for proto.Unmarshal to decode or reject.
func decodeFlightData(data mem.BufferSlice, fd *flight.FlightData) bool {
	r := data.Reader()
	defer r.Close()
	var fields [4][]byte // flight_descriptor, data_header, app_metadata, data_body
	var seen [4]bool
	for r.Remaining() > 0 {
		key, err := binary.ReadUvarint(r)
		if err != nil || key&7 != 2 { // only length-delimited fields
			return false
		}
		var i int
		switch key >> 3 {
		case 1:
			i = 0
		case 2:
			i = 1
		case 3:
			i = 2
		case 1000:
			i = 3
		default:
			return false
		}
		size, err := binary.ReadUvarint(r)
		if err != nil || seen[i] || size > uint64(r.Remaining()) {
			return false
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return false
		}
		fields[i], seen[i] = b, true
	}
	var desc *flight.FlightDescriptor
	if seen[0] {
		desc = new(flight.FlightDescriptor)
		if proto.Unmarshal(fields[0], desc) != nil {
			return false
		}
	}
	proto.Reset(fd)
	fd.FlightDescriptor, fd.DataHeader, fd.AppMetadata, fd.DataBody = desc, fields[1], fields[2], fields[3]
	return true
}
