package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/minio/minio-go/v7"
)

// namedKey returns the key of a named object beside the blobs, such as a
// backup's manifest. ErrInvalid for a name in the blobs or staging areas.
func (s *Store) namedKey(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "blobs/") || strings.HasPrefix(name, "tmp/") || strings.HasPrefix(name, "data/") || strings.HasPrefix(name, "uploads/") || strings.Contains(name, "..") {
		return "", depot.Errorf(depot.ErrInvalid, "invalid object name %q", name)
	}
	return s.prefix + name, nil
}

// PutNamed writes a small named object (a backup's manifest) under the
// store's prefix, replacing it; S3 makes the new content visible at once
// and whole. ErrInvalid for a name in the blobs or staging areas.
func (s *Store) PutNamed(ctx context.Context, name string, data []byte) error {
	key, err := s.namedKey(name)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// GetNamed reads a named object PutNamed wrote. ErrNotFound, ErrInvalid.
func (s *Store) GetNamed(ctx context.Context, name string) ([]byte, error) {
	key, err := s.namedKey(name)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, translate(err))
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, translate(err))
	}
	return b, nil
}
