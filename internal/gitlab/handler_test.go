package gitlab_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/gitlab"
	"github.com/depot-registry/depot/internal/password"
	"github.com/depot-registry/depot/internal/sqlite"
	"golang.org/x/crypto/bcrypt"
)

const pw = "correct-horse"

// env is a GitLab handler over a real service, SQLite store and blob
// directory. The organization acme (public) has projects pub (public) and
// priv (private); alice is its admin (Maintainer), dev a writer
// (Developer), rep a reader (Reporter); carol is an outsider.
type env struct {
	srv   *httptest.Server
	svc   *depot.Service
	tok   map[string]string
	clock *clock
	pub   *depot.Project
	priv  *depot.Project
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newEnv(t *testing.T, opts *depot.Options) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "depot.db"))
	must(t, err)
	t.Cleanup(func() { store.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	must(t, err)
	hasher, err := password.New(bcrypt.MinCost)
	must(t, err)
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if opts == nil {
		opts = &depot.Options{}
	}
	opts.Now = c.Now
	svc := depot.NewService(store, blobs, hasher, opts)
	t.Cleanup(func() { must(t, svc.FlushDownloads(context.Background())) }) // before the store closes
	srv := httptest.NewServer(gitlab.New(svc, slog.New(slog.DiscardHandler), gitlab.Options{BaseURL: "http://depot.test", Version: "9.9.9"}))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, svc: svc, tok: map[string]string{}, clock: c}
	for _, u := range []string{"alice", "dev", "rep", "carol"} {
		_, err := svc.CreateUser(ctx, depot.NewUser{Username: u, Email: u + "@example.com", Password: pw})
		must(t, err)
	}
	_, err = svc.CreateOrg(ctx, "acme", "alice", depot.Public)
	must(t, err)
	must(t, svc.SetMember(ctx, "acme", "dev", depot.AccessWrite))
	must(t, svc.SetMember(ctx, "acme", "rep", depot.AccessRead))
	e.pub, err = svc.CreateProject(ctx, "acme", "pub", "")
	must(t, err)
	e.priv, err = svc.CreateProject(ctx, "acme", "priv", depot.Private)
	must(t, err)
	for _, tk := range []struct{ name, user, scopes string }{
		{"alice", "alice", "api"}, {"dev", "dev", "api"}, {"rep", "rep", "api"}, {"carol", "carol", "api"},
		{"dev-readapi", "dev", "read_api"}, {"dev-writereg", "dev", "write_package_registry"},
	} {
		scopes, err := depot.ParseScopes(tk.scopes)
		must(t, err)
		secret, _, err := svc.CreateToken(ctx, tk.user, tk.name, scopes, nil)
		must(t, err)
		e.tok[tk.name] = secret
	}
	for _, nt := range []struct {
		key string
		nt  depot.NewProjectToken
	}{
		{"deploy-write", depot.NewProjectToken{Kind: depot.KindDeployToken, Project: "acme/priv", Name: "w", Scopes: depot.Scopes{depot.ScopeWritePackage}}},
		{"deploy-read", depot.NewProjectToken{Kind: depot.KindDeployToken, Project: "acme/priv", Name: "r", Scopes: depot.Scopes{depot.ScopeReadPackage}}},
		{"deploy-owner", depot.NewProjectToken{Kind: depot.KindDeployToken, Owner: "acme", Name: "all", Scopes: depot.Scopes{depot.ScopeReadPackage}}},
		{"job", depot.NewProjectToken{Kind: depot.KindJobToken, Project: "acme/priv", TTL: time.Hour}},
		{"job-pub", depot.NewProjectToken{Kind: depot.KindJobToken, Project: "acme/pub", TTL: time.Hour}},
	} {
		secret, _, err := svc.CreateProjectToken(ctx, nt.nt)
		must(t, err)
		e.tok[nt.key] = secret
	}
	return e
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// auth sets a request's credentials.
type auth func(e *env, r *http.Request)

func anon() auth { return func(*env, *http.Request) {} }
func private(name string) auth {
	return func(e *env, r *http.Request) { r.Header.Set("PRIVATE-TOKEN", e.tokOr(name)) }
}
func job(name string) auth {
	return func(e *env, r *http.Request) { r.Header.Set("JOB-TOKEN", e.tokOr(name)) }
}
func deploy(name string) auth {
	return func(e *env, r *http.Request) { r.Header.Set("Deploy-Token", e.tokOr(name)) }
}
func bearer(name string) auth {
	return func(e *env, r *http.Request) { r.Header.Set("Authorization", "Bearer "+e.tokOr(name)) }
}
func query(param, name string) auth {
	return func(e *env, r *http.Request) {
		q := r.URL.Query()
		q.Set(param, e.tokOr(name))
		r.URL.RawQuery = q.Encode()
	}
}
func basic(user, name string) auth {
	return func(e *env, r *http.Request) { r.SetBasicAuth(user, e.tokOr(name)) }
}

// tokOr returns the named token, or name itself (a wrong token) when there
// is none of that name.
func (e *env) tokOr(name string) string {
	if s, ok := e.tok[name]; ok {
		return s
	}
	return name
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		tb.Fatalf("decode %q: %v", r.body, err)
	}
}

