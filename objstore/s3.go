package objstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options configures the S3 store. Empty fields fall back to the usual AWS
// environment variables.
type S3Options struct {
	// Endpoint is the S3 endpoint URL, e.g. "http://127.0.0.1:9000"; the
	// scheme selects TLS (a bare host:port means https). Default:
	// AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS S3.
	Endpoint string
	// AccessKey and SecretKey default to AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN); with neither the
	// requests go unsigned.
	AccessKey, SecretKey string
	// Region defaults to AWS_REGION, then AWS_DEFAULT_REGION; empty lets the
	// client look the bucket's region up.
	Region string
	// Bucket and Prefix name the store's root (NewS3); Open sets them from
	// its URI.
	Bucket, Prefix string
	// InsecureSkipVerify turns off TLS certificate verification (test
	// endpoints with self-signed certificates only).
	InsecureSkipVerify bool
	// MaxRetries bounds the client's own retries of a failed request
	// (network errors, 5xx, throttling); 0 means 3. Conditional writes
	// (PutIfAbsent) are never retried by the client: see PutIfAbsent.
	MaxRetries int
	// PartSize is the multipart part size for Put; objects up to this size
	// go in one PUT. 0 means 16 MiB.
	PartSize uint64
}

const defaultPartSize = 16 << 20

// S3 is a Store on an S3 bucket (AWS S3, MinIO, or another compatible
// service) under an optional key prefix, using minio-go.
//
// MinIO (single drive) lists objects wrongly when a key is both an object
// and the parent "directory" of other objects ("a/b" and "a/b/c"): listings
// under "a/b/" come back empty. flightwal's layout never does that; other
// users of the store must not either.
type S3 struct {
	client   *minio.Client // retries transient failures itself
	once     *minio.Client // no client retries: used for conditional writes
	bucket   string
	prefix   string // "" or ends in "/"
	partSize uint64
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket opts.Bucket and checks that it exists.
func NewS3(ctx context.Context, opts S3Options) (*S3, error) {
	if opts.Bucket == "" {
		return nil, errors.New("objstore: s3: no bucket")
	}
	endpoint := firstNonEmpty(opts.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), "https://s3.amazonaws.com")
	host, secure, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	access := firstNonEmpty(opts.AccessKey, os.Getenv("AWS_ACCESS_KEY_ID"))
	secret := firstNonEmpty(opts.SecretKey, os.Getenv("AWS_SECRET_ACCESS_KEY"))
	token := ""
	if opts.AccessKey == "" {
		token = os.Getenv("AWS_SESSION_TOKEN")
	}
	region := firstNonEmpty(opts.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
	retries := opts.MaxRetries
	if retries <= 0 {
		retries = 3
	}
	newClient := func(maxRetries int) (*minio.Client, error) {
		tr, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, err
		}
		if secure && opts.InsecureSkipVerify {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.InsecureSkipVerify = true
		}
		return minio.New(host, &minio.Options{
			Creds:      credentials.NewStaticV4(access, secret, token),
			Secure:     secure,
			Region:     region,
			Transport:  tr,
			MaxRetries: maxRetries,
		})
	}
	s := &S3{bucket: opts.Bucket, partSize: opts.PartSize}
	if s.partSize == 0 {
		s.partSize = defaultPartSize
	}
	if p := strings.Trim(opts.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	if s.client, err = newClient(retries); err != nil {
		return nil, fmt.Errorf("objstore: s3 client for %s: %w", endpoint, err)
	}
	if s.once, err = newClient(1); err != nil {
		return nil, fmt.Errorf("objstore: s3 client for %s: %w", endpoint, err)
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, s.mapErr("checking bucket at "+endpoint, "", err)
	}
	if !ok {
		return nil, fmt.Errorf("objstore: s3 bucket %q does not exist at %s", s.bucket, endpoint)
	}
	return s, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseEndpoint splits an endpoint URL into the host[:port] minio-go wants
// and whether to use TLS.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	if !strings.Contains(endpoint, "://") {
		return endpoint, true, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("objstore: s3 endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("objstore: s3 endpoint %q: scheme must be http or https", endpoint)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", false, fmt.Errorf("objstore: s3 endpoint %q: want scheme://host[:port] with no path", endpoint)
	}
	return u.Host, secure, nil
}

func (s *S3) key(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// mapErr turns a minio-go error into one wrapping ErrNotFound (missing
// object) or ErrUnavailable (network failure, 5xx, throttling, timeouts),
// or a plain error; the original error stays wrapped too.
func (s *S3) mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("objstore: s3 %s %s", op, key)
	if key == "" {
		what = "objstore: s3 " + op
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0) {
		switch {
		case er.Code == "NoSuchKey" || er.Code == "NotFound" && er.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		case noSpaceCode(er.Code):
			return fmt.Errorf("%s: %w: %w", what, ErrNoSpace, err)
		case retryableCode(er.Code) || er.StatusCode >= 500 || er.StatusCode == http.StatusTooManyRequests ||
			er.StatusCode == http.StatusRequestTimeout:
			return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// noSpaceCode: the server is out of space or the bucket over its quota
// (MinIO's storage-full and quota answers).
func noSpaceCode(code string) bool {
	switch code {
	case "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded":
		return true
	}
	return false
}

func retryableCode(code string) bool {
	switch code {
	case "SlowDown", "SlowDownRead", "SlowDownWrite", "Throttling", "ThrottlingException",
		"RequestLimitExceeded", "RequestThrottled", "TooManyRequests", "RequestTimeout",
		"RequestError", "InternalError", "ServiceUnavailable", "XMinioServerNotInitialized":
		return true
	}
	return false
}

func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, k, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr("get", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, s.mapErr("get", key, err)
	}
	return b, nil
}

// GetRange reads with a Range header. A range starting at or past the end
// (S3 answers 416) returns no bytes; one running past the end is truncated
// by the server.
func (s *S3) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("objstore: invalid range %d+%d of %s", off, n, key)
	}
	if n == 0 {
		// An empty range cannot be expressed in a Range header; report
		// ErrNotFound for a missing key all the same.
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return []byte{}, nil
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, fmt.Errorf("objstore: range %d+%d of %s: %w", off, n, key, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, k, opts)
	if err != nil {
		return nil, s.mapErr("get range", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && (er.StatusCode == http.StatusRequestedRangeNotSatisfiable || er.Code == "InvalidRange") {
			return []byte{}, nil
		}
		return nil, s.mapErr("get range", key, err)
	}
	return b, nil
}

func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	k, err := s.key(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, k, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.mapErr("stat", key, err)
	}
	return ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Put uploads with one PUT up to the part size and a multipart upload above
// it; either way the object appears whole or not at all.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, s.bucket, k, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		PartSize:    s.partSize,
		ContentType: "application/octet-stream",
	})
	return s.mapErr("put", key, err)
}

