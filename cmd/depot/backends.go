package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/postgres"
	"github.com/depot-registry/depot/internal/s3blob"
	"github.com/depot-registry/depot/internal/sqlite"
)

// linkExpiry is how long a presigned download URL stays valid: long enough
// to start a download, short enough that a leaked URL soon stops working.
const linkExpiry = 5 * time.Minute

// staleTemp is the age after which a temporary upload belongs to no live
// upload: only a crash leaves one behind.
const staleTemp = time.Hour

// blobBackend is what depot needs of a blob store besides depot.BlobStore:
// finding and removing temporary uploads a crash left behind.
type blobBackend interface {
	depot.BlobStore
	// CleanTemp removes temporary uploads last written before cutoff and
	// returns how many it removed.
	CleanTemp(cutoff time.Time) (int, error)
	// TempUploads lists the temporary uploads present.
	TempUploads() ([]string, error)
}

func scheme(raw string) string {
	s, _, _ := strings.Cut(raw, "://")
	return s
}

// checkDatabaseURL reports what is wrong with a --database-url.
func checkDatabaseURL(raw string) error {
	switch scheme(raw) {
	case "sqlite":
		_, err := sqlitePath(raw)
		return err
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("%q is not a URL: %v", raw, err)
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return fmt.Errorf("%q names no host", raw)
		}
		return nil
	}
	return fmt.Errorf("%q: supported schemes are sqlite:// and postgres://", raw)
}

// checkStorageURL reports what is wrong with a --storage-url.
func checkStorageURL(raw string) error {
	switch scheme(raw) {
	case "file":
		_, err := filePath(raw)
		return err
	case "s3":
		_, err := s3blob.ParseURL(raw)
		return err
	}
	return fmt.Errorf("%q: supported schemes are file:// and s3://", raw)
}

// openStore opens the metadata store the configuration names.
func openStore(ctx context.Context, c Config) (depot.Store, error) {
	if scheme(c.DatabaseURL) != "sqlite" {
		return postgres.Open(ctx, c.DatabaseURL)
	}
	p, err := sqlitePath(c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	return sqlite.Open(ctx, p)
}

// closeBlobs releases what a blob store holds (a local store's owner lock,
// so that its temporary files count as orphans only after a crash).
func closeBlobs(b blobBackend) error {
	if c, ok := b.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// openBlobs opens the blob store the configuration names.
func openBlobs(ctx context.Context, c Config) (blobBackend, error) {
	if scheme(c.StorageURL) == "s3" {
		sc, err := s3blob.ParseURL(c.StorageURL)
		if err != nil {
			return nil, err
		}
		if c.S3AccessKeyID != "" {
			sc.AccessKey, sc.SecretKey = c.S3AccessKeyID, c.S3SecretAccessKey
		}
		return s3blob.New(ctx, sc)
	}
	p, err := filePath(c.StorageURL)
	if err != nil {
		return nil, err
	}
	return fsblob.New(p)
}

// openStores opens the metadata store and the blob storage the
// configuration names; the caller closes the store.
func openStores(ctx context.Context, c Config) (depot.Store, blobBackend, error) {
	store, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	blobs, err := openBlobs(ctx, c)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, blobs, nil
}
