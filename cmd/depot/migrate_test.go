package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/oidc/issuertest"
)

// migrateFixture is a registry filled through the service: a user with a
// token, a private organization, files in both, two of them sharing a blob.
type migrateFixture struct {
	token string
	files map[string][]byte // path under /api/packages/ -> content
	// deployToken reads the GitLab package fillGitLab publishes.
	deployToken string
	// publisherToken was minted for a trusted publisher of issuer, whose
	// ID token jti was exchanged; it uploaded mig/app 3.0.0.
	publisherToken, issuer, jti string
}

func fillRegistry(t *testing.T, m *Main) migrateFixture {
	t.Helper()
	ctx := context.Background()
	svc := m.Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "mig", Email: "mig@example.com", Password: "migrate-password", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateOrg(ctx, "migorg", "mig", depot.Private); err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, "mig", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	actor, err := svc.Authenticate(ctx, depot.Credentials{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	fx := migrateFixture{token: token, files: map[string][]byte{}}
	// The shared blob is over depot.MaxInlineBlob: in blob storage; the
	// other two are kept inline, so every copy meets both kinds.
	shared := bytes.Repeat([]byte("shared "), 10000)
	for i, ref := range []depot.FileRef{
		{Owner: "mig", Package: "app", Version: "1.0.0", File: "app.tar.gz"},
		{Owner: "mig", Package: "app", Version: "1.0.0", File: "copy.tar.gz"},
		{Owner: "mig", Package: "app", Version: "2.0.0", File: "app.tar.gz"},
		{Owner: "migorg", Package: "fw", Version: "v3", File: "fw.bin"},
	} {
		content := []byte(fmt.Sprintf("content %d of %s", i, ref.File))
		if ref.File == "copy.tar.gz" || (ref.Version == "1.0.0" && ref.File == "app.tar.gz") {
			content = shared
		}
		ref.Type = depot.TypeGeneric
		if _, err := svc.UploadFile(ctx, actor, ref, int64(len(content)), bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		fx.files[fmt.Sprintf("%s/generic/%s/%s/%s", ref.Owner, ref.Package, ref.Version, ref.File)] = content
	}
	// A project with a package linked to it.
	if _, err := svc.CreateProject(ctx, "mig", "app-src", depot.Private); err != nil {
		t.Fatal(err)
	}
	if err := svc.LinkPackage(ctx, actor, "mig", depot.TypeGeneric, "app", "app-src"); err != nil {
		t.Fatal(err)
	}
	fx.deployToken = fillGitLab(t, m, actor, shared, fx.files["mig/generic/app/2.0.0/app.tar.gz"])
	fillTrustedPublishing(t, m, &fx)
	fillCleanup(t, m, cliActor)
	return fx
}

// migrateRule is the cleanup rule fillCleanup adds: every field set, so
// that booleans and texts cross dialects.
var migrateRule = depot.CleanupRule{Type: depot.TypeGeneric, Enabled: false, KeepCount: 3, KeepPattern: `v\d+`, RemoveDays: 9,
	RemovePattern: ".*-dev", MatchFullName: true, Order: depot.CleanupOrderSemver, ExcludePrereleasesFromKeepCount: true, NotDownloadedDays: 30}

// fillCleanup adds a cleanup rule and a finished pass.
func fillCleanup(t *testing.T, m *Main, actor *depot.Actor) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Service.CreateCleanupRule(ctx, actor, "mig", migrateRule); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p := &depot.CleanupPass{Slot: 42, Holder: "migrate-test", StartedAt: now, LeaseUntil: now.Add(time.Minute)}
	if ok, err := m.Service.StartCleanupPass(ctx, p); err != nil || !ok {
		t.Fatalf("StartCleanupPass: %v, %v", ok, err)
	}
	if err := m.Service.FinishCleanupPass(ctx, p.ID, now, 7, ""); err != nil {
		t.Fatal(err)
	}
}

// checkCleanup checks fillCleanup's rows and that new ones get fresh ids.
func checkCleanup(t *testing.T, m *Main, actor *depot.Actor) {
	t.Helper()
	ctx := context.Background()
	rules, err := m.Service.CleanupRules(ctx, actor, "mig")
	if err != nil || len(rules) != 1 {
		t.Fatalf("cleanup rules after migration: %v, %v", rules, err)
	}
	got, want := *rules[0], migrateRule
	want.ID, want.OwnerID, want.CreatedAt, want.UpdatedAt = got.ID, got.OwnerID, got.CreatedAt, got.UpdatedAt
	if got != want {
		t.Errorf("cleanup rule after migration: %+v, want %+v", got, want)
	}
	if ps, err := m.Service.CleanupPasses(ctx, 10); err != nil || len(ps) != 1 || ps[0].Slot != 42 || ps[0].Deleted != 7 || ps[0].FinishedAt == nil {
		t.Errorf("cleanup passes after migration: %+v, %v", ps, err)
	}
	if _, err := m.Service.CreateCleanupRule(ctx, actor, "migorg", depot.CleanupRule{KeepCount: 1}); err != nil {
		t.Errorf("create cleanup rule after migration: %v", err)
	} else if err := m.Service.DeleteCleanupRule(ctx, actor, "migorg", rulesOf(t, m, actor, "migorg")); err != nil {
		t.Errorf("delete it: %v", err)
	}
}

func rulesOf(t *testing.T, m *Main, actor *depot.Actor, owner string) int64 {
	t.Helper()
	rules, err := m.Service.CleanupRules(context.Background(), actor, owner)
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules of %s: %v, %v", owner, rules, err)
	}
	return rules[0].ID
}

// fillTrustedPublishing adds a trusted publisher, an exchange and a file
// uploaded with the minted token.
func fillTrustedPublishing(t *testing.T, m *Main, fx *migrateFixture) {
	t.Helper()
	ctx := context.Background()
	is := issuertest.New(t)
	if _, err := m.Service.CreateTrustedPublisher(ctx, depot.NewTrustedPublisher{Owner: "mig", Issuer: is.URL, Audience: "migrate",
		Claims: []string{"repository=mig/app"}, Packages: []string{"app"}}); err != nil {
		t.Fatal(err)
	}
	claims := issuertest.GitHub(is.URL, "migrate", "mig/app", time.Now())
	minted, err := m.Service.ExchangeIDToken(ctx, is.Sign(t, claims), "")
	if err != nil {
		t.Fatal(err)
	}
	fx.publisherToken, fx.issuer, fx.jti = minted.Token, is.URL, claims["jti"].(string)
	a, err := m.Service.Authenticate(ctx, depot.Credentials{Token: minted.Token})
	if err != nil {
		t.Fatal(err)
	}
	// The bytes of a file already stored: the blob counts stay.
	content := fx.files["mig/generic/app/2.0.0/app.tar.gz"]
	ref := depot.FileRef{Owner: "mig", Type: depot.TypeGeneric, Package: "app", Version: "3.0.0", File: "ci.bin"}
	if _, err := m.Service.UploadFile(ctx, a, ref, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	fx.files["mig/generic/app/3.0.0/ci.bin"] = content
}

// checkTrustedPublishing checks what fillTrustedPublishing stored.
func checkTrustedPublishing(t *testing.T, m *Main, fx migrateFixture) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Service.Authenticate(ctx, depot.Credentials{Token: fx.publisherToken}); err != nil {
		t.Errorf("the minted token after migration: %v", err)
	}
	if fresh, err := m.Store.UseTokenID(ctx, fx.issuer, fx.jti, time.Now().Add(time.Hour), time.Now()); err != nil || fresh {
		t.Errorf("the exchanged jti after migration: fresh %v, %v; want used", fresh, err)
	}
	o, err := m.Store.OwnerByName(ctx, "mig")
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Store.VersionByName(ctx, o.ID, depot.TypeGeneric, "app", "3.0.0")
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := m.Store.FilePublications(ctx, v.Version.ID)
	if err != nil || len(pubs) != 1 {
		t.Fatalf("publications after migration: %v, %v", pubs, err)
	}
	for _, p := range pubs {
		if p.Repository != "mig/app" || p.RunID != "5301" || p.PublisherID == 0 {
			t.Errorf("publication after migration: %+v", p)
		}
	}
}

// checkRegistry downloads every file of fx from a running server with fx's
// token and compares the bytes, then uploads a new file.
func checkRegistry(t *testing.T, m *Main, fx migrateFixture) {
	t.Helper()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	do := func(method, path string, body []byte) (int, []byte) {
		req, err := http.NewRequest(method, "http://"+m.Addr()+"/api/packages/"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+fx.token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for path, want := range fx.files {
		code, got := do(http.MethodGet, path, nil)
		if code != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET %s: %d, %d bytes; want 200 with the %d bytes uploaded", path, code, len(got), len(want))
		}
	}
	// New rows get fresh ids after a migration (PostgreSQL's identity
	// sequences moved past the copied keys).
	for i := range 3 {
		path := fmt.Sprintf("mig/generic/after/%d.%d/new.bin", time.Now().UnixNano(), i)
		if code, msg := do(http.MethodPut, path, []byte("after migration")); code != http.StatusCreated {
			t.Fatalf("PUT %s after migration: %d %s", path, code, msg)
		}
	}
	ctx := context.Background()
	actor, err := m.Service.Authenticate(ctx, depot.Credentials{Token: fx.token})
	if err != nil {
		t.Fatal(err)
	}
	_, pv, err := m.Service.PackageVersion(ctx, actor, depot.VersionRef{Owner: "mig", Type: depot.TypeGeneric, Package: "app", Version: "2.0.0"})
	if err != nil || pv.Project == nil || pv.Project.Name != "app-src" || pv.Project.Visibility != depot.Private {
		t.Errorf("package link after migration: %+v, %v; want project app-src", pv, err)
	}
	if _, err := m.Service.CreateProject(ctx, "mig", fmt.Sprint("after-", time.Now().UnixNano()), ""); err != nil {
		t.Errorf("create project after migration: %v", err)
	}
	if _, _, err := m.Service.CreateToken(ctx, "mig", fmt.Sprint("after-", time.Now().UnixNano()), depot.Scopes{depot.ScopeReadPackage}, nil); err != nil {
		t.Fatalf("create token after migration: %v", err)
	}
	checkGitLab(t, m, fx.deployToken, fx.files["mig/generic/app/2.0.0/app.tar.gz"])
	checkTrustedPublishing(t, m, fx)
	checkCleanup(t, m, cliActor)
}

// migrateRoundTrip migrates a filled SQLite + disk registry to dst, checks
// the copy, migrates again (a resumed run changes nothing) and, when back
// is set, migrates dst back into a second SQLite + disk registry.
func migrateRoundTrip(t *testing.T, dst Config, back bool) {
	src := MustRunMain(t, Config{})
	fx := fillRegistry(t, src)

	args := func(from, to Config) []string {
		a := []string{"admin", "migrate",
			"--from-database-url", from.DatabaseURL, "--from-storage-url", from.StorageURL,
			"--to-database-url", to.DatabaseURL, "--to-storage-url", to.StorageURL}
		if dst.S3AccessKeyID != "" {
			a = append(a, "--s3-access-key-id", dst.S3AccessKeyID, "--s3-secret-access-key", dst.S3SecretAccessKey)
		}
		return a
	}
	code, stdout, stderr := runCLI(t, nil, args(src.Config, dst)...)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// 3 blobs for 4 files (2 share one), 2 of them inline: copied with the
	// metadata, not through blob storage.
	if !strings.Contains(stdout, "blobs: 1 copied and verified, 0 already there") {
		t.Errorf("migrate reported %q, want 1 blob copied (3 blobs, 2 of them inline)", stdout)
	}
	code, stdout, stderr = runCLI(t, nil, args(src.Config, dst)...)
	if code != 0 || !strings.Contains(stdout, "blobs: 0 copied and verified, 1 already there") {
		t.Fatalf("migrate again: exit %d, %q, want the 1 blob already there\n%s", code, stdout, stderr)
	}
	moved := MustRunMain(t, dst)
	checkRegistry(t, moved, fx)

	if !back {
		return
	}
	home := t.TempDir()
	again := Config{DataDir: home, DatabaseURL: "sqlite://" + filepath.Join(home, "depot.db"), StorageURL: "file://" + filepath.Join(home, "blobs")}
	if code, stdout, stderr := runCLI(t, nil, args(dst, again)...); code != 0 {
		t.Fatalf("migrate back: exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkRegistry(t, MustRunMain(t, again), fx)
}

func TestMigrateSQLiteToSQLite(t *testing.T) {
	dir := t.TempDir()
	migrateRoundTrip(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"), StorageURL: "file://" + filepath.Join(dir, "blobs")}, false)
}

func TestMigrateRefusesDamagedBlob(t *testing.T) {
	src := MustRunMain(t, Config{})
	fx := fillRegistry(t, src)
	content := fx.files["mig/generic/app/1.0.0/app.tar.gz"] // in blob storage
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	blobPath := filepath.Join(src.Config.DataDir, "blobs", "sha256", digest[:2], digest)
	if err := os.WriteFile(blobPath, []byte("bit rot"), 0o600); err != nil {
		t.Fatalf("damage blob: %v", err)
	}
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, nil, "admin", "migrate",
		"--from-database-url", src.Config.DatabaseURL, "--from-storage-url", src.Config.StorageURL,
		"--to-database-url", "sqlite://"+filepath.Join(dir, "depot.db"), "--to-storage-url", "file://"+filepath.Join(dir, "blobs"))
	if code != 1 || !strings.Contains(stderr, digest) || !strings.Contains(stderr, "damaged") {
		t.Fatalf("migrate with a damaged blob: exit %d, stderr %q; want 1 naming the blob as damaged (stdout %q)", code, stderr, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", digest[:2], digest)); err == nil {
		t.Errorf("the damaged blob was stored in the destination")
	}
}

func TestMigrateToPostgresS3AndBack(t *testing.T) {
	dst := scaleOutConfig(t)
	dst.DataDir = t.TempDir()
	migrateRoundTrip(t, dst, true)
}