// PutIfAbsent is a single PUT with "If-None-Match: *" (no multipart, so the
// condition covers the whole object; S3 allows 5 GiB in one PUT). A 412
// PreconditionFailed means the key exists. A 409 ConditionalRequestConflict
// (S3's answer to a conditional write racing another one) means ErrExists
// if the object now exists and ErrUnavailable otherwise.
//
// The client does not retry this request itself: a retry after a lost
// response would see 412 and report ErrExists for the caller's own write.
// A lost response surfaces as ErrUnavailable instead, and the caller, who
// knows what it wrote, decides (e.g. by reading the object back).
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	opts.SetMatchETagExcept("*")
	_, err = s.once.PutObject(ctx, s.bucket, k, bytes.NewReader(data), int64(len(data)), opts)
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch {
		case er.StatusCode == http.StatusPreconditionFailed || er.Code == "PreconditionFailed":
			return fmt.Errorf("objstore: s3 put-if-absent %s: %w", key, ErrExists)
		case er.StatusCode == http.StatusConflict || er.Code == "ConditionalRequestConflict":
			if _, serr := s.Stat(ctx, key); serr == nil {
				return fmt.Errorf("objstore: s3 put-if-absent %s: %w (after %s)", key, ErrExists, er.Code)
			}
			return fmt.Errorf("objstore: s3 put-if-absent %s: %w: %w", key, ErrUnavailable, err)
		}
	}
	return s.mapErr("put-if-absent", key, err)
}

// List lists recursively under the store's prefix + prefix; keys come back
// relative to the store's root, sorted.
func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine if we return early
	var out []ObjectInfo
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, s.mapErr("list", prefix, oi.Err)
		}
		key, ok := strings.CutPrefix(oi.Key, s.prefix)
		if !ok || strings.HasSuffix(key, "/") {
			continue // directory markers written by other tools
		}
		out = append(out, ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object. S3 answers a delete of a missing key with
// success, so Delete stats the key first to return ErrNotFound as the Store
// contract asks. The check and the delete are two requests: of two racing
// Deletes of one key, both may succeed.
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.Stat(ctx, key); err != nil {
		return err
	}
	return s.mapErr("delete", key, s.client.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{}))
}

// String returns "s3://bucket/prefix" (no trailing slash).
func (s *S3) String() string {
	return strings.TrimSuffix("s3://"+s.bucket+"/"+s.prefix, "/")
}