func (e *env) do(t *testing.T, method, path string, a auth, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	must(t, err)
	if body == "" && method == http.MethodPut {
		req.Body = http.NoBody
	}
	if a != nil {
		a(e, req)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// put uploads a generic file as alice and fails the test unless it is
// created.
func (e *env) put(t *testing.T, project, pkg, version, file, content string, query string) {
	t.Helper()
	r := e.do(t, http.MethodPut, "/api/v4/projects/"+project+"/packages/generic/"+pkg+"/"+version+"/"+file+query, private("alice"), content)
	if r.status != http.StatusCreated {
		t.Fatalf("PUT %s/%s/%s/%s = %d %s", project, pkg, version, file, r.status, r.body)
	}
}

// generic is the path of file in version 1.0.0 of the project's package:
// tool in acme/pub, secret in acme/priv (a package belongs to one project).
func generic(project, file string) string {
	pkg := "tool"
	if strings.Contains(project, "priv") || !strings.Contains(project, "%2F") {
		pkg = "secret"
	}
	return "/api/v4/projects/" + project + "/packages/generic/" + pkg + "/1.0.0/" + file
}

// TestGenericMatrix is GitLab's answer for each actor on the generic
// packages API: who may read and write public and private projects, and
// how each way of presenting a token fails.
func TestGenericMatrix(t *testing.T) {
	e := newEnv(t, nil)
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "f.txt", "public", "")
	e.put(t, "acme%2Fpriv", "secret", "1.0.0", "f.txt", "private", "")
	const (
		unauthorized = `{"message":"401 Unauthorized"}`
		forbidden    = `{"message":"403 Forbidden"}`
		projectNF    = `{"message":"404 Project Not Found"}`
		created      = `{"message":"201 Created"}`
	)
	for _, tc := range []struct {
		name    string
		a       auth
		method  string
		project string
		status  int
		body    string
	}{
		{"anonymous reads public", anon(), "GET", "acme%2Fpub", 200, "public"},
		{"anonymous writes public", anon(), "PUT", "acme%2Fpub", 401, unauthorized},
		{"anonymous reads private", anon(), "GET", "acme%2Fpriv", 401, unauthorized},
		{"anonymous writes private", anon(), "PUT", "acme%2Fpriv", 401, unauthorized},
		{"anonymous reads missing project", anon(), "GET", "acme%2Fnope", 401, unauthorized},
		{"outsider reads public", private("carol"), "GET", "acme%2Fpub", 200, "public"},
		{"outsider writes public", private("carol"), "PUT", "acme%2Fpub", 403, forbidden},
		{"outsider reads private", private("carol"), "GET", "acme%2Fpriv", 404, projectNF},
		{"outsider writes private", private("carol"), "PUT", "acme%2Fpriv", 404, projectNF},
		{"signed-in reads missing project", private("carol"), "GET", "acme%2Fnope", 404, projectNF},
		{"reporter reads private", private("rep"), "GET", "acme%2Fpriv", 200, "private"},
		{"reporter writes private", private("rep"), "PUT", "acme%2Fpriv", 403, forbidden},
		{"developer writes private", private("dev"), "PUT", "acme%2Fpriv", 201, created},
		{"developer writes by numeric id", private("dev"), "PUT", "PRIV_ID", 201, created},
		{"read_api token writes", private("dev-readapi"), "PUT", "acme%2Fpriv", 403, forbidden},
		{"read_api token reads", private("dev-readapi"), "GET", "acme%2Fpriv", 200, "private"},
		{"write_package_registry token writes", private("dev-writereg"), "PUT", "acme%2Fpriv", 201, created},
		{"wrong PRIVATE-TOKEN", private("0123456789012345678901234567890123456789"), "GET", "acme%2Fpub", 401, unauthorized},
		{"wrong JOB-TOKEN", job("glcbt-0123456789012345678901234567890123456789"), "GET", "acme%2Fpub", 401, unauthorized},
		{"wrong Deploy-Token", deploy("gldt-nope"), "GET", "acme%2Fpub", 401, unauthorized},
		{"wrong Bearer", bearer("nope"), "GET", "acme%2Fpub", 401, unauthorized},
		{"wrong Basic password is anonymous", basic("x", "wrong"), "GET", "acme%2Fpub", 200, "public"},
		{"wrong Basic password writes", basic("x", "wrong"), "PUT", "acme%2Fpub", 401, unauthorized},
		{"Bearer token", bearer("dev"), "PUT", "acme%2Fpriv", 201, created},
		{"Basic with token password", basic("anything", "dev"), "PUT", "acme%2Fpriv", 201, created},
		{"Basic with deploy token", basic("deployer", "deploy-write"), "PUT", "acme%2Fpriv", 201, created},
		{"Basic with job token", basic("gitlab-ci-token", "job"), "GET", "acme%2Fpriv", 200, "private"},
		{"deploy token writes", deploy("deploy-write"), "PUT", "acme%2Fpriv", 201, created},
		{"read deploy token reads", deploy("deploy-read"), "GET", "acme%2Fpriv", 200, "private"},
		{"read deploy token writes", deploy("deploy-read"), "PUT", "acme%2Fpriv", 403, forbidden},
		{"owner-wide deploy token reads", deploy("deploy-owner"), "GET", "acme%2Fpriv", 200, "private"},
		{"job token writes its project", job("job"), "PUT", "acme%2Fpriv", 201, created},
		{"job token reads public project", job("job"), "GET", "acme%2Fpub", 200, "public"},
		{"job token writes another project", job("job"), "PUT", "acme%2Fpub", 403, forbidden},
		{"job token of another project reads private", job("job-pub"), "GET", "acme%2Fpriv", 404, projectNF},
		{"job token in PRIVATE-TOKEN", private("job"), "GET", "acme%2Fpub", 401, unauthorized},
		{"private_token parameter", query("private_token", "rep"), "GET", "acme%2Fpriv", 200, "private"},
		{"job_token parameter", query("job_token", "job"), "PUT", "acme%2Fpriv", 201, created},
		{"wrong private_token parameter", query("private_token", "nope"), "GET", "acme%2Fpub", 401, unauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			project := strings.Replace(tc.project, "PRIV_ID", itoa(e.priv.ID), 1)
			// Writes go to another file, so reads keep seeing the first.
			body, file := "", "f.txt"
			if tc.method == "PUT" {
				body, file = "new content", "w.txt"
			}
			r := e.do(t, tc.method, generic(project, file), tc.a, body)
			if r.status != tc.status || strings.TrimSpace(r.body) != tc.body {
				t.Errorf("%s = %d %q, want %d %q", tc.method, r.status, r.body, tc.status, tc.body)
			}
			if got := r.header.Get("WWW-Authenticate"); (r.status == 401) != (got != "") {
				t.Errorf("status %d with WWW-Authenticate %q", r.status, got)
			}
			if r.status == 200 && r.header.Get("Content-Type") != "application/octet-stream" {
				t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
			}
		})
	}
	t.Run("expired job token", func(t *testing.T) {
		e.clock.advance(2 * time.Hour)
		defer e.clock.advance(-2 * time.Hour)
		r := e.do(t, "GET", generic("acme%2Fpub", "f.txt"), job("job"), "")
		if r.status != 401 {
			t.Errorf("GET with an expired job token = %d %s, want 401", r.status, r.body)
		}
	})
}

