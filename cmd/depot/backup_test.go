package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/testenv"
)

// storeArgs are the flags naming c's database and storage.
func storeArgs(c Config) []string {
	args := []string{"--data-dir", c.DataDir, "--database-url", c.DatabaseURL, "--storage-url", c.StorageURL}
	if c.S3AccessKeyID != "" {
		args = append(args, "--s3-access-key-id", c.S3AccessKeyID, "--s3-secret-access-key", c.S3SecretAccessKey)
	}
	return args
}

func mustBackup(t *testing.T, c Config, to string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, nil, append(append([]string{"admin", "backup"}, storeArgs(c)...), "--to", to)...)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	return stdout
}

func mustRestore(t *testing.T, from string, c Config) {
	t.Helper()
	code, stdout, stderr := runCLI(t, nil, append(append([]string{"admin", "restore"}, storeArgs(c)...), "--from", from)...)
	if code != 0 || !strings.Contains(stdout, "now run depot admin verify") {
		t.Fatalf("restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, nil, append([]string{"admin", "verify"}, storeArgs(c)...)...)
	if code != 0 {
		t.Fatalf("verify after restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// freshSQLite is an empty SQLite + disk configuration.
func freshSQLite(t *testing.T) Config {
	dir := t.TempDir()
	return Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"), StorageURL: "file://" + filepath.Join(dir, "blobs")}
}

// freshScaleOut is an empty PostgreSQL schema and bucket.
func freshScaleOut(t *testing.T) Config {
	c := scaleOutConfig(t)
	c.DataDir = t.TempDir()
	return c
}

// s3BackupURL is a prefix of a new bucket, as --to takes it.
func s3BackupURL(t *testing.T) string {
	return strings.Replace(testenv.S3Server(t).StorageURL(t), "?", "/backups/nightly?", 1)
}

func TestBackupRestoreSQLite(t *testing.T) {
	src := MustRunMain(t, Config{})
	fx := fillRegistry(t, src)
	dir := filepath.Join(t.TempDir(), "backup")
	out := mustBackup(t, src.Config, dir)
	if !strings.Contains(out, "3 blobs") || !strings.Contains(out, "1 copied and verified, 0 already there, 2 inline in the metadata and verified") {
		t.Errorf("backup printed %q, want 3 blobs: 1 copied, 2 inline", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Format != backupFormat || m.DepotVersion != version || m.Blobs.Count != 3 || m.Metadata.Rows["files"] < 4 ||
		m.Metadata.Rows["owners"] != 2 || m.Metadata.SchemaVersion < 8 || m.Source.Database != src.Config.DatabaseURL {
		t.Errorf("manifest %s", b)
	}
	dump := filepath.Join(dir, "blobs", "sha256", m.Metadata.SHA256[:2], m.Metadata.SHA256)
	if got, err := os.ReadFile(dump); err != nil || digestOf(got) != m.Metadata.SHA256 || int64(len(got)) != m.Metadata.Size {
		t.Errorf("metadata dump %s: %d bytes, %v; want the manifest's %d bytes", dump, len(got), err, m.Metadata.Size)
	}

	// Again, after an upload: only the new blob is copied.
	svcUpload(t, src, fx.token, "mig/generic/later/1/later.bin", []byte("uploaded after the first backup"))
	if out := mustBackup(t, src.Config, dir); !strings.Contains(out, "4 blobs") || !strings.Contains(out, "0 copied and verified, 1 already there, 3 inline") {
		t.Errorf("second backup printed %q, want the new blob inline, 1 there", out)
	}
	if snaps, _ := os.ReadDir(filepath.Join(dir, "snapshots")); len(snaps) != 2 {
		t.Errorf("%d snapshots, want 2", len(snaps))
	}
	fx.files["mig/generic/later/1/later.bin"] = []byte("uploaded after the first backup")

	dst := freshSQLite(t)
	mustRestore(t, dir, dst)
	code, _, stderr := runCLI(t, nil, append(append([]string{"admin", "restore"}, storeArgs(dst)...), "--from", dir)...)
	if code != 1 || !strings.Contains(stderr, "empty target") {
		t.Errorf("restore into a full target: exit %d, %q; want 1 saying it needs an empty target", code, stderr)
	}
	checkRegistry(t, MustRunMain(t, dst), fx)

	// The first snapshot by name: without the later file.
	snaps, _ := os.ReadDir(filepath.Join(dir, "snapshots"))
	first := strings.TrimSuffix(snaps[0].Name(), ".json")
	old := freshSQLite(t)
	code, stdout, stderr := runCLI(t, nil, append(append([]string{"admin", "restore"}, storeArgs(old)...), "--from", dir, "--snapshot", first)...)
	if code != 0 || !strings.Contains(stdout, "3 blobs") {
		t.Errorf("restore --snapshot %s: exit %d, %q, %q; want the first snapshot's 3 blobs", first, code, stdout, stderr)
	}
}

func TestBackupRestoreRefusals(t *testing.T) {
	src := MustRunMain(t, Config{})
	fx := fillRegistry(t, src)
	code, _, stderr := runCLI(t, nil, append(append([]string{"admin", "restore"}, storeArgs(freshSQLite(t))...), "--from", t.TempDir())...)
	if code != 1 || !strings.Contains(stderr, "holds no backup") {
		t.Errorf("restore from an empty directory: exit %d, %q", code, stderr)
	}
	// A damaged source blob: no manifest.
	content := fx.files["mig/generic/app/1.0.0/app.tar.gz"] // in blob storage
	diskDamager{filepath.Join(src.Config.DataDir, "blobs")}.overwrite(t, digestOf(content), []byte("bit rot"))
	dir := t.TempDir()
	code, _, stderr = runCLI(t, nil, append(append([]string{"admin", "backup"}, storeArgs(src.Config)...), "--to", dir)...)
	if code != 1 || !strings.Contains(stderr, digestOf(content)) || !strings.Contains(stderr, "damaged") {
		t.Errorf("backup of a damaged blob: exit %d, %q; want 1 naming it", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		t.Errorf("an incomplete backup wrote a manifest")
	}
	diskDamager{filepath.Join(src.Config.DataDir, "blobs")}.overwrite(t, digestOf(content), content)
	// A damaged blob kept inline: no manifest either.
	fw := fx.files["migorg/generic/fw/v3/fw.bin"]
	inline := newStoredDamager(src, diskDamager{filepath.Join(src.Config.DataDir, "blobs")})
	if _, _, ok := inline.inline(t, digestOf(fw)); !ok {
		t.Fatal("fw.bin is not kept inline")
	}
	inline.overwrite(t, digestOf(fw), []byte("bit rot"))
	code, _, stderr = runCLI(t, nil, append(append([]string{"admin", "backup"}, storeArgs(src.Config)...), "--to", dir)...)
	if code != 1 || !strings.Contains(stderr, digestOf(fw)) || !strings.Contains(stderr, "damaged") {
		t.Errorf("backup of a damaged inline blob: exit %d, %q; want 1 naming it", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		t.Errorf("a backup with a damaged inline blob wrote a manifest")
	}
	inline.overwrite(t, digestOf(fw), fw)
	// A damaged metadata dump is refused.
	mustBackup(t, src.Config, dir)
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	var m backupManifest
	json.Unmarshal(b, &m)
	diskDamager{filepath.Join(dir, "blobs")}.overwrite(t, m.Metadata.SHA256, []byte("not a database"))
	code, _, stderr = runCLI(t, nil, append(append([]string{"admin", "restore"}, storeArgs(freshSQLite(t))...), "--from", dir)...)
	if code != 1 || !strings.Contains(stderr, "metadata snapshot is damaged") {
		t.Errorf("restore of a damaged dump: exit %d, %q", code, stderr)
	}
}

// TestBackupRestoreAcrossStacks backs up SQLite + disk into a directory and
// PostgreSQL + MinIO into a bucket, and restores each into the other stack
// and into its own.
func TestBackupRestoreAcrossStacks(t *testing.T) {
	lite := MustRunMain(t, Config{})
	fxLite := fillRegistry(t, lite)
	dir := t.TempDir()
	mustBackup(t, lite.Config, dir)
	pg := freshScaleOut(t)
	mustRestore(t, dir, pg)
	checkRegistry(t, MustRunMain(t, pg), fxLite)

	scale := MustRunMain(t, freshScaleOut(t))
	fxScale := fillRegistry(t, scale)
	bucket := s3BackupURL(t)
	c := scale.Config
	mustBackup(t, c, bucket)
	if out := mustBackup(t, c, bucket); !strings.Contains(out, "0 copied and verified, 1 already there, 2 inline") {
		t.Errorf("second backup into the bucket printed %q, want nothing copied", out)
	}
	back := freshSQLite(t)
	back.S3AccessKeyID, back.S3SecretAccessKey = c.S3AccessKeyID, c.S3SecretAccessKey // to read the backup
	mustRestore(t, bucket, back)
	checkRegistry(t, MustRunMain(t, back), fxScale)
	same := freshScaleOut(t)
	mustRestore(t, bucket, same)
	checkRegistry(t, MustRunMain(t, same), fxScale)
}

// svcUpload PUTs content to path through m's HTTP API.
func svcUpload(t testing.TB, m *Main, token, path string, content []byte) int {
	req, err := http.NewRequest(http.MethodPut, "http://"+m.Addr()+"/api/packages/"+path, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// loadContent is what the load of TestBackupDuringUploads stores at path.
func loadContent(path string) []byte { return []byte(strings.Repeat(path+"\n", 40)) }

// backupUnderLoad backs src up while four clients upload and one deletes,
// restores the backup into dst, and checks that verify passes (every file
// in the restored metadata has its blob, intact) and that every restored
// file downloads with the bytes uploaded.
func backupUnderLoad(t *testing.T, src *Main, dst Config) {
	fx := fillRegistry(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var created atomic.Int64
	deadline := time.Now().Add(30 * time.Second)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				p := fmt.Sprintf("mig/generic/load/%d.%d/f.bin", w, i)
				if svcUpload(t, src, fx.token, p, loadContent(p)) == http.StatusCreated {
					created.Add(1)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // deletes make blobs vanish after a snapshot
		defer wg.Done()
		for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
			req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://%s/api/packages/mig/generic/load/%d.%d", src.Addr(), i%4, i/4), nil)
			req.Header.Set("Authorization", "token "+fx.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for created.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	to := t.TempDir()
	for range 2 {
		mustBackup(t, src.Config, to)
	}
	cancel()
	wg.Wait()

	dst.DataDir = t.TempDir()
	mustRestore(t, to, dst)
	restored := MustRunMain(t, dst)
	var db *sql.DB
	if s, err := sqlDB(restored.Store); err == nil {
		db = s.DB
	} else {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT o.name, p.name, v.version, f.name FROM files f
		JOIN versions v ON v.id = f.version_id JOIN packages p ON p.id = v.package_id JOIN owners o ON o.id = p.owner_id
		WHERE p.name = 'load'`)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for rows.Next() {
		var o, p, v, f string
		rows.Scan(&o, &p, &v, &f)
		paths = append(paths, fmt.Sprintf("%s/generic/%s/%s/%s", o, p, v, f))
	}
	rows.Close()
	if len(paths) == 0 {
		t.Fatalf("the backup holds none of the %d uploads", created.Load())
	}
	for _, p := range paths {
		fx.files[p] = loadContent(p)
	}
	t.Logf("%d uploads acknowledged, %d in the backup", created.Load(), len(paths))
	checkRegistry(t, restored, fx)
}

func TestBackupDuringUploadsSQLite(t *testing.T) {
	backupUnderLoad(t, MustRunMain(t, Config{}), freshSQLite(t))
}

func TestBackupDuringUploadsPostgresS3(t *testing.T) {
	backupUnderLoad(t, MustRunMain(t, freshScaleOut(t)), freshScaleOut(t))
}

func TestBackupBadLocation(t *testing.T) {
	for _, args := range [][]string{
		{"admin", "backup", "--data-dir", t.TempDir(), "--to", "s3://?endpoint=http://127.0.0.1:1"},
		{"admin", "restore", "--data-dir", t.TempDir(), "--from", "s3://?endpoint=http://127.0.0.1:1"},
	} {
		code, _, stderr := runCLI(t, nil, args...)
		if flag := args[len(args)-2]; code != 2 || !strings.Contains(stderr, flag) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", args, code, stderr, flag)
		}
	}
}
