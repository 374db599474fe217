package objstore

import (
	"context"
	"errors"
	"strings"
)

// S3Options configures the S3 store.
type S3Options struct {
	Endpoint, AccessKey, SecretKey, Region, Bucket, Prefix string
}

// Open opens "s3://bucket/prefix" or a local directory.
func Open(ctx context.Context, uri string, opts S3Options) (Store, error) {
	if strings.HasPrefix(uri, "s3://") {
		return nil, errors.New("objstore: s3 not implemented yet")
	}
	return NewLocal(strings.TrimPrefix(uri, "file://"))
}
