package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/testenv"
	"golang.org/x/crypto/bcrypt"
)

// startMain runs a Main until the returned stop is called; stop closes it
// (flushing download counts) and may be called once.
func startMain(t *testing.T, c Config) (*Main, func()) {
	t.Helper()
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	c.BcryptCost = bcrypt.MinCost
	m := NewMain(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatalf("open depot: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop")
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(stop)
	return m, stop
}

func fetch(t *testing.T, method, url string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.SetBasicAuth("alice", "pass-word-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func versionDownloads(t *testing.T, svc *depot.Service, owner string) (version, file int64) {
	t.Helper()
	ctx := context.Background()
	admin := &depot.Actor{User: &depot.User{IsAdmin: true}}
	d, err := svc.VersionFilesDetail(ctx, admin, depot.VersionRef{Owner: owner, Type: depot.TypeGeneric, Package: "app", Version: "1.0"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return d.Downloads, d.FileDownloads[d.Files[0].ID]
}

// testDownloadCounts downloads a file n times spread over the servers
// (each GET through another dialect: Gitea generic, GitLab generic, web UI)
// with HEADs between them, stops the servers (which flushes what they
// gathered) and checks on a fresh one that exactly the n GETs were
// counted, per version and per file, and on the package page's chart.
func testDownloadCounts(t *testing.T, cfgs []Config) {
	var mains []*Main
	var stops []func()
	for _, c := range cfgs {
		m, stop := startMain(t, c)
		mains, stops = append(mains, m), append(stops, stop)
	}
	ctx := context.Background()
	svc := mains[0].Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "alice", Email: "alice@example.com", Password: "pass-word-1"}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreateProject(ctx, "alice", "tools", "")
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := svc.CreateToken(ctx, "alice", "ci", depot.Scopes{depot.ScopeAll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := &depot.Actor{User: &depot.User{Owner: depot.Owner{ID: 1}, IsAdmin: true}}
	if _, err := svc.UploadGitLabFile(ctx, alice, depot.GitLabFileRef{Project: "alice/tools", Package: "app", Version: "1.0", Path: "app.bin"}, depot.GitLabUpload{Size: 5}, strings.NewReader("bytes")); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"/api/packages/alice/generic/app/1.0/app.bin",
		"/api/v4/projects/" + strconv.FormatInt(p.ID, 10) + "/packages/generic/app/1.0/app.bin?private_token=" + secret,
		"/alice/-/packages/generic/app/1.0/files/app.bin",
	}
	const n = 30
	start := time.Now()
	for i := range n {
		base := "http://" + mains[i%len(mains)].Addr()
		if s := fetch(t, http.MethodGet, base+paths[i%len(paths)]); s != http.StatusOK {
			t.Fatalf("GET %s: %d", paths[i%len(paths)], s)
		}
		if s := fetch(t, http.MethodHead, base+paths[i%len(paths)]); s != http.StatusOK {
			t.Fatalf("HEAD %s: %d", paths[i%len(paths)], s)
		}
	}
	// Nothing is written per download: until a flush the store has none
	// (unless the 2 s batch timer already fired on a slow machine).
	if v, _ := versionDownloads(t, svc, "alice"); time.Since(start) < 1500*time.Millisecond && v != 0 {
		t.Errorf("%d downloads recorded before any flush, want 0 (batched)", v)
	}
	for _, stop := range stops {
		stop()
	}
	m, _ := startMain(t, cfgs[0])
	v, f := versionDownloads(t, m.Service, "alice")
	if v != n || f != n {
		t.Errorf("after shutdown: version %d, file %d downloads, want %d each", v, f, n)
	}
	d, err := m.Service.PackageVersions(ctx, alice, "alice", "app")
	if err != nil {
		t.Fatal(err)
	}
	if d.Downloads.Total != n || d.Downloads.Days[len(d.Downloads.Days)-1].Count != n || len(d.Downloads.Days) != depot.DownloadDays {
		t.Errorf("chart: total %d, today %d, %d days; want %d, %d, %d", d.Downloads.Total, d.Downloads.Days[len(d.Downloads.Days)-1].Count, len(d.Downloads.Days), n, n, depot.DownloadDays)
	}
}

func TestDownloadCountsSQLite(t *testing.T) {
	dir := t.TempDir()
	testDownloadCounts(t, []Config{{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"), StorageURL: "file://" + filepath.Join(dir, "blobs")}})
}

// TestDownloadCountsReplicas runs two replicas on one PostgreSQL database
// (and one blob directory): each batches its own downloads, and the
// counts add up.
func TestDownloadCountsReplicas(t *testing.T) {
	url := testenv.PostgresURL(t)
	dir := t.TempDir()
	c := Config{DataDir: dir, DatabaseURL: url, StorageURL: "file://" + filepath.Join(dir, "blobs")}
	testDownloadCounts(t, []Config{c, c})
}
