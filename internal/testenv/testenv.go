// Package testenv gives tests the external services depot runs on: a fresh
// PostgreSQL schema and a fresh S3 bucket, each removed when the test ends.
// Without the service a test skips with a message, unless
// DEPOT_TEST_REQUIRE_ALL=1 (set by CI), in which case it fails.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// RequireAll reports whether missing services must fail tests.
func RequireAll() bool { return os.Getenv("DEPOT_TEST_REQUIRE_ALL") == "1" }

// Unavailable skips tb, or fails it when RequireAll.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		tb.Fatalf("%s (DEPOT_TEST_REQUIRE_ALL=1)", msg)
	}
	tb.Skip(msg)
}

// PostgresBaseURL is the server tests use: DEPOT_TEST_POSTGRES_URL, or the
// local trust-auth server of the development machines.
func PostgresBaseURL() string {
	if u := os.Getenv("DEPOT_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresURL creates an empty schema and returns a URL whose connections
// use it (search_path), so everything a store creates, its migration table
// included, lands there. The schema is dropped when the test ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := PostgresBaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("postgres url %q: %v", base, err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		Unavailable(tb, "PostgreSQL at %s is not reachable: %v", base, err)
	}
	schema := randomName("depot_test_")
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("postgres url %q: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// S3 describes the test object store: DEPOT_TEST_S3_ENDPOINT (such as
// http://127.0.0.1:9000, set by scripts/minio.sh), DEPOT_TEST_S3_ACCESS_KEY
// and DEPOT_TEST_S3_SECRET_KEY.
type S3 struct {
	Endpoint, AccessKey, SecretKey string
}

// S3Server returns the test object store, skipping or failing tb without one.
func S3Server(tb testing.TB) S3 {
	tb.Helper()
	s := S3{os.Getenv("DEPOT_TEST_S3_ENDPOINT"), os.Getenv("DEPOT_TEST_S3_ACCESS_KEY"), os.Getenv("DEPOT_TEST_S3_SECRET_KEY")}
	if s.Endpoint == "" {
		Unavailable(tb, "no S3 server: DEPOT_TEST_S3_ENDPOINT is not set (scripts/minio.sh starts MinIO and sets it)")
	}
	return s
}

// Client returns a minio-go client for the server.
func (s S3) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		tb.Fatalf("DEPOT_TEST_S3_ENDPOINT %q: %v", s.Endpoint, err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: u.Scheme == "https",
		Region: "us-east-1",
	})
	if err != nil {
		tb.Fatalf("s3 client: %v", err)
	}
	return c
}

// Bucket creates an empty bucket and returns its name; the bucket and
// everything in it are removed when the test ends.
func (s S3) Bucket(tb testing.TB) string {
	tb.Helper()
	c := s.Client(tb)
	name := randomName("depot-test-")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		Unavailable(tb, "S3 server at %s: create bucket: %v", s.Endpoint, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for up := range c.ListIncompleteUploads(ctx, name, "", true) {
			if up.Err == nil {
				c.RemoveIncompleteUpload(ctx, name, up.Key)
			}
		}
		objects := c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true})
		for e := range c.RemoveObjects(ctx, name, objects, minio.RemoveObjectsOptions{}) {
			tb.Errorf("remove %s: %v", e.ObjectName, e.Err)
		}
		if err := c.RemoveBucket(ctx, name); err != nil {
			tb.Errorf("remove bucket %s: %v", name, err)
		}
	})
	return name
}

// StorageURL creates a bucket and returns depot's s3:// URL for it.
func (s S3) StorageURL(tb testing.TB) string {
	tb.Helper()
	return "s3://" + s.Bucket(tb) + "?endpoint=" + url.QueryEscape(s.Endpoint) + "&region=us-east-1&path_style=true"
}