func itoa(n int64) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNumber(n)) }

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestGenericValidation is GitLab's 400 {"error": ...} for parameters that
// fail its rules, and what those rules accept.
func TestGenericValidation(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v4/projects/acme%2Fpub/packages/generic/bad%20name/1.0.0/f.txt", 400, `{"error":"package_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1..0/f.txt", 400, `{"error":"package_version is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0%20beta/f.txt", 400, `{"error":"package_version is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/..", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/a//b", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/a%20b.txt", 400, `{"error":"file_name is invalid"}`},
		// GitLab 18's request specs: no '@' or '~' at either end.
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/@file.tar.gz", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/file.tar.gz~", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/~file", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/file@", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/dir/file.tar.gz~", 400, `{"error":"file_name is invalid"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/f.txt?status=bogus", 400, `{"error":"status does not have a valid value"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/1.0.0/f.txt?select=bogus", 400, `{"error":"select does not have a valid value"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/my_pkg+x/1.2.3-rc.1+build_5/f~1@2.tar.gz", 201, `{"message":"201 Created"}`},
		{"/api/v4/projects/acme%2Fpub/packages/generic/tool/v1.0/dir/sub/f.txt", 201, `{"message":"201 Created"}`},
	} {
		r := e.do(t, "PUT", tc.path, private("alice"), "x")
		if r.status != tc.status || strings.TrimSpace(r.body) != tc.body {
			t.Errorf("PUT %s = %d %s, want %d %s", tc.path, r.status, r.body, tc.status, tc.body)
		}
	}
	// A file in directories is downloaded by its path and listed encoded.
	r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/generic/tool/v1.0/dir/sub/f.txt", anon(), "")
	if r.status != 200 || r.body != "x" {
		t.Errorf("GET dir/sub/f.txt = %d %q", r.status, r.body)
	}
	var pkgs []map[string]any
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages?package_version=v1.0", anon(), "").json(t, &pkgs)
	if len(pkgs) != 1 {
		t.Fatalf("listing = %v", pkgs)
	}
	var files []map[string]any
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/"+jsonNumber(int64(pkgs[0]["id"].(float64)))+"/package_files", anon(), "").json(t, &files)
	if len(files) != 1 || files[0]["file_name"] != "dir%2Fsub%2Ff.txt" {
		t.Errorf("files = %v, want dir%%2Fsub%%2Ff.txt", files)
	}
}

