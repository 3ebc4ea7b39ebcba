package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver depot uses
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The helpers of `bench/run.sh --stack s3`: a bucket on the MinIO the
// script started, presigned URLs for the direct-MinIO baseline (so curl,
// wrk and loadgen talk to MinIO with no credentials of their own), a
// PostgreSQL schema for depot, and the CPU cost of sha256 on this machine.

// s3Flags are the flags that say how to reach MinIO; the credentials come
// from MINIO_ROOT_USER and MINIO_ROOT_PASSWORD.
type s3Flags struct{ endpoint, bucket *string }

func addS3Flags(fs *flag.FlagSet) s3Flags {
	return s3Flags{
		endpoint: fs.String("endpoint", "", "MinIO endpoint, http://127.0.0.1:PORT"),
		bucket:   fs.String("bucket", "", "bucket"),
	}
}

func (f s3Flags) client() (*minio.Client, error) {
	if err := checkLoopback(*f.endpoint); err != nil {
		return nil, err
	}
	u, err := url.Parse(*f.endpoint)
	if err != nil {
		return nil, err
	}
	return minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD"), ""),
		Secure:       false,
		Region:       "us-east-1", // presigning then needs no request
		BucketLookup: minio.BucketLookupPath,
	})
}

// bucketCmd creates the bucket.
func bucketCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bucket", flag.ContinueOnError)
	s3f := addS3Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := s3f.client()
	if err != nil {
		return err
	}
	return c.MakeBucket(ctx, *s3f.bucket, minio.MakeBucketOptions{Region: "us-east-1"})
}

// presignCmd prints a presigned URL for a GET or PUT of one key, valid for
// -expiry; -method DELETE removes the key instead.
func presignCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("presign", flag.ContinueOnError)
	s3f := addS3Flags(fs)
	method := fs.String("method", "GET", "GET or PUT")
	key := fs.String("key", "", "object key")
	expiry := fs.Duration("expiry", time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := s3f.client()
	if err != nil {
		return err
	}
	var u *url.URL
	switch *method {
	case "GET":
		u, err = c.PresignedGetObject(ctx, *s3f.bucket, *key, *expiry, nil)
	case "PUT":
		u, err = c.PresignedPutObject(ctx, *s3f.bucket, *key, *expiry)
	case "DELETE":
		// Not a URL: the object is removed now.
		return c.RemoveObject(ctx, *s3f.bucket, *key, minio.RemoveObjectOptions{})
	default:
		return errors.New("-method must be GET, PUT or DELETE")
	}
	if err != nil {
		return err
	}
	fmt.Println(u.String())
	return nil
}

// presigner turns put's URL template into presigned PUT URLs of MinIO, one
// per file, when put runs with -endpoint.
type presigner struct {
	c      *minio.Client
	bucket string
}

func (p *presigner) url(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	key := strings.TrimPrefix(u.Path, "/"+p.bucket+"/")
	s, err := p.c.PresignedPutObject(ctx, p.bucket, key, time.Hour)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// schemaName is what pgschema accepts: a plain identifier.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// pgschemaCmd creates (or with -drop, drops) a schema of the PostgreSQL
// database at -url, for a depot of the bench's own.
func pgschemaCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pgschema", flag.ContinueOnError)
	dsn := fs.String("url", "", "PostgreSQL URL")
	name := fs.String("name", "", "schema")
	drop := fs.Bool("drop", false, "drop the schema instead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !schemaName.MatchString(*name) {
		return fmt.Errorf("schema name %q: want [a-z_][a-z0-9_]*", *name)
	}
	u, err := url.Parse(*dsn)
	if err != nil {
		return err
	}
	if err := checkLoopback("http://" + u.Host); err != nil {
		return err
	}
	db, err := sql.Open("pgx", *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	q := `CREATE SCHEMA ` + *name
	if *drop {
		q = `DROP SCHEMA IF EXISTS ` + *name + ` CASCADE`
	}
	_, err = db.ExecContext(ctx, q)
	return err
}

// sha256costCmd prints the CPU seconds one core spends on the sha256 of a
// GiB here (hashing 256 MiB from memory, user+system time of this
// process): the part of an upload's cost that is the content address.
func sha256costCmd(ctx context.Context, args []string) error {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	before := cpuSeconds()
	h := sha256.New()
	for range 256 {
		h.Write(buf)
	}
	h.Sum(nil)
	fmt.Printf("%.3f\n", (cpuSeconds()-before)*4)
	return nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
