package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestGitLabAndGiteaDialects publishes through one dialect and lists,
// downloads and deletes through the other, on a real server.
func TestGitLabAndGiteaDialects(t *testing.T) {
	m := MustRunMain(t, Config{})
	ctx := context.Background()
	svc := m.Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "alice", Email: "alice@example.com", Password: "alice-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateProject(ctx, "alice", "tools", ""); err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.CreateToken(ctx, "alice", "ci", depot.Scopes{depot.ScopeAll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.Addr()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+tok)
		if strings.HasPrefix(path, "/api/v4/") {
			req.Header.Del("Authorization")
			req.Header.Set("PRIVATE-TOKEN", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := func(what string, code int, body string, wantCode int) {
		t.Helper()
		if code != wantCode {
			t.Fatalf("%s = %d %s, want %d", what, code, body, wantCode)
		}
	}

	// Gitea publishes and links; GitLab lists, downloads and deletes.
	code, body := do("PUT", "/api/packages/alice/generic/fromgitea/1.0/a.bin", "gitea bytes")
	want("Gitea PUT", code, body, 201)
	code, body = do("GET", "/api/v4/projects/alice%2Ftools/packages", "")
	want("GitLab list before link", code, body, 200)
	if body != "[]\n" {
		t.Errorf("an unlinked package is listed in the project: %s", body)
	}
	code, body = do("POST", "/api/v1/packages/alice/generic/fromgitea/-/link/tools", "")
	want("Gitea link", code, body, 201)
	code, body = do("GET", "/api/v4/projects/alice%2Ftools/packages?package_name=fromgitea", "")
	var pkgs []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(body), &pkgs); err != nil || code != 200 || len(pkgs) != 1 {
		t.Fatalf("GitLab list after link = %d %s", code, body)
	}
	code, body = do("GET", "/api/v4/projects/alice%2Ftools/packages/generic/fromgitea/1.0/a.bin", "")
	if code != 200 || body != "gitea bytes" {
		t.Errorf("GitLab download of a Gitea upload = %d %q", code, body)
	}
	code, body = do("DELETE", "/api/v4/projects/alice%2Ftools/packages/"+jsonInt(pkgs[0].ID), "")
	want("GitLab delete", code, body, 204)
	code, body = do("GET", "/api/packages/alice/generic/fromgitea/1.0/a.bin", "")
	want("Gitea GET after GitLab delete", code, body, 404)

	// GitLab publishes; Gitea lists, downloads and deletes.
	code, body = do("PUT", "/api/v4/projects/alice%2Ftools/packages/generic/fromgitlab/2.0/b.bin", "gitlab bytes")
	want("GitLab PUT", code, body, 201)
	code, body = do("GET", "/api/v1/packages/alice?q=fromgitlab", "")
	if code != 200 || !strings.Contains(body, `"name":"fromgitlab"`) || !strings.Contains(body, `"full_name":"alice/tools"`) {
		t.Errorf("Gitea listing of a GitLab upload = %d %s", code, body)
	}
	code, body = do("GET", "/api/packages/alice/generic/fromgitlab/2.0/b.bin", "")
	if code != 200 || body != "gitlab bytes" {
		t.Errorf("Gitea download of a GitLab upload = %d %q", code, body)
	}
	code, body = do("PUT", "/api/packages/alice/generic/fromgitlab/2.0/b.bin", "again")
	want("Gitea PUT of a name GitLab uploaded", code, body, 409)
	code, body = do("DELETE", "/api/packages/alice/generic/fromgitlab/2.0", "")
	want("Gitea DELETE version", code, body, 204)
	code, body = do("GET", "/api/v4/projects/alice%2Ftools/packages/generic/fromgitlab/2.0/b.bin", "")
	want("GitLab GET after Gitea delete", code, body, 404)
}