// TestDuplicates covers GitLab's duplicate rules: allowed by default (the
// newest upload wins), refused with GitLab's exact body when the owner's
// setting forbids them, and the exception regex reversing the setting.
func TestDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "f.txt", "first", "")
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "f.txt", "second", "")
	if r := e.do(t, "GET", generic("acme%2Fpub", "f.txt"), anon(), ""); r.body != "second" {
		t.Errorf("download after a duplicate = %q, want the newest", r.body)
	}
	const dup = `{"message":"400 Bad request - Duplicate package is not allowed"}`
	must(t, e.svc.SetPackageSettings(ctx, "acme", false, ""))
	r := e.do(t, "PUT", generic("acme%2Fpub", "f.txt"), private("alice"), "third")
	if r.status != 400 || strings.TrimSpace(r.body) != dup || r.header.Get("X-Depot-Identical") != "false" {
		t.Errorf("duplicate with duplicates forbidden = %d %s %v", r.status, r.body, r.header)
	}
	// A retry of the stored bytes is refused alike but recognisable.
	r = e.do(t, "PUT", generic("acme%2Fpub", "f.txt"), private("alice"), "second")
	if r.status != 400 || strings.TrimSpace(r.body) != dup || r.header.Get("X-Depot-Identical") != "true" || r.header.Get("X-Depot-Existing-Sha256") != fmt.Sprintf("%x", sha256.Sum256([]byte("second"))) {
		t.Errorf("identical duplicate with duplicates forbidden = %d %s %v", r.status, r.body, r.header)
	}
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "other.txt", "new name is fine", "")
	// The exception regex allows duplicates of matching names or versions.
	must(t, e.svc.SetPackageSettings(ctx, "acme", false, `^tool$`))
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "f.txt", "third", "")
	// With duplicates allowed, it forbids them for matching versions.
	must(t, e.svc.SetPackageSettings(ctx, "acme", true, `SNAPSHOT`))
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "f.txt", "fourth", "")
	e.put(t, "acme%2Fpub", "tool", "2.0-SNAPSHOT", "f.txt", "snap", "")
	r = e.do(t, "PUT", "/api/v4/projects/acme%2Fpub/packages/generic/tool/2.0-SNAPSHOT/f.txt", private("alice"), "snap2")
	if r.status != 400 || strings.TrimSpace(r.body) != dup {
		t.Errorf("duplicate of an excepted version = %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", generic("acme%2Fpub", "f.txt"), anon(), ""); r.body != "fourth" {
		t.Errorf("download = %q, want fourth", r.body)
	}
}

