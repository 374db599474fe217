package objstore

import (
	"context"
	"fmt"
	"strings"
)

// Open opens the store named by uri: "s3://bucket/prefix" opens an S3 store
// (see NewS3; opts supplies the endpoint, credentials and region, its
// Bucket and Prefix are replaced by the URI's), "file:///dir" or a plain
// path opens a Local store. opts is ignored for local stores.
func Open(ctx context.Context, uri string, opts S3Options) (Store, error) {
	if rest, ok := strings.CutPrefix(uri, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("objstore: %q names no bucket", uri)
		}
		opts.Bucket, opts.Prefix = bucket, prefix
		return NewS3(ctx, opts)
	}
	if strings.Contains(uri, "://") && !strings.HasPrefix(uri, "file://") {
		return nil, fmt.Errorf("objstore: unsupported storage uri %q (want a directory, file:// or s3://)", uri)
	}
	return NewLocal(strings.TrimPrefix(uri, "file://"))
}
