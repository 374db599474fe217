package flight_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	fw "github.com/flightwal/flightwal/flight"
	"github.com/flightwal/flightwal/internal/datagen"
)

// TestHealthServingThenDraining: the health service on the Flight port
// says NOT_SERVING before Serving, SERVING then, and NOT_SERVING during a
// drain (a Watch sees it, a Check is still answered, and no token is
// needed); the Watch does not hold the drain open.
func TestHealthServingThenDraining(t *testing.T) {
	h := fw.NewHealth()
	file := writeTokens(t, t.TempDir(), authTokens)
	a, err := fw.NewAuth(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withListen(fw.WithAuth(a), h.ListenOption()), withDial(grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearer("a-secret-333"))))
	conn, err := grpc.NewClient(e.srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx := context.Background()
	check := func() healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		return r.Status
	}
	if s := check(); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("before Serving: %v", s)
	}
	h.Serving()
	if s := check(); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("after Serving: %v", s)
	}
	r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "arrow.flight.protocol.FlightService"})
	if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("flight service: %v %v", r, err)
	}
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", r, err)
	}
	e.createTable("t", datagen.Schema(4), nil)
	h.Draining()
	if s := check(); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("draining: %v", s)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch during the drain: %v %v", r, err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.srv.Shutdown(context.Background()) }()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a health Watch held the drain for %v", d)
	}
	if _, err := watch.Recv(); err == nil {
		t.Fatal("watch still open after the drain")
	}
	if _, err := e.client.GetSchema(ctx, pathDesc("t")); status.Code(err) != codes.Unavailable {
		t.Fatalf("flight call after shutdown: %v", err)
	}
}

// TestDrainAnswersHealthOnNewConnections: while a drain waits for a
// stream in flight, the listener still accepts: a new connection's health
// check answers NOT_SERVING and its Flight calls Unavailable; the stream
// in flight finishes and its batches are acknowledged.
func TestDrainAnswersHealthOnNewConnections(t *testing.T) {
	h := fw.NewHealth()
	e := newEnv(t, withListen(h.ListenOption()))
	h.Serving()
	e.createTable("t", datagen.Schema(4), nil)
	ctx := context.Background()
	stream, err := e.client.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := datagen.Batch(e.mem, 4, 1, 0, 10)
	defer rec.Release()
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(pathDesc("t"))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the first batch's ack: the stream is in flight
		t.Fatal(err)
	}
	h.Draining()
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(ctx) }()

	conn, err := grpc.NewClient(e.srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The drain may not have begun refusing yet: wait for it.
	fc := flight.NewFlightServiceClient(conn)
	for {
		_, err := fc.GetSchema(ctx, pathDesc("t"))
		if status.Code(err) == codes.Unavailable {
			break
		}
		if err != nil {
			t.Fatalf("a new call during the drain: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health on a new connection during the drain: %v %v", r, err)
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) with a stream in flight", err)
	default:
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	acks := 1
	for {
		if _, err := stream.Recv(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the stream in flight: %v", err)
			}
			break
		}
		acks++
	}
	if acks != 2 {
		t.Fatalf("%d acks, want 2", acks)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