func TestSizeLimit(t *testing.T) {
	e := newEnv(t, &depot.Options{MaxUploadSize: 4})
	const tooLarge = `{"message":"400 Bad request - File is too large"}`
	r := e.do(t, "PUT", generic("acme%2Fpub", "f.txt"), private("alice"), "12345")
	if r.status != 400 || strings.TrimSpace(r.body) != tooLarge {
		t.Errorf("PUT over the limit = %d %s", r.status, r.body)
	}
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "f.txt", "1234", "")
}

func TestStatusAndSelect(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "PUT", generic("acme%2Fpub", "f.txt")+"?status=hidden&select=package_file", private("alice"), "hello")
	var pf map[string]any
	r.json(t, &pf)
	if r.status != 200 || pf["file_name"] != "f.txt" || pf["size"] != float64(5) ||
		pf["file_sha256"] != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || pf["file_md5"] != "5d41402abc4b2a76b9719d911017c592" {
		t.Fatalf("select=package_file = %d %s", r.status, r.body)
	}
	pkgID := jsonNumber(int64(pf["package_id"].(float64)))
	// Hidden: downloadable, not listed unless asked, not found by id.
	if r := e.do(t, "GET", generic("acme%2Fpub", "f.txt"), anon(), ""); r.status != 200 || r.body != "hello" {
		t.Errorf("download of a hidden package = %d %q", r.status, r.body)
	}
	var list []map[string]any
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages", anon(), "").json(t, &list)
	if len(list) != 0 {
		t.Errorf("listing shows a hidden package: %v", list)
	}
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages?status=hidden", anon(), "").json(t, &list)
	if len(list) != 1 || list[0]["status"] != "hidden" {
		t.Errorf("status=hidden listing = %v", list)
	}
	if r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/"+pkgID, anon(), ""); r.status != 404 || strings.TrimSpace(r.body) != `{"message":"404 Package Not Found"}` {
		t.Errorf("hidden package by id = %d %s", r.status, r.body)
	}
	// Re-uploading with another status changes it.
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "g.txt", "x", "?status=default")
	if r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/"+pkgID, anon(), ""); r.status != 200 {
		t.Errorf("package by id after status=default = %d %s", r.status, r.body)
	}
}

