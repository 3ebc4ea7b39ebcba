package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/s3blob"
	"github.com/depot-registry/depot/internal/sqlcopy"
	"github.com/depot-registry/depot/internal/testenv"
	"github.com/minio/minio-go/v7"
)

// damager changes stored blobs behind depot's back, as a failing disk or an
// operator would.
type damager interface {
	// overwrite replaces the blob's bytes.
	overwrite(t *testing.T, digest string, content []byte)
	// remove deletes the blob.
	remove(t *testing.T, digest string)
}

type diskDamager struct{ dir string }

func (d diskDamager) path(digest string) string {
	return filepath.Join(d.dir, "sha256", digest[:2], digest)
}

func (d diskDamager) overwrite(t *testing.T, digest string, content []byte) {
	t.Helper()
	if err := os.WriteFile(d.path(digest), content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (d diskDamager) remove(t *testing.T, digest string) {
	t.Helper()
	if err := os.Remove(d.path(digest)); err != nil {
		t.Fatal(err)
	}
}

// s3Damager edits objects with the MinIO client, not through depot.
type s3Damager struct {
	client *minio.Client
	bucket string
	prefix string
}

func newS3Damager(t *testing.T, storageURL string) s3Damager {
	t.Helper()
	sc, err := s3blob.ParseURL(storageURL)
	if err != nil {
		t.Fatal(err)
	}
	return s3Damager{client: testenv.S3Server(t).Client(t), bucket: sc.Bucket, prefix: sc.Prefix}
}

func (d s3Damager) key(digest string) string {
	p := d.prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + "blobs/sha256/" + digest[:2] + "/" + digest
}

func (d s3Damager) overwrite(t *testing.T, digest string, content []byte) {
	t.Helper()
	_, err := d.client.PutObject(context.Background(), d.bucket, d.key(digest), bytes.NewReader(content), int64(len(content)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func (d s3Damager) remove(t *testing.T, digest string) {
	t.Helper()
	if err := d.client.RemoveObject(context.Background(), d.bucket, d.key(digest), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// storedDamager damages a blob where it is kept: its inline content in the
// metadata database when there is one (upsert and DELETE on
// blob_contents), else its bytes in blob storage through blobs. It
// remembers where each blob it touched was, so that a removed inline blob
// is restored inline.
type storedDamager struct {
	m     *Main
	blobs damager
	kept  map[string]bool // digest: inline
}

func newStoredDamager(m *Main, blobs damager) *storedDamager {
	return &storedDamager{m: m, blobs: blobs, kept: map[string]bool{}}
}

// inline reports whether m keeps digest's content inline (or did when
// first asked), and the database and placeholders to damage it with.
func (d *storedDamager) inline(t *testing.T, digest string) (*sql.DB, [2]string, bool) {
	t.Helper()
	inline, known := d.kept[digest]
	if !known {
		_, err := d.m.Store.InlineBlob(context.Background(), digest)
		if err != nil && !errors.Is(err, depot.ErrNotFound) {
			t.Fatal(err)
		}
		inline = err == nil
		d.kept[digest] = inline
	}
	if !inline {
		return nil, [2]string{}, false
	}
	db, err := sqlDB(d.m.Store)
	if err != nil {
		t.Fatal(err)
	}
	ph := [2]string{"?", "?"}
	if db.Dialect == sqlcopy.Postgres {
		ph = [2]string{"$1", "$2"}
	}
	return db.DB, ph, true
}

func (d *storedDamager) overwrite(t *testing.T, digest string, content []byte) {
	t.Helper()
	db, ph, ok := d.inline(t, digest)
	if !ok {
		d.blobs.overwrite(t, digest, content)
		return
	}
	if _, err := db.Exec(`INSERT INTO blob_contents (sha256, content) VALUES (`+ph[0]+`, `+ph[1]+`)
		ON CONFLICT (sha256) DO UPDATE SET content = excluded.content`, digest, content); err != nil {
		t.Fatal(err)
	}
}

func (d *storedDamager) remove(t *testing.T, digest string) {
	t.Helper()
	db, ph, ok := d.inline(t, digest)
	if !ok {
		d.blobs.remove(t, digest)
		return
	}
	if _, err := db.Exec(`DELETE FROM blob_contents WHERE sha256 = `+ph[0], digest); err != nil {
		t.Fatal(err)
	}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// verifyArgs are the arguments of `admin verify` on m's stores.
func verifyArgs(m *Main, extra ...string) []string {
	args := []string{"admin", "verify", "--database-url", m.Config.DatabaseURL, "--storage-url", m.Config.StorageURL}
	if m.Config.S3AccessKeyID != "" {
		args = append(args, "--s3-access-key-id", m.Config.S3AccessKeyID, "--s3-secret-access-key", m.Config.S3SecretAccessKey)
	}
	return append(args, extra...)
}

// verifyCheck fills a registry, checks that an intact one verifies with
// exit 0, damages three blobs (one overwritten with as many bytes, one cut
// short, one deleted) and checks that verify names each with its files,
// in text and in JSON, and exits 3.
func verifyCheck(t *testing.T, m *Main, d damager) {
	fx := fillRegistry(t, m)
	code, stdout, stderr := runCLI(t, nil, verifyArgs(m)...)
	if code != 0 || !strings.Contains(stdout, "checked 3 blobs") || !strings.Contains(stdout, "3 intact, 0 missing, 0 truncated, 0 corrupt, 0 unreadable") {
		t.Fatalf("verify of an intact registry: exit %d, %q, %q; want 0 and 3 intact blobs", code, stdout, stderr)
	}

	shared := fx.files["mig/generic/app/1.0.0/app.tar.gz"]
	app2 := fx.files["mig/generic/app/2.0.0/app.tar.gz"]
	fw := fx.files["migorg/generic/fw/v3/fw.bin"]
	rotten := bytes.Clone(shared)
	rotten[len(rotten)/2] ^= 1
	d.overwrite(t, digestOf(shared), rotten)
	d.overwrite(t, digestOf(app2), app2[:3])
	d.remove(t, digestOf(fw))

	code, stdout, stderr = runCLI(t, nil, verifyArgs(m, "--workers", "2")...)
	if code != exitDamaged {
		t.Errorf("verify of a damaged registry: exit %d, want %d; stderr %q", code, exitDamaged, stderr)
	}
	for _, want := range []string{
		"corrupt sha256:" + digestOf(shared),
		"  mig/generic/app/1.0.0/app.tar.gz (file ",
		"  mig/generic/app/1.0.0/copy.tar.gz (file ",
		"truncated sha256:" + digestOf(app2),
		"  mig/generic/app/2.0.0/app.tar.gz (file ",
		"missing sha256:" + digestOf(fw),
		"  migorg/generic/fw/v3/fw.bin (file ",
		"checked 3 blobs",
		"0 intact, 1 missing, 1 truncated, 1 corrupt, 0 unreadable",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "3 damaged blobs") {
		t.Errorf("stderr %q does not say how many blobs are damaged", stderr)
	}
	damaged, err := m.Store.DamagedBlobs(context.Background())
	if err != nil || len(damaged) != 3 {
		t.Errorf("recorded damage: %v, %v; want the 3 blobs", damaged, err)
	}

	code, stdout, _ = runCLI(t, nil, verifyArgs(m, "--json", "--owner", "migorg")...)
	if code != exitDamaged {
		t.Errorf("verify --json --owner migorg: exit %d, want %d", code, exitDamaged)
	}
	var findings []verifyFinding
	var summary map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var kind struct{ Kind string }
		if err := json.Unmarshal(sc.Bytes(), &kind); err != nil {
			t.Fatalf("verify --json wrote %q: %v", sc.Text(), err)
		}
		switch kind.Kind {
		case "finding":
			var f verifyFinding
			json.Unmarshal(sc.Bytes(), &f)
			findings = append(findings, f)
		case "summary":
			json.Unmarshal(sc.Bytes(), &summary)
		default:
			t.Errorf("verify --json wrote a line of kind %q", kind.Kind)
		}
	}
	if len(findings) != 1 || findings[0].Problem != "missing" || findings[0].SHA256 != digestOf(fw) ||
		len(findings[0].Files) != 1 || findings[0].Files[0].Owner != "migorg" || findings[0].Files[0].File != "fw.bin" {
		t.Errorf("migorg's findings: %+v, want fw.bin's blob missing", findings)
	}
	if summary["blobs"] != 1.0 || summary["missing"] != 1.0 || summary["damaged"] != 1.0 || summary["complete"] != true {
		t.Errorf("summary %v, want 1 blob, 1 missing", summary)
	}

	// Repaired, verify passes and forgets the damage.
	d.overwrite(t, digestOf(shared), shared)
	d.overwrite(t, digestOf(app2), app2)
	d.overwrite(t, digestOf(fw), fw)
	code, stdout, stderr = runCLI(t, nil, verifyArgs(m, "--rate", "10MiB", "--sample", "100%")...)
	if code != 0 || !strings.Contains(stdout, "3 intact") || !strings.Contains(stdout, "3 found intact again") {
		t.Errorf("verify after the repair: exit %d, %q, %q; want 0, 3 intact again", code, stdout, stderr)
	}
	if damaged, _ := m.Store.DamagedBlobs(context.Background()); len(damaged) != 0 {
		t.Errorf("damage still recorded after the repair: %v", damaged)
	}
}

// onDisk runs check on a server on SQLite and disk configured by edit.
func onDisk(t *testing.T, edit func(*Config), check func(*testing.T, *Main, damager)) {
	var c Config
	if edit != nil {
		edit(&c)
	}
	m := MustRunMain(t, c)
	check(t, m, newStoredDamager(m, diskDamager{filepath.Join(m.Config.DataDir, "blobs")}))
}

// onS3 runs check on a server on PostgreSQL and MinIO configured by edit.
func onS3(t *testing.T, edit func(*Config), check func(*testing.T, *Main, damager)) {
	c := scaleOutConfig(t)
	if edit != nil {
		edit(&c)
	}
	m := MustRunMain(t, c)
	check(t, m, newStoredDamager(m, newS3Damager(t, c.StorageURL)))
}

func TestVerifyFilesystem(t *testing.T) { onDisk(t, nil, verifyCheck) }

func TestVerifyPostgresS3(t *testing.T) { onS3(t, nil, verifyCheck) }

func TestVerifyBadSettings(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ args []string }{
		{[]string{"--sample", "0"}},
		{[]string{"--sample", "150%"}},
		{[]string{"--rate", "fast"}},
		{[]string{"--workers", "0"}},
		{[]string{"--owner", "nobody"}},
	} {
		code, _, stderr := runCLI(t, nil, append([]string{"admin", "verify", "--data-dir", dir}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.args[0]) {
			t.Errorf("verify %v: exit %d, %q; want 2 naming %s", c.args, code, stderr, c.args[0])
		}
	}
}
