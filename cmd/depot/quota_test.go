package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

func putStatus(t *testing.T, addr, user, pass, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+path, strings.NewReader(body))
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeLimits runs serve with Gitea's limits set: LIMIT_SIZE_GENERIC
// answers 403 (Gitea's status) for users and lets site admins through,
// while --max-upload-size stays a 413 for everyone, and the owner limits
// apply from the settings without any override.
func TestServeLimits(t *testing.T) {
	m := MustRunMain(t, Config{MaxUploadSize: 100, Limits: &depot.Limits{TotalOwnerCount: 2, TotalOwnerSize: 120, SizeGeneric: 10}})
	ctx := context.Background()
	for _, u := range []struct {
		name  string
		admin bool
	}{{"alice", false}, {"root", true}} {
		if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: u.name, Email: u.name + "@example.com", Password: "pass-word-1", Admin: u.admin}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		user, path, body string
		want             int
		text             string
	}{
		{"alice", "/api/packages/alice/generic/a/1/f", strings.Repeat("x", 11), 403, "maximum allowed package type size exceeded: the largest generic file is 10 bytes (LIMIT_SIZE_GENERIC)"},
		{"root", "/api/packages/alice/generic/a/1/f", strings.Repeat("x", 11), 201, ""},
		{"root", "/api/packages/alice/generic/a/1/huge", strings.Repeat("x", 101), 413, "file is larger than the limit of 100 bytes"},
		{"alice", "/api/packages/alice/generic/a/1/g", strings.Repeat("y", 10), 201, ""},
		{"alice", "/api/packages/alice/generic/a/2/g", strings.Repeat("z", 10), 201, ""},
		{"alice", "/api/packages/alice/generic/a/3/g", "w", 403, "maximum allowed package count exceeded: alice has 2 of 2 versions (LIMIT_TOTAL_OWNER_COUNT)"},
		{"root", "/api/packages/alice/generic/a/1/big", strings.Repeat("b", 90), 201, ""},
		{"alice", "/api/packages/alice/generic/a/1/h", "12", 403, "maximum allowed package storage quota exceeded: alice uses 121 of 120 bytes (LIMIT_TOTAL_OWNER_SIZE), and this file would bring it to 123"},
	} {
		status, body := putStatus(t, m.Addr(), c.user, "pass-word-1", c.path, c.body)
		if status != c.want || !strings.Contains(body, c.text) {
			t.Errorf("%s PUT %s (%d bytes): %d %q, want %d %q", c.user, c.path, len(c.body), status, body, c.want, c.text)
		}
	}
}

// TestCLIQuota sets and shows an owner's quota with the admin CLI while a
// server runs on the same database; the server applies it to the next
// upload.
func TestCLIQuota(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string { t.Helper(); return mustRunCLI(t, env, args...) }
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "s3cret-pass", "--email", "alice@example.com")
	m := MustRunMain(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"), TokenCacheTTL: -1})
	if s, b := putStatus(t, m.Addr(), "alice", "s3cret-pass", "/api/packages/alice/generic/a/1/f", "0123456789"); s != 201 {
		t.Fatalf("first upload: %d %s", s, b)
	}
	out := mustCLI("admin", "quota", "set", "--owner", "alice", "--max-size", "12", "--max-versions", "5")
	var got ownerQuotaJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("quota set printed %q: %v", out, err)
	}
	if got.Bytes != 10 || got.Versions != 1 || got.MaxSize == nil || *got.MaxSize != 12 || got.MaxVersions == nil || *got.MaxVersions != 5 || got.MaxFileSize != nil {
		t.Fatalf("quota set printed %+v", got)
	}
	if s, b := putStatus(t, m.Addr(), "alice", "s3cret-pass", "/api/packages/alice/generic/a/1/g", "abc"); s != 403 || !strings.Contains(b, "10 of 12 bytes (owner quota)") {
		t.Fatalf("upload over the CLI's quota: %d %s", s, b)
	}
	// "default" clears one field and keeps the others.
	mustCLI("admin", "quota", "set", "--owner", "alice", "--max-size", "default")
	out = mustCLI("admin", "quota", "show", "--owner", "alice")
	got = ownerQuotaJSON{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.MaxSize != nil || got.MaxVersions == nil || *got.MaxVersions != 5 {
		t.Fatalf("quota show printed %q (%v)", out, err)
	}
	if s, b := putStatus(t, m.Addr(), "alice", "s3cret-pass", "/api/packages/alice/generic/a/1/g", "abc"); s != 201 {
		t.Fatalf("upload after clearing the size quota: %d %s", s, b)
	}
	if code, _, errOut := runCLI(t, env, "admin", "quota", "show", "--owner", "nobody"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("quota show for a missing owner: exit %d %q", code, errOut)
	}
}

// TestCLIOwnerSettings turns immutable versions on with the CLI while a
// server runs; the server refuses the next delete with 409.
func TestCLIOwnerSettings(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustRunCLI(t, env, "admin", "user", "create", "--username", "alice", "--password", "s3cret-pass", "--email", "alice@example.com")
	m := MustRunMain(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db")})
	if s, b := putStatus(t, m.Addr(), "alice", "s3cret-pass", "/api/packages/alice/generic/a/1/f", "x"); s != 201 {
		t.Fatalf("upload: %d %s", s, b)
	}
	if code, _, errOut := runCLI(t, env, "admin", "owner-settings", "set", "--owner", "alice", "--immutable-grace", "-1s", "--immutable-versions"); code != 2 {
		t.Errorf("negative grace: exit %d %q, want 2", code, errOut)
	}
	code, out, errOut := runCLI(t, env, "admin", "owner-settings", "set", "--owner", "alice", "--immutable-versions")
	if code != 0 || !strings.Contains(out, `"immutable_versions":true`) {
		t.Fatalf("set: exit %d %q %q", code, out, errOut)
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://"+m.Addr()+"/api/packages/alice/generic/a/1", nil)
	req.SetBasicAuth("alice", "s3cret-pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("delete of a sealed version: %d, want 409", resp.StatusCode)
	}
	if _, out, _ := runCLI(t, env, "admin", "owner-settings", "show", "--owner", "alice"); !strings.Contains(out, `"immutable_grace_seconds":0`) {
		t.Errorf("show: %q", out)
	}
}

// mustRunCLI runs the command line and fails unless it exits 0; it returns
// stdout.
func mustRunCLI(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, env, args...)
	if code != 0 {
		t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}