// TestPackagesAPI covers listings (fields, filters, order, pagination
// headers), package by id, files, deletes and the roles they need.
func TestPackagesAPI(t *testing.T) {
	e := newEnv(t, nil)
	for i, v := range []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0"} {
		e.clock.advance(time.Minute)
		e.put(t, "acme%2Fpub", "tool", v, "f.txt", "content "+v, "")
		if i == 0 {
			e.put(t, "acme%2Fpriv", "secret", v, "f.txt", "private", "")
		}
	}
	r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages?per_page=2&page=2", anon(), "")
	var list []map[string]any
	r.json(t, &list)
	if r.status != 200 || len(list) != 2 || list[0]["version"] != "2.0.0" || list[1]["version"] != "2.1.0" {
		t.Fatalf("page 2 = %d %s", r.status, r.body)
	}
	for h, want := range map[string]string{"X-Total": "5", "X-Total-Pages": "3", "X-Page": "2", "X-Per-Page": "2", "X-Next-Page": "3", "X-Prev-Page": "1"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if link := r.header.Get("Link"); !strings.Contains(link, `page=3&per_page=2>; rel="next"`) || !strings.Contains(link, `page=1&per_page=2>; rel="prev"`) ||
		!strings.HasPrefix(link, "<http://depot.test/api/v4/projects/acme%2Fpub/packages?") || !strings.Contains(link, `rel="last"`) {
		t.Errorf("Link = %q", link)
	}
	p := list[0]
	// delete_api_path only for callers who may delete (TestGitLab18Packages).
	if _, ok := p["_links"].(map[string]any)["delete_api_path"]; p["package_type"] != "generic" || p["name"] != "tool" || p["status"] != "default" || p["last_downloaded_at"] != nil || ok {
		t.Errorf("package = %v", p)
	}
	if _, ok := p["versions"]; ok {
		t.Errorf("a listing shows versions: %v", p)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"?sort=desc&per_page=2", []string{"3.0.0", "2.1.0"}},
		{"?order_by=version&sort=desc&per_page=1", []string{"3.0.0"}},
		{"?package_version=1.1.0", []string{"1.1.0"}},
		{"?package_name=oo&per_page=1", []string{"1.0.0"}},
		{"?package_name=nothing", nil},
		{"?package_type=npm", nil},
		{"?package_type=generic&per_page=1", []string{"1.0.0"}},
		{"?include_versionless=true&exclude_subgroups=false&per_page=1", []string{"1.0.0"}},
		{"?include_versionless=1&per_page=1", []string{"1.0.0"}},
		{"?include_versionless=0&exclude_subgroups=1&per_page=1", []string{"1.0.0"}},
	} {
		var got []map[string]any
		e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages"+tc.query, anon(), "").json(t, &got)
		var versions []string
		for _, g := range got {
			versions = append(versions, g["version"].(string))
		}
		if strings.Join(versions, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s = %v, want %v", tc.query, versions, tc.want)
		}
	}
	for _, q := range []string{"?order_by=size", "?sort=up", "?package_type=rpm", "?status=gone", "?page=x", "?per_page=y", "?include_versionless=2"} {
		if r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages"+q, anon(), ""); r.status != 400 || !strings.HasPrefix(r.body, `{"error":`) {
			t.Errorf("%s = %d %s, want 400 {\"error\": ...}", q, r.status, r.body)
		}
	}
	// Group listings: members see every project, others public ones.
	for _, tc := range []struct {
		a     auth
		group string
		total string
	}{
		{private("rep"), "acme", "6"}, {anon(), "acme", "5"}, {private("carol"), itoa(e.pub.OwnerID), "5"},
	} {
		r := e.do(t, "GET", "/api/v4/groups/"+tc.group+"/packages", tc.a, "")
		var got []map[string]any
		r.json(t, &got)
		if r.status != 200 || r.header.Get("X-Total") != tc.total || got[0]["project_path"] != "acme/pub" && got[0]["project_path"] != "acme/priv" {
			t.Errorf("group %s listing = %d, X-Total %s; want %s (%s)", tc.group, r.status, r.header.Get("X-Total"), tc.total, r.body)
		}
	}
	if r := e.do(t, "GET", "/api/v4/groups/nope/packages", anon(), ""); r.status != 404 || strings.TrimSpace(r.body) != `{"message":"404 Group Not Found"}` {
		t.Errorf("missing group = %d %s", r.status, r.body)
	}

	id := jsonNumber(int64(list[0]["id"].(float64)))
	var files []map[string]any
	r = e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/"+id+"/package_files", anon(), "")
	r.json(t, &files)
	if r.status != 200 || len(files) != 1 || files[0]["file_name"] != "f.txt" || files[0]["size"] != float64(len("content 2.0.0")) ||
		files[0]["file_sha1"] == "" || files[0]["package_id"] != list[0]["id"] || r.header.Get("X-Total") != "1" {
		t.Errorf("package_files = %d %s", r.status, r.body)
	}
	fileID := jsonNumber(int64(files[0]["id"].(float64)))

	// last_downloaded_at follows downloads, written in the background.
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/generic/tool/2.0.0/f.txt", anon(), "")
	must(t, e.svc.FlushDownloads(context.Background()))
	var one map[string]any
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/"+id, anon(), "").json(t, &one)
	if one["last_downloaded_at"] != e.clock.Now().Format(time.RFC3339) {
		t.Errorf("last_downloaded_at = %v, want %v", one["last_downloaded_at"], e.clock.Now().Format(time.RFC3339))
	}

	// The deletion matrix: Maintainer only.
	for _, tc := range []struct {
		name   string
		a      auth
		path   string
		status int
	}{
		{"anonymous deletes public", anon(), "/api/v4/projects/acme%2Fpub/packages/" + id, 401},
		{"outsider deletes public", private("carol"), "/api/v4/projects/acme%2Fpub/packages/" + id, 403},
		{"reporter deletes", private("rep"), "/api/v4/projects/acme%2Fpub/packages/" + id, 403},
		{"developer deletes", private("dev"), "/api/v4/projects/acme%2Fpub/packages/" + id, 403},
		{"deploy token deletes", deploy("deploy-write"), "/api/v4/projects/acme%2Fpriv/packages/" + id, 403},
		{"outsider deletes private", private("carol"), "/api/v4/projects/acme%2Fpriv/packages/" + id, 404},
		{"anonymous lists private", anon(), "/api/v4/projects/acme%2Fpriv/packages", 404},
		{"outsider lists private", private("carol"), "/api/v4/projects/acme%2Fpriv/packages", 404},
		{"wrong token lists private", private("0123456789012345678901234567890123456789"), "/api/v4/projects/acme%2Fpriv/packages", 401},
		{"wrong token deletes", job("glcbt-0123456789012345678901234567890123456789"), "/api/v4/projects/acme%2Fpub/packages/" + id, 401},
		{"reporter lists private", private("rep"), "/api/v4/projects/acme%2Fpriv/packages", 200},
		{"read deploy token lists private", deploy("deploy-read"), "/api/v4/projects/acme%2Fpriv/packages", 200},
		{"job token deletes", job("job-pub"), "/api/v4/projects/acme%2Fpub/packages/" + id, 403},
		{"developer deletes file", private("dev"), "/api/v4/projects/acme%2Fpub/packages/" + id + "/package_files/" + fileID, 403},
		{"maintainer deletes a file of another package", private("alice"), "/api/v4/projects/acme%2Fpub/packages/" + jsonNumber(int64(list[1]["id"].(float64))) + "/package_files/" + fileID, 404},
		{"maintainer deletes package of another project", private("alice"), "/api/v4/projects/acme%2Fpriv/packages/" + id, 404},
		{"maintainer deletes file", private("alice"), "/api/v4/projects/acme%2Fpub/packages/" + id + "/package_files/" + fileID, 204},
		{"file is gone", private("alice"), "/api/v4/projects/acme%2Fpub/packages/" + id + "/package_files/" + fileID, 404},
		{"maintainer deletes package", private("alice"), "/api/v4/projects/acme%2Fpub/packages/" + jsonNumber(int64(list[1]["id"].(float64))), 204},
		{"package is gone", private("alice"), "/api/v4/projects/acme%2Fpub/packages/" + jsonNumber(int64(list[1]["id"].(float64))), 404},
	} {
		method := "DELETE"
		if strings.HasSuffix(tc.path, "/packages") {
			method = "GET"
		}
		if r := e.do(t, method, tc.path, tc.a, ""); r.status != tc.status {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, method, tc.path, r.status, r.body, tc.status)
		}
	}
	if r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages", anon(), ""); r.header.Get("X-Total") != "3" {
		t.Errorf("after deletes X-Total = %s, want 3", r.header.Get("X-Total"))
	}
}

func TestAccountEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name   string
		a      auth
		path   string
		status int
		want   map[string]any
	}{
		{"version", private("dev"), "/api/v4/version", 200, map[string]any{"version": gitlab.GitLabVersion}},
		{"version anonymous", anon(), "/api/v4/version", 401, nil},
		{"user", private("dev"), "/api/v4/user", 200, map[string]any{"username": "dev", "email": "dev@example.com", "state": "active"}},
		{"user anonymous", anon(), "/api/v4/user", 401, nil},
		{"user deploy token", deploy("deploy-read"), "/api/v4/user", 401, nil},
		{"project by path", anon(), "/api/v4/projects/acme%2Fpub", 200, map[string]any{"path_with_namespace": "acme/pub", "visibility": "public", "name": "pub"}},
		{"project by id", private("rep"), "/api/v4/projects/" + itoa(e.priv.ID), 200, map[string]any{"path_with_namespace": "acme/priv", "visibility": "private"}},
		{"private project anonymous", anon(), "/api/v4/projects/acme%2Fpriv", 404, map[string]any{"message": "404 Project Not Found"}},
		{"group", anon(), "/api/v4/groups/acme", 200, map[string]any{"full_path": "acme", "visibility": "public"}},
		{"unknown route", anon(), "/api/v4/nothing", 404, map[string]any{"message": "404 Not Found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", tc.path, tc.a, "")
			if r.status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
			}
			var got map[string]any
			r.json(t, &got)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (%s)", k, got[k], v, r.body)
				}
			}
		})
	}
}

