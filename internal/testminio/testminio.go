// Package testminio runs a real MinIO server for tests, on 127.0.0.1 with a
// temporary data directory.
//
// The server binary is $FLIGHTWAL_MINIO_BIN, else $FLIGHTWAL_CACHE/bin/minio,
// else .cache/bin/minio in the module root (found by walking up from the
// working directory to go.mod); `make deps` installs it there. Without it a
// test is skipped, unless FLIGHTWAL_REQUIRE_MINIO=1, when it fails.
//
// Either each test starts its own server:
//
//	srv := testminio.Start(t) // stopped by t.Cleanup
//	store := srv.Store(t)     // a fresh bucket
//
// or a test package shares one server per test binary:
//
//	func TestMain(m *testing.M) { testminio.Main(m) } // stops it at exit
//	... testminio.Shared(t).Store(t) ...
package testminio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightwal/flightwal/objstore"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	accessKey = "flightwal"
	secretKey = "flightwal-secret"
	region    = "us-east-1"
	// startTimeout bounds the wait for the server to answer its health check.
	startTimeout = 30 * time.Second
)

// Server is a running MinIO server.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // data directory

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	log     *bytes.Buffer
	logMu   *sync.Mutex
	client  *minio.Client
	ownDir  bool // Dir is ours to remove on Stop
	stopped sync.Once
}

// errNoBinary marks a missing MinIO binary: tests skip rather than fail.
var errNoBinary = errors.New("testminio: minio binary not found")

// Binary returns the path of the MinIO server binary.
func Binary() (string, error) {
	if p := os.Getenv("FLIGHTWAL_MINIO_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: FLIGHTWAL_MINIO_BIN=%s: %v", errNoBinary, p, err)
		}
		return p, nil
	}
	var tried []string
	if c := os.Getenv("FLIGHTWAL_CACHE"); c != "" {
		p := filepath.Join(c, "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".cache", "bin", "minio")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("%w (tried %v; run `make deps` or set FLIGHTWAL_MINIO_BIN)", errNoBinary, tried)
}

// skipOrFatal handles a failure to start: a missing binary skips the test
// unless FLIGHTWAL_REQUIRE_MINIO=1.
func skipOrFatal(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNoBinary) && os.Getenv("FLIGHTWAL_REQUIRE_MINIO") != "1" {
		tb.Skipf("skipping MinIO test: %v", err)
	}
	tb.Fatalf("starting MinIO: %v", err)
}

// Start starts a MinIO server for this test; tb.Cleanup stops it.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start(tb.TempDir(), false)
	if err != nil {
		skipOrFatal(tb, err)
	}
	tb.Cleanup(s.Stop)
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's shared MinIO server, starting it on first
// use. Call StopShared from TestMain after m.Run.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "testminio-")
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = start(dir, true)
		if shared.err != nil {
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		skipOrFatal(tb, shared.err)
	}
	return shared.srv
}

// Main is a test package's TestMain when it uses Shared: it runs the tests,
// stops the shared server and exits with the tests' code.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared server if one was started. Shared must not be
// called after it.
func StopShared() {
	if shared.srv != nil {
		shared.srv.Stop()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start launches MinIO on dir; a port taken between freePort and the
// server's bind makes the process exit, and start tries again.
func start(dir string, ownDir bool) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launch(bin, dir)
		if err == nil {
			s.ownDir = ownDir
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cport, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	certs := filepath.Join(dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "server", data,
		"--address", addr,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", cport),
		"--certs-dir", certs,
		"--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+accessKey,
		"MINIO_ROOT_PASSWORD="+secretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	setProcAttr(cmd)
	s := &Server{
		Endpoint: "http://" + addr, AccessKey: accessKey, SecretKey: secretKey, Region: region, Dir: dir,
		cmd: cmd, done: make(chan struct{}), log: &bytes.Buffer{}, logMu: &sync.Mutex{},
	}
	w := &lockedWriter{mu: s.logMu, w: s.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testminio: starting %s: %w", bin, err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	if err := s.waitReady(); err != nil {
		s.kill()
		return nil, fmt.Errorf("%w\nminio output:\n%s", err, s.output())
	}
	s.client, err = minio.New(addr, &minio.Options{
		Creds: credentials.NewStaticV4(accessKey, secretKey, ""), Region: region,
	})
	if err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("testminio: minio exited before it was ready")
		default:
		}
		resp, err := hc.Get(s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("testminio: minio not ready after %v", startTimeout)
}

func (s *Server) output() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// Stop stops the server (SIGTERM, then SIGKILL after 5s) and removes its
// data directory if Start did not get it from testing.TB.TempDir.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		if err := s.cmd.Process.Signal(os.Interrupt); err == nil {
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				s.kill()
			}
		} else {
			s.kill()
		}
		if s.ownDir {
			os.RemoveAll(s.Dir)
		}
	})
}

var bucketSeq atomic.Int64

// NewBucket creates a fresh, uniquely named bucket and returns its URI
// ("s3://NAME") and the options objstore.Open needs to reach it.
func (s *Server) NewBucket(tb testing.TB) (uri string, opts objstore.S3Options) {
	tb.Helper()
	var rnd [4]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("t%d-%s", bucketSeq.Add(1), hex.EncodeToString(rnd[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		tb.Fatalf("testminio: creating bucket %s: %v", name, err)
	}
	return "s3://" + name, s.Options()
}

// Options returns S3 options for this server (no bucket).
func (s *Server) Options() objstore.S3Options {
	return objstore.S3Options{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}
}

// Store opens an objstore.Store on a fresh bucket.
func (s *Server) Store(tb testing.TB) objstore.Store {
	tb.Helper()
	uri, opts := s.NewBucket(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := objstore.Open(ctx, uri, opts)
	if err != nil {
		tb.Fatalf("testminio: opening %s: %v", uri, err)
	}
	return st
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 { // keep the head; minio is chatty only when something is wrong
		return len(p), nil
	}
	return l.w.Write(p)
}
