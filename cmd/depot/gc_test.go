package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mustOrphanBlob commits a blob to m's blob storage without any record, as
// an upload whose metadata transaction failed leaves it.
func mustOrphanBlob(t *testing.T, m *Main, content string) string {
	t.Helper()
	ctx := context.Background()
	up, err := m.Blobs.NewUpload(ctx, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if _, err := up.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	digest := hex.EncodeToString(sum[:])
	if err := up.Commit(ctx, digest); err != nil {
		t.Fatal(err)
	}
	return digest
}

// gcCheck runs `admin gc` on a filled registry with one orphan blob: the dry
// run reports it and removes nothing, --apply removes it and nothing else.
func gcCheck(t *testing.T, m *Main, extraArgs ...string) {
	fx := fillRegistry(t, m)
	orphan := mustOrphanBlob(t, m, "nobody references me")
	ctx := context.Background()
	args := append([]string{"admin", "gc", "--database-url", m.Config.DatabaseURL, "--storage-url", m.Config.StorageURL}, extraArgs...)

	code, stdout, stderr := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("gc: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "unreferenced blobs: 1 (20 bytes)") || !strings.Contains(stdout, orphan) {
		t.Errorf("gc dry run printed %q, want the one orphan %s", stdout, orphan)
	}
	if _, err := m.Blobs.Stat(ctx, orphan); err != nil {
		t.Fatalf("the dry run removed the orphan: %v", err)
	}

	code, stdout, stderr = runCLI(t, nil, append(args, "--apply")...)
	if code != 0 {
		t.Fatalf("gc --apply: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "removed 1 unreferenced blobs") {
		t.Errorf("gc --apply printed %q, want 1 blob removed", stdout)
	}
	if _, err := m.Blobs.Stat(ctx, orphan); err == nil {
		t.Errorf("gc --apply left the orphan")
	}
	checkRegistry(t, m, fx) // every referenced blob is still there
}

func TestGCFilesystem(t *testing.T) {
	m := MustRunMain(t, Config{})
	tmp := filepath.Join(m.Config.DataDir, "blobs", "tmp")
	stale, fresh := filepath.Join(tmp, "upload-stale"), filepath.Join(tmp, "upload-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	gcCheck(t, m, "--data-dir", m.Config.DataDir)
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("gc --apply left a temporary upload two hours old")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("gc --apply removed a fresh temporary upload: %v", err)
	}
}

func TestGCBadTempAge(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "admin", "gc", "--data-dir", t.TempDir(), "--temp-age", "1s")
	if code != 2 || !strings.Contains(stderr, "--temp-age") {
		t.Errorf("gc --temp-age 1s: exit %d, %q; want 2 naming --temp-age", code, stderr)
	}
}

func TestGCPostgresS3(t *testing.T) {
	c := scaleOutConfig(t)
	m := MustRunMain(t, c)
	gcCheck(t, m, "--s3-access-key-id", c.S3AccessKeyID, "--s3-secret-access-key", c.S3SecretAccessKey)
}
