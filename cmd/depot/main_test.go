package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/httpsuite"
	"github.com/depot-registry/depot/internal/testenv"
	"golang.org/x/crypto/bcrypt"
)

// MustRunMain starts a real depot server (the same Main the binary runs) on
// a loopback port with the embedded defaults in a fresh data directory, and
// stops it when the test ends.
func MustRunMain(tb testing.TB, c Config) *Main {
	tb.Helper()
	return mustRunMainLog(tb, c, io.Discard)
}

// mustRunMainLog is MustRunMain writing the server's log to logOut.
func mustRunMainLog(tb testing.TB, c Config, logOut io.Writer) *Main {
	tb.Helper()
	if c.DataDir == "" {
		c.DataDir = tb.TempDir()
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "depot.db")
	}
	if c.StorageURL == "" {
		c.StorageURL = "file://" + filepath.Join(c.DataDir, "blobs")
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = bcrypt.MinCost
	}
	m := NewMain(c, slog.New(slog.NewTextHandler(logOut, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		tb.Fatalf("open depot: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Errorf("server did not stop within 30s")
		}
		if err := m.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return m
}

func TestHTTPSuiteSQLiteFilesystem(t *testing.T) {
	m := MustRunMain(t, Config{MaxUploadSize: 4 << 20})
	httpsuite.Run(t, &httpsuite.Env{
		BaseURL:       "http://" + m.Addr(),
		Service:       m.Service,
		Blobs:         m.Blobs,
		Inline:        m.Store,
		MaxUploadSize: m.Config.MaxUploadSize,
		TempUploads:   m.Blobs.TempUploads,
	})
}

// scaleOutConfig is a Config on a fresh PostgreSQL schema and S3 bucket;
// the test skips (or fails, in CI) without them.
func scaleOutConfig(t *testing.T) Config {
	t.Helper()
	s3 := testenv.S3Server(t)
	return Config{
		DatabaseURL:       testenv.PostgresURL(t),
		StorageURL:        s3.StorageURL(t),
		S3AccessKeyID:     s3.AccessKey,
		S3SecretAccessKey: s3.SecretKey,
	}
}

func TestHTTPSuitePostgresS3(t *testing.T) {
	c := scaleOutConfig(t)
	c.MaxUploadSize = 4 << 20
	m := MustRunMain(t, c)
	httpsuite.Run(t, &httpsuite.Env{
		BaseURL:       "http://" + m.Addr(),
		Service:       m.Service,
		Blobs:         m.Blobs,
		Inline:        m.Store,
		MaxUploadSize: m.Config.MaxUploadSize,
		TempUploads:   m.Blobs.TempUploads,
	})
}
