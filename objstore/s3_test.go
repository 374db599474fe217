package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightwal/flightwal/internal/testminio"
	"github.com/flightwal/flightwal/objstore"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func TestS3OpenAndLayout(t *testing.T) {
	srv := testminio.Shared(t)
	ctx := ctxT(t)
	uri, opts := srv.NewBucket(t)
	bucket := strings.TrimPrefix(uri, "s3://")

	s, err := objstore.Open(ctx, uri+"/a/b/", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), uri+"/a/b"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	root, err := objstore.Open(ctx, uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	if root.String() != uri {
		t.Fatalf("String() = %q, want %q", root.String(), uri)
	}
	// Keys live under the prefix in the bucket, and come back relative to it.
	mustPut(t, s, "t.lance/_versions/1.manifest", []byte("m"))
	objs, err := root.List(ctx, "")
	if err != nil || fmt.Sprint(keys(objs)) != "[a/b/t.lance/_versions/1.manifest]" {
		t.Fatalf("bucket holds %v (%v), want [a/b/t.lance/_versions/1.manifest]", keys(objs), err)
	}
	objs, err = s.List(ctx, "t.lance/")
	if err != nil || fmt.Sprint(keys(objs)) != "[t.lance/_versions/1.manifest]" {
		t.Fatalf("prefixed List = %v (%v)", keys(objs), err)
	}

	// The AWS environment variables stand in for empty options.
	t.Setenv("AWS_ENDPOINT_URL", opts.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", opts.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", opts.SecretKey)
	t.Setenv("AWS_REGION", opts.Region)
	envStore, err := objstore.Open(ctx, uri+"/a/b", objstore.S3Options{})
	if err != nil {
		t.Fatalf("Open from the environment: %v", err)
	}
	if got := mustGet(t, envStore, "t.lance/_versions/1.manifest"); string(got) != "m" {
		t.Fatalf("read %q through the env-configured store", got)
	}

	// A missing bucket is a clear error at Open.
	_, err = objstore.Open(ctx, "s3://no-such-bucket-"+bucket, opts)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open of a missing bucket: %v", err)
	}
	// Wrong credentials fail at Open, and are not reported as transient.
	bad := opts
	bad.SecretKey = "wrong-secret"
	if _, err = objstore.Open(ctx, uri, bad); err == nil || errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Open with a wrong secret: %v", err)
	}
}

func TestS3OpenErrors(t *testing.T) {
	ctx := ctxT(t)
	for _, c := range []struct{ uri, endpoint, want string }{
		{"s3://", "http://127.0.0.1:1", "names no bucket"},
		{"s3:///prefix", "http://127.0.0.1:1", "names no bucket"},
		{"s3://b", "ftp://127.0.0.1:1", "scheme must be http or https"},
		{"s3://b", "http://127.0.0.1:1/path", "no path"},
		{"gs://b/p", "", "unsupported storage uri"},
	} {
		_, err := objstore.Open(ctx, c.uri, objstore.S3Options{Endpoint: c.endpoint})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q, endpoint %q): %v, want an error containing %q", c.uri, c.endpoint, err, c.want)
		}
	}
	// Nothing listens on the endpoint: a transient error, and soon.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = objstore.Open(ctx, "s3://bucket", objstore.S3Options{Endpoint: "http://" + addr, AccessKey: "k", SecretKey: "s", Region: "us-east-1", MaxRetries: 1})
	if !errors.Is(err, objstore.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("Open of a closed port: %v after %v, want ErrUnavailable", err, time.Since(start))
	}
}

