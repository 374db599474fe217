package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func tokenCtx(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func listActions(ctx context.Context, c flight.Client) error {
	s, err := c.ListActions(ctx, &flight.Empty{})
	if err != nil {
		return err
	}
	return drain(s.Recv)
}

// TestAuthSIGHUPRevokes: the real binary re-reads auth.tokens_file on
// SIGHUP; a file that fails to parse keeps the old tokens.
func TestAuthSIGHUPRevokes(t *testing.T) {
	st := testStorage(t)
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("- {name: ops, token: tok-ops, role: admin}\n- {name: bi, token: tok-bi, role: read}\n")
	srv := startServer(t, append([]string{"--auth.tokens_file", file}, st.args...)...)
	c := dialT(t, srv.addr)
	defer c.Close()
	if err := listActions(context.Background(), c); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	if err := listActions(tokenCtx("tok-bi"), c); err != nil {
		t.Fatalf("read token: %v", err)
	}
	write("- {name: ops, token: tok-ops, role: nope}\n")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if err := listActions(tokenCtx("tok-bi"), c); err != nil {
		t.Fatalf("after a bad file: the old tokens should stay: %v", err)
	}
	write("- {name: ops, token: tok-ops, role: admin}\n")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := listActions(tokenCtx("tok-bi"), c)
		if status.Code(err) == codes.Unauthenticated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked token still works 10s after SIGHUP: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := listActions(tokenCtx("tok-ops"), c); err != nil {
		t.Fatalf("kept token: %v", err)
	}
}

// TestAuthRefusesOpenServe: serve will not start open on a non-loopback
// address unless auth.allow_anonymous.
func TestAuthRefusesOpenServe(t *testing.T) {
	out, err := exec.Command(binary(t), "serve", "--listen", "0.0.0.0:0", "--metrics.listen", "off", "--storage.uri", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "auth.allow_anonymous") {
		t.Fatalf("open serve on 0.0.0.0: err %v, output %s", err, out)
	}
	srv := startServer(t, "--listen", "0.0.0.0:0", "--auth.allow_anonymous", "true", "--storage.uri", t.TempDir())
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if code := srv.waitExit(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestHealthSIGTERM: the real binary's health service says SERVING, then
// NOT_SERVING once SIGTERM starts the drain, and the process exits 0.
func TestHealthSIGTERM(t *testing.T) {
	st := testStorage(t)
	srv := startServer(t, append([]string{"--shutdown.timeout", "5s"}, st.args...)...)
	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("check: %v %v", r, err)
	}
	watch, err := hc.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", r, err)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch after SIGTERM: %v %v", r, err)
	}
	if code := srv.waitExit(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