func TestCredentialsParsing(t *testing.T) {
	e := newEnv(t, nil)
	e.put(t, "acme%2Fpriv", "secret", "1.0.0", "f.txt", "private", "")
	// Malformed Basic headers count as none.
	req, _ := http.NewRequest("GET", e.srv.URL+generic("acme%2Fpriv", "f.txt"), nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("no-colon")))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("malformed Basic = %d, want 401 (anonymous on a private project)", resp.StatusCode)
	}
}

func TestDownloadHeaders(t *testing.T) {
	e := newEnv(t, nil)
	e.put(t, "acme%2Fpub", "tool", "1.0.0", "dir/f.txt", "0123456789", "")
	req, _ := http.NewRequest("GET", e.srv.URL+generic("acme%2Fpub", "dir/f.txt"), nil)
	req.Header.Set("Range", "bytes=2-4")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(b) != "234" {
		t.Errorf("Range = %d %q, want 206 \"234\"", resp.StatusCode, b)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=f.txt` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if resp.Header.Get("ETag") == "" || resp.Header.Get("X-Checksum-SHA256") == "" {
		t.Errorf("headers = %v", resp.Header)
	}
	if r := e.do(t, "DELETE", generic("acme%2Fpub", "dir/f.txt"), private("alice"), ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE of a generic file = %d, want 405", r.status)
	}
}