// TestS3Multipart checks that a large Put really goes as a multipart upload
// (its ETag is "<md5>-<parts>") and that a small one does not.
func TestS3Multipart(t *testing.T) {
	srv := testminio.Shared(t)
	ctx := ctxT(t)
	uri, opts := srv.NewBucket(t)
	s, err := objstore.Open(ctx, uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(9, 40<<20)
	mustPut(t, s, "big", data)
	mustPut(t, s, "small", data[:1<<20])
	if err := s.PutIfAbsent(ctx, "big-pia", data); err != nil {
		t.Fatalf("40 MiB PutIfAbsent: %v", err)
	}
	if got := mustGet(t, s, "big-pia"); !bytes.Equal(got, data) {
		t.Fatal("40 MiB PutIfAbsent read back differs")
	}
	raw, err := minio.New(strings.TrimPrefix(opts.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""), Region: opts.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	bucket := strings.TrimPrefix(uri, "s3://")
	for key, want := range map[string]string{"big": "-3", "small": "", "big-pia": ""} {
		oi, err := raw.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, parts, multi := strings.Cut(oi.ETag, "-")
		if got := map[bool]string{true: "-" + parts, false: ""}[multi]; got != want {
			t.Errorf("%s: ETag %q, want part suffix %q (16 MiB parts)", key, oi.ETag, want)
		}
	}
}

// fakeS3 answers like S3 would with errors, to pin the error mapping.
type fakeS3 struct {
	mu         sync.Mutex
	status     int    // answer to object requests
	code       string // S3 error code in the body
	headStatus int    // answer to HEAD object (Stat); 0 means status
	requests   map[string]int
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.Method]++
	parts := strings.SplitN(strings.Trim(r.URL.Path, "/"), "/", 2)
	if len(parts) == 1 && r.Method == http.MethodHead { // bucket exists
		w.WriteHeader(http.StatusOK)
		return
	}
	status := f.status
	if r.Method == http.MethodHead && f.headStatus != 0 {
		status = f.headStatus
	}
	if status == http.StatusOK && r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "3")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("ETag", `"abc"`)
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake</Message><Key>%s</Key></Error>`, f.code, r.URL.Path)
	}
}

func TestS3ErrorMapping(t *testing.T) {
	ctx := ctxT(t)
	fake := &fakeS3{requests: map[string]int{}}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	s, err := objstore.Open(ctx, "s3://bucket/p", objstore.S3Options{
		Endpoint: hs.URL, AccessKey: "k", SecretKey: "secret", Region: "us-east-1", MaxRetries: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	set := func(status int, code string, headStatus int) {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		fake.status, fake.code, fake.headStatus = status, code, headStatus
		fake.requests = map[string]int{}
	}
	count := func(method string) int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.requests[method]
	}

	for _, c := range []struct {
		status int
		code   string
		want   error
	}{
		{503, "SlowDown", objstore.ErrUnavailable},
		{500, "InternalError", objstore.ErrUnavailable},
		{429, "TooManyRequests", objstore.ErrUnavailable},
		{404, "NoSuchKey", objstore.ErrNotFound},
		{403, "AccessDenied", nil},
	} {
		set(c.status, c.code, 0)
		_, getErr := s.Get(ctx, "k")
		putErr := s.Put(ctx, "k", []byte("v"))
		for op, err := range map[string]error{"Get": getErr, "Put": putErr} {
			if err == nil {
				t.Fatalf("%s answered %d %s: no error", op, c.status, c.code)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("%s answered %d %s: %v, want %v", op, c.status, c.code, err, c.want)
			}
			if c.want == nil && (errors.Is(err, objstore.ErrUnavailable) || errors.Is(err, objstore.ErrNotFound)) {
				t.Errorf("%s answered %d %s: %v, want a permanent error", op, c.status, c.code, err)
			}
		}
	}

	// The client retries a failed Put itself (MaxRetries 2), never a PutIfAbsent.
	set(503, "SlowDown", 0)
	s.Put(ctx, "k", []byte("v"))
	if n := count(http.MethodPut); n != 2 {
		t.Errorf("Put answered 503: %d attempts, want 2", n)
	}
	set(503, "SlowDown", 0)
	if err := s.PutIfAbsent(ctx, "k", []byte("v")); !errors.Is(err, objstore.ErrUnavailable) {
		t.Errorf("PutIfAbsent answered 503: %v", err)
	}
	if n := count(http.MethodPut); n != 1 {
		t.Errorf("PutIfAbsent answered 503: %d attempts, want 1", n)
	}

	// 412: the key exists.
	set(412, "PreconditionFailed", 0)
	if err := s.PutIfAbsent(ctx, "k", []byte("v")); !errors.Is(err, objstore.ErrExists) {
		t.Errorf("PutIfAbsent answered 412: %v, want ErrExists", err)
	}
	// 409 ConditionalRequestConflict: ErrExists only if the object is there.
	set(409, "ConditionalRequestConflict", 200)
	if err := s.PutIfAbsent(ctx, "k", []byte("v")); !errors.Is(err, objstore.ErrExists) {
		t.Errorf("PutIfAbsent answered 409 with the object present: %v, want ErrExists", err)
	}
	set(409, "ConditionalRequestConflict", 404)
	if err := s.PutIfAbsent(ctx, "k", []byte("v")); !errors.Is(err, objstore.ErrUnavailable) || errors.Is(err, objstore.ErrExists) {
		t.Errorf("PutIfAbsent answered 409 with the object absent: %v, want ErrUnavailable", err)
	}
	// Delete of a missing key: S3 would answer 204; the store stats first.
	set(204, "", 404)
	if err := s.Delete(ctx, "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Delete of a missing key: %v, want ErrNotFound", err)
	}
	if n := count(http.MethodDelete); n != 0 {
		t.Errorf("Delete of a missing key sent %d DELETEs", n)
	}

	// A context that ends is reported as such, not as a store fault.
	set(503, "SlowDown", 0)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
}
