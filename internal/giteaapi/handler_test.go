package giteaapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/giteaapi"
	"github.com/depot-registry/depot/internal/password"
	"github.com/depot-registry/depot/internal/sqlite"
	"golang.org/x/crypto/bcrypt"
)

const pw = "correct-horse"

// env is a v1 handler over a real service, SQLite store and blob directory,
// with accounts, packages and tokens to test against.
type env struct {
	srv *httptest.Server
	svc *depot.Service
	tok map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "depot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	svc := depot.NewService(store, blobs, hasher, nil)
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(giteaapi.New(svc, log, giteaapi.Options{BaseURL: "http://depot.test", Version: "9.9.9"}))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, svc: svc, tok: map[string]string{}}

	for _, u := range []struct {
		name  string
		admin bool
		vis   depot.Visibility
	}{{"alice", false, ""}, {"bob", false, ""}, {"carol", false, ""}, {"root", true, ""}, {"hermit", false, depot.Private}} {
		if _, err := svc.CreateUser(ctx, depot.NewUser{Username: u.name, Email: u.name + "@example.com", Password: pw, Admin: u.admin, Visibility: u.vis}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct {
		name string
		vis  depot.Visibility
	}{{"pubco", depot.Public}, {"secretco", depot.Private}} {
		if _, err := svc.CreateOrg(ctx, o.name, "alice", o.vis); err != nil {
			t.Fatal(err)
		}
		must(t, svc.SetMember(ctx, o.name, "bob", depot.AccessRead))
	}
	for _, tk := range []struct{ name, user, scopes string }{
		{"alice-all", "alice", "all"},
		{"alice-read", "alice", "read:package"},
		{"alice-user", "alice", "read:user"},
		{"alice-org", "alice", "write:organization"},
		{"bob-all", "bob", "all"},
		{"carol-all", "carol", "all"},
		{"root-all", "root", "all"},
		{"root-pkg", "root", "write:package"},
	} {
		scopes, err := depot.ParseScopes(tk.scopes)
		must(t, err)
		secret, _, err := svc.CreateToken(ctx, tk.user, tk.name, scopes, nil)
		must(t, err)
		e.tok[tk.name] = secret
	}
	return e
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// upload stores a file as alice (admin of both organizations).
func (e *env) upload(t *testing.T, owner, pkg, version, file, content string) {
	t.Helper()
	a, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: e.tok["alice-all"]})
	must(t, err)
	ref := depot.FileRef{Owner: owner, Type: depot.TypeGeneric, Package: pkg, Version: version, File: file}
	_, err = e.svc.UploadFile(context.Background(), a, ref, int64(len(content)), strings.NewReader(content))
	must(t, err)
}

// auth sets a request's credentials.
type auth func(*http.Request)

func anon() auth                   { return func(*http.Request) {} }
func basic(user, pass string) auth { return func(r *http.Request) { r.SetBasicAuth(user, pass) } }
func (e *env) token(name string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "token "+e.tok[name]) }
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
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
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	a(req)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return response{resp.StatusCode, resp.Header, b}
}

// tc is one request and what must come back.
type tc struct {
	name   string
	method string
	path   string
	auth   auth
	body   string
	status int
	// message, when set, must be the error body's message (a regexp).
	message string
	check   func(t *testing.T, r response)
}

func (e *env) run(t *testing.T, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.method == "" {
				c.method = http.MethodGet
			}
			if c.auth == nil {
				c.auth = anon()
			}
			r := e.do(t, c.method, c.path, c.auth, c.body)
			if r.status != c.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, r.status, c.status, r.body)
			}
			if r.status >= 400 {
				var eb struct{ Message, URL string }
				r.json(t, &eb)
				if eb.URL != "http://depot.test/api/swagger" {
					t.Errorf("error url = %q, want Gitea's swagger address", eb.URL)
				}
				if c.message != "" && !regexp.MustCompile(c.message).MatchString(eb.Message) {
					t.Errorf("message = %q, want it to match %q", eb.Message, c.message)
				}
				if r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

type pkgJSON struct {
	ID         int64           `json:"id"`
	Owner      userJSON        `json:"owner"`
	Creator    userJSON        `json:"creator"`
	Repository *repositoryJSON `json:"repository"`
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Version    string          `json:"version"`
	HTMLURL    string          `json:"html_url"`
	CreatedAt  string          `json:"created_at"`
}

type userJSON struct {
	ID         int64  `json:"id"`
	Login      string `json:"login"`
	Username   string `json:"username"`
	Email      string `json:"email"`
	IsAdmin    bool   `json:"is_admin"`
	Visibility string `json:"visibility"`
	HTMLURL    string `json:"html_url"`
	Created    string `json:"created"`
}

type repositoryJSON struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	FullName string   `json:"full_name"`
	Private  bool     `json:"private"`
	Owner    userJSON `json:"owner"`
}

func versionsOf(t *testing.T, r response) []string {
	t.Helper()
	var pkgs []pkgJSON
	r.json(t, &pkgs)
	out := []string{}
	for _, p := range pkgs {
		out = append(out, p.Name+"@"+p.Version)
	}
	return out
}

func wantVersions(want ...string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		if got := versionsOf(t, r); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("versions = %q, want %q", got, want)
		}
	}
}

func wantHeader(key, want string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		if got := r.header.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

func all(checks ...func(t *testing.T, r response)) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		for _, c := range checks {
			c(t, r)
		}
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	e.run(t, []tc{{name: "version", path: "/api/v1/version", status: 200, check: func(t *testing.T, r response) {
		var v struct{ Version string }
		r.json(t, &v)
		if v.Version != giteaapi.GiteaVersion+"+depot.9.9.9" {
			t.Errorf("version = %q", v.Version)
		}
	}}, {name: "unknown route", path: "/api/v1/repos/a/b", status: 404}})
}

func TestPackageListing(t *testing.T) {
	e := newEnv(t)
	// Uploaded in this order, so newest first is the reverse.
	for _, p := range []struct{ pkg, version string }{
		{"app", "1.0.0"}, {"app", "1.10.0"}, {"app", "1.9.0"}, {"lib_x", "0.1"}, {"App-Extra", "3"},
	} {
		e.upload(t, "pubco", p.pkg, p.version, "f.bin", p.pkg+p.version)
	}
	e.upload(t, "secretco", "hidden", "1.0", "f.bin", "secret")
	e.upload(t, "pubco", "app", "1.10.0", "g.bin", "second file") // no new version
	newest := []string{"App-Extra@3", "lib_x@0.1", "app@1.9.0", "app@1.10.0", "app@1.0.0"}
	link := func(page, rel string) string {
		return "<http://depot.test/api/v1/packages/pubco?limit=2&page=" + page + ">; rel=\"" + rel + "\""
	}
	e.run(t, []tc{
		{name: "all, newest first", path: "/api/v1/packages/pubco", status: 200,
			check: all(wantVersions(newest...), wantHeader("X-Total-Count", "5"), wantHeader("Link", ""))},
		{name: "first page", path: "/api/v1/packages/pubco?limit=2", status: 200,
			check: all(wantVersions(newest[:2]...), wantHeader("X-Total-Count", "5"), wantHeader("Link", link("2", "next")+","+link("3", "last")))},
		{name: "middle page", path: "/api/v1/packages/pubco?limit=2&page=2", status: 200,
			check: all(wantVersions(newest[2:4]...), wantHeader("Link", link("3", "next")+","+link("3", "last")+","+link("1", "first")+","+link("1", "prev")))},
		{name: "last page", path: "/api/v1/packages/pubco?limit=2&page=3", status: 200,
			check: all(wantVersions(newest[4:]...), wantHeader("Link", link("1", "first")+","+link("2", "prev")))},
		{name: "past the last page", path: "/api/v1/packages/pubco?limit=2&page=9", status: 200, check: wantVersions()},
		{name: "huge page", path: "/api/v1/packages/pubco?page=9223372036854775807", status: 200, check: wantVersions()},
		{name: "limit capped at 50", path: "/api/v1/packages/pubco?limit=500", status: 200, check: wantVersions(newest...)},
		{name: "bad page and limit mean defaults", path: "/api/v1/packages/pubco?limit=x&page=-3", status: 200, check: wantVersions(newest...)},
		{name: "name filter", path: "/api/v1/packages/pubco?q=APP", status: 200,
			check: all(wantVersions("App-Extra@3", "app@1.9.0", "app@1.10.0", "app@1.0.0"), wantHeader("X-Total-Count", "4"))},
		{name: "type filter", path: "/api/v1/packages/pubco?type=generic&q=lib", status: 200, check: wantVersions("lib_x@0.1")},
		{name: "other type", path: "/api/v1/packages/pubco?type=npm", status: 200,
			check: all(wantVersions(), wantHeader("X-Total-Count", "0"))},
		// Anonymous callers are challenged alike for a missing and a
		// private owner; signed-in ones get 404 for both.
		{name: "missing owner anonymous", path: "/api/v1/packages/nobody", status: 401, message: "^token is required$"},
		{name: "private owner anonymous", path: "/api/v1/packages/secretco", status: 401, message: "^token is required$"},
		{name: "missing owner signed in", path: "/api/v1/packages/nobody", auth: e.token("carol-all"), status: 404},
		{name: "private owner non-member", path: "/api/v1/packages/secretco", auth: e.token("carol-all"), status: 404},
		{name: "private owner member", path: "/api/v1/packages/secretco", auth: e.token("bob-all"), status: 200, check: wantVersions("hidden@1.0")},
		{name: "token without read:package", path: "/api/v1/packages/pubco", auth: e.token("alice-user"), status: 403,
			message: `^token does not have at least one of required scope\(s\), required=\[read:package\], token scope=read:user$`},
		{name: "scope checked before the owner", path: "/api/v1/packages/nobody", auth: e.token("alice-user"), status: 403},
		{name: "bad credentials", path: "/api/v1/packages/pubco", auth: basic("alice", "wrong-password"), status: 401},

		{name: "versions of a package", path: "/api/v1/packages/pubco/generic/APP", status: 200,
			check: all(wantVersions("app@1.9.0", "app@1.10.0", "app@1.0.0"), wantHeader("X-Total-Count", "3"))},
		{name: "versions paged", path: "/api/v1/packages/pubco/generic/app?limit=1&page=3", status: 200, check: wantVersions("app@1.0.0")},
		// Gitea 1.26 looks the package up first (PackageAssignmentAPI):
		// 404 for a missing package (older releases answered 200 []).
		{name: "versions of a missing package", path: "/api/v1/packages/pubco/generic/nope", status: 404, message: `^package "nope" does not exist$`},
		{name: "versions of a missing package, signed in", path: "/api/v1/packages/pubco/generic/nope", auth: e.token("alice-all"), status: 404},
		{name: "versions of another type", path: "/api/v1/packages/pubco/npm/app", status: 404},
		{name: "versions past the last page", path: "/api/v1/packages/pubco/generic/app?page=9", status: 200, check: wantVersions()},
		{name: "versions of a private owner", path: "/api/v1/packages/secretco/generic/hidden", status: 401, message: "^token is required$"},
		{name: "versions of a private owner, non-member", path: "/api/v1/packages/secretco/generic/hidden", auth: e.token("carol-all"), status: 404},
	})
}

func TestPackageVersion(t *testing.T) {
	e := newEnv(t)
	e.upload(t, "pubco", "app", "1.0.0", "app.tar.gz", "tarball bytes")
	e.upload(t, "pubco", "app", "1.0.0", "app.zip", "zip bytes")
	e.run(t, []tc{
		{name: "get", path: "/api/v1/packages/pubco/generic/app/1.0.0", status: 200, check: func(t *testing.T, r response) {
			var p pkgJSON
			r.json(t, &p)
			if p.ID == 0 || p.Type != "generic" || p.Name != "app" || p.Version != "1.0.0" || p.CreatedAt == "" {
				t.Errorf("package = %+v", p)
			}
			if p.HTMLURL != "http://depot.test/pubco/-/packages/generic/app/1.0.0" {
				t.Errorf("html_url = %q", p.HTMLURL)
			}
			if p.Owner.Login != "pubco" || p.Owner.Username != "pubco" || p.Owner.HTMLURL != "http://depot.test/pubco" {
				t.Errorf("owner = %+v", p.Owner)
			}
			// Anonymous viewers see a placeholder email and no admin flag.
			if p.Creator.Login != "alice" || p.Creator.Email != "alice@noreply.depot.test" || p.Creator.IsAdmin || p.Creator.Created == "" {
				t.Errorf("creator = %+v", p.Creator)
			}
			if p.Repository != nil {
				t.Errorf("repository = %+v, want null", p.Repository)
			}
		}},
		{name: "signed-in viewers see emails", path: "/api/v1/packages/pubco/generic/app/1.0.0", auth: e.token("carol-all"), status: 200,
			check: func(t *testing.T, r response) {
				var p pkgJSON
				r.json(t, &p)
				if p.Creator.Email != "alice@example.com" {
					t.Errorf("creator email = %q", p.Creator.Email)
				}
			}},
		{name: "names are case-insensitive", path: "/api/v1/packages/PUBCO/generic/APP/1.0.0", status: 200},
		{name: "missing version", path: "/api/v1/packages/pubco/generic/app/2.0", status: 404, message: "does not exist"},
		{name: "missing type", path: "/api/v1/packages/pubco/npm/app/1.0.0", status: 404},
		{name: "files", path: "/api/v1/packages/pubco/generic/app/1.0.0/files", status: 200, check: func(t *testing.T, r response) {
			var files []map[string]any
			r.json(t, &files)
			if len(files) != 2 {
				t.Fatalf("%d files, want 2", len(files))
			}
			for i, want := range []struct{ name, content string }{{"app.tar.gz", "tarball bytes"}, {"app.zip", "zip bytes"}} {
				d := depot.NewDigester()
				d.Write([]byte(want.content))
				b := d.Blob()
				f := files[i]
				if f["name"] != want.name || f["size"] != float64(len(want.content)) || f["md5"] != b.MD5 || f["sha1"] != b.SHA1 ||
					f["sha256"] != b.SHA256 || f["sha512"] != b.SHA512 || f["id"] == float64(0) {
					t.Errorf("file %d = %v, want %s with digests %+v", i, f, want.name, b)
				}
			}
		}},
		{name: "files of a missing version", path: "/api/v1/packages/pubco/generic/app/9/files", status: 404},
		{name: "files need read:package", path: "/api/v1/packages/pubco/generic/app/1.0.0/files", auth: e.token("alice-user"), status: 403},
	})
}

func TestLatest(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{"1.0.0", "1.10.0", "v1.9.0", "1.10.0-rc.1", "nightly"} {
		e.upload(t, "pubco", "semver", v, "f", v)
	}
	for _, v := range []string{"beta", "alpha", "2024-01"} {
		e.upload(t, "pubco", "dated", v, "f", v)
	}
	latest := func(want string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			var p pkgJSON
			r.json(t, &p)
			if p.Version != want {
				t.Errorf("latest = %q, want %q", p.Version, want)
			}
		}
	}
	e.run(t, []tc{
		{name: "highest semantic version", path: "/api/v1/packages/pubco/generic/semver/-/latest", status: 200, check: latest("1.10.0")},
		{name: "newest when none is semantic", path: "/api/v1/packages/pubco/generic/dated/-/latest", status: 200, check: latest("2024-01")},
		{name: "missing package", path: "/api/v1/packages/pubco/generic/nope/-/latest", status: 404},
		{name: "private owner", path: "/api/v1/packages/secretco/generic/semver/-/latest", status: 401, message: "^token is required$"},
		{name: "private owner, non-member", path: "/api/v1/packages/secretco/generic/semver/-/latest", auth: e.token("carol-all"), status: 404},
		{name: "missing owner", path: "/api/v1/packages/nobody/generic/semver/-/latest", status: 401, message: "^token is required$"},
	})
}

func TestDeleteAndLink(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.upload(t, "pubco", "app", "1.0", "f", "one")
	e.upload(t, "pubco", "app", "2.0", "f", "two")
	e.upload(t, "pubco", "other", "1.0", "f", "other")
	for _, p := range []struct {
		name string
		vis  depot.Visibility
	}{{"app-src", ""}, {"closed-src", depot.Private}, {"tools", ""}} {
		_, err := e.svc.CreateProject(ctx, "pubco", p.name, p.vis)
		must(t, err)
	}
	repo := func(want string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			var p pkgJSON
			r.json(t, &p)
			switch {
			case want == "" && p.Repository != nil:
				t.Errorf("repository = %+v, want null", p.Repository)
			case want != "" && (p.Repository == nil || p.Repository.FullName != want || p.Repository.Owner.Login != "pubco" || p.Repository.ID == 0):
				t.Errorf("repository = %+v, want %s", p.Repository, want)
			}
		}
	}
	must(t, e.svc.SetMember(ctx, "pubco", "carol", depot.AccessWrite))
	v1 := "/api/v1/packages/pubco/generic/app/1.0"
	e.run(t, []tc{
		// Gitea 1.24-1.26 require a token on the whole group (reqToken).
		{name: "delete anonymously", method: "DELETE", path: v1, status: 401, message: "^token is required$"},
		{name: "delete anonymously, missing owner", method: "DELETE", path: "/api/v1/packages/nobody/generic/app/1.0", status: 401, message: "^token is required$"},
		{name: "delete as reader", method: "DELETE", path: v1, auth: e.token("bob-all"), status: 403},
		{name: "delete with read-only token", method: "DELETE", path: v1, auth: e.token("alice-read"), status: 403,
			message: `required=\[write:package\]`},
		// Gitea's DeletePackageVersion answers 204.
		{name: "delete", method: "DELETE", path: v1, auth: e.token("alice-all"), status: 204, check: func(t *testing.T, r response) {
			if len(r.body) != 0 {
				t.Errorf("body = %q, want none", r.body)
			}
		}},
		{name: "deleted", path: v1, status: 404},
		{name: "delete again", method: "DELETE", path: v1, auth: e.token("alice-all"), status: 404},
		{name: "other version kept", path: "/api/v1/packages/pubco/generic/app/2.0", status: 200},

		{name: "link anonymously", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/app-src", status: 401, message: "^token is required$"},
		{name: "unlink anonymously", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/unlink", status: 401, message: "^token is required$"},
		{name: "link as reader", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/app-src", auth: e.token("bob-all"), status: 403},
		{name: "link to a missing project", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/nope", auth: e.token("alice-all"), status: 404},
		{name: "link a missing package", method: "POST", path: "/api/v1/packages/pubco/generic/nope/-/link/app-src", auth: e.token("alice-all"), status: 404},
		// Gitea's LinkPackage answers 201 (routers/api/v1/packages/package.go).
		{name: "link", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/APP-SRC", auth: e.token("alice-all"), status: 201},
		// Gitea's LinkToRepository refuses any linked package, even to the
		// same repository, with ErrInvalidArgument: 400.
		{name: "link again", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/app-src", auth: e.token("alice-all"), status: 400,
			message: "already linked"},
		{name: "linked", path: "/api/v1/packages/pubco/generic/app/2.0", status: 200, check: repo("pubco/app-src")},
		{name: "linked in listings", path: "/api/v1/packages/pubco?q=app", status: 200, check: func(t *testing.T, r response) {
			var ps []pkgJSON
			r.json(t, &ps)
			if len(ps) != 1 || ps[0].Repository == nil || ps[0].Repository.Name != "app-src" || ps[0].Repository.Private {
				t.Errorf("listing = %+v", ps)
			}
		}},
		{name: "link to another project", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/tools", auth: e.token("alice-all"), status: 400},
		// Gitea's UnlinkFromRepository wants an organization admin.
		{name: "unlink as a writer", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/unlink", auth: e.token("carol-all"), status: 403},
		{name: "still linked", path: "/api/v1/packages/pubco/generic/app/2.0", status: 200, check: repo("pubco/app-src")},
		// Gitea's UnlinkPackage answers 204, whatever its swagger comment says.
		{name: "unlink", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/unlink", auth: e.token("alice-all"), status: 204,
			check: func(t *testing.T, r response) {
				if len(r.body) != 0 {
					t.Errorf("body = %q, want none", r.body)
				}
			}},
		{name: "unlinked", path: "/api/v1/packages/pubco/generic/app/2.0", status: 200, check: repo("")},
		{name: "unlink again", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/unlink", auth: e.token("alice-all"), status: 400,
			message: "not linked"},
		{name: "unlink an unlinked package as a writer", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/unlink", auth: e.token("carol-all"), status: 400},
		{name: "link again after unlinking", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/link/tools", auth: e.token("carol-all"), status: 201},
		{name: "site admin unlinks", method: "POST", path: "/api/v1/packages/pubco/generic/app/-/unlink", auth: e.token("root-all"), status: 204},
		{name: "the writer leaves", method: "DELETE", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-all"), status: 204},

		{name: "link to a private project", method: "POST", path: "/api/v1/packages/pubco/generic/other/-/link/closed-src", auth: e.token("alice-all"), status: 201},
		{name: "private project hidden from non-members", path: "/api/v1/packages/pubco/generic/other/1.0", auth: e.token("carol-all"), status: 200, check: repo("")},
		{name: "private project hidden from anonymous", path: "/api/v1/packages/pubco/generic/other/1.0", status: 200, check: repo("")},
		{name: "private project shown to members", path: "/api/v1/packages/pubco/generic/other/1.0", auth: e.token("bob-all"), status: 200, check: repo("pubco/closed-src")},
		{name: "private project shown to site admins", path: "/api/v1/packages/pubco/generic/other/1.0", auth: e.token("root-all"), status: 200, check: repo("pubco/closed-src")},
	})
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	user := func(login string, admin bool, email string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			var u userJSON
			r.json(t, &u)
			if u.Login != login || u.IsAdmin != admin || u.Email != email || u.ID == 0 {
				t.Errorf("user = %+v, want %s (admin %v, email %s)", u, login, admin, email)
			}
		}
	}
	e.run(t, []tc{
		{name: "me anonymously", path: "/api/v1/user", status: 401, message: "token is required"},
		{name: "me with password", path: "/api/v1/user", auth: basic("root", pw), status: 200, check: user("root", true, "root@example.com")},
		{name: "me with token", path: "/api/v1/user", auth: e.token("alice-user"), status: 200, check: user("alice", false, "alice@example.com")},
		{name: "me without read:user", path: "/api/v1/user", auth: e.token("alice-read"), status: 403, message: `required=\[read:user\]`},
		{name: "profile", path: "/api/v1/users/ROOT", status: 200, check: user("root", false, "root@noreply.depot.test")},
		{name: "profile for an admin viewer", path: "/api/v1/users/root", auth: e.token("root-all"), status: 200, check: user("root", true, "root@example.com")},
		{name: "organization as a profile", path: "/api/v1/users/pubco", status: 200},
		{name: "private user anonymously", path: "/api/v1/users/hermit", status: 404},
		{name: "private user to others", path: "/api/v1/users/hermit", auth: e.token("carol-all"), status: 404},
		{name: "private user to admins", path: "/api/v1/users/hermit", auth: e.token("root-all"), status: 200},
		{name: "missing user", path: "/api/v1/users/nobody", status: 404},

		{name: "admin create user", method: "POST", path: "/api/v1/admin/users", auth: e.token("root-all"),
			body: `{"username":"dave","email":"dave@example.com","password":"long-enough","must_change_password":false}`, status: 201,
			check: user("dave", false, "dave@example.com")},
		{name: "created user signs in", path: "/api/v1/user", auth: basic("dave", "long-enough"), status: 200, check: user("dave", false, "dave@example.com")},
		{name: "admin create taken name", method: "POST", path: "/api/v1/admin/users", auth: e.token("root-all"),
			body: `{"username":"DAVE","email":"d@example.com","password":"long-enough"}`, status: 422},
		{name: "admin create bad name", method: "POST", path: "/api/v1/admin/users", auth: e.token("root-all"),
			body: `{"username":"-x-","email":"d@example.com","password":"long-enough"}`, status: 422},
		{name: "admin create bad JSON", method: "POST", path: "/api/v1/admin/users", auth: e.token("root-all"), body: `{"username":`, status: 422},
		{name: "admin create by non-admin", method: "POST", path: "/api/v1/admin/users", auth: e.token("alice-all"),
			body: `{"username":"eve","email":"e@example.com","password":"long-enough"}`, status: 403, message: "^user should be the site admin$"},
		{name: "admin create without write:admin", method: "POST", path: "/api/v1/admin/users", auth: e.token("root-pkg"),
			body: `{"username":"eve","email":"e@example.com","password":"long-enough"}`, status: 403, message: `required=\[write:admin\]`},
		{name: "admin create anonymously", method: "POST", path: "/api/v1/admin/users",
			body: `{"username":"eve","email":"e@example.com","password":"long-enough"}`, status: 401},
	})
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	var created struct {
		ID             int64    `json:"id"`
		Name           string   `json:"name"`
		SHA1           string   `json:"sha1"`
		TokenLastEight string   `json:"token_last_eight"`
		Scopes         []string `json:"scopes"`
	}
	e.run(t, []tc{
		{name: "create", method: "POST", path: "/api/v1/users/carol/tokens", auth: basic("carol", pw),
			body: `{"name":"ci","scopes":["write:package","read:user"]}`, status: 201, check: func(t *testing.T, r response) {
				r.json(t, &created)
				if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(created.SHA1) || created.TokenLastEight != created.SHA1[32:] ||
					created.Name != "ci" || strings.Join(created.Scopes, ",") != "write:package,read:user" || created.ID == 0 {
					t.Errorf("created token = %+v", created)
				}
			}},
		{name: "taken name", method: "POST", path: "/api/v1/users/carol/tokens", auth: basic("carol", pw), body: `{"name":"ci","scopes":["all"]}`, status: 400},
		{name: "no scopes", method: "POST", path: "/api/v1/users/carol/tokens", auth: basic("carol", pw), body: `{"name":"x"}`, status: 400, message: "must have a scope"},
		{name: "unknown scope", method: "POST", path: "/api/v1/users/carol/tokens", auth: basic("carol", pw), body: `{"name":"x","scopes":["write:everything"]}`, status: 400},
		{name: "bad JSON", method: "POST", path: "/api/v1/users/carol/tokens", auth: basic("carol", pw), body: `[`, status: 422},
		{name: "with a token", method: "POST", path: "/api/v1/users/carol/tokens", auth: e.token("carol-all"), body: `{"name":"y","scopes":["all"]}`, status: 401, message: "^auth required$"},
		{name: "anonymously", method: "POST", path: "/api/v1/users/carol/tokens", body: `{"name":"y","scopes":["all"]}`, status: 401},
		{name: "for another user", method: "POST", path: "/api/v1/users/alice/tokens", auth: basic("carol", pw), body: `{"name":"y","scopes":["all"]}`, status: 403},
		{name: "by an admin for another user", method: "POST", path: "/api/v1/users/carol/tokens", auth: basic("root", pw), body: `{"name":"from-root","scopes":["read:package"]}`, status: 201},
		{name: "list", path: "/api/v1/users/carol/tokens", auth: basic("carol", pw), status: 200, check: func(t *testing.T, r response) {
			var list []struct {
				Name, SHA1 string
			}
			r.json(t, &list)
			var names []string
			for _, tk := range list {
				names = append(names, tk.Name)
				if tk.SHA1 != "" {
					t.Errorf("listed token %s shows its secret", tk.Name)
				}
			}
			if strings.Join(names, ",") != "carol-all,ci,from-root" {
				t.Errorf("tokens = %q", names)
			}
			if r.header.Get("X-Total-Count") != "3" {
				t.Errorf("X-Total-Count = %q", r.header.Get("X-Total-Count"))
			}
		}},
	})
	// The new token works, within its scopes.
	e.tok["created"] = created.SHA1
	e.run(t, []tc{
		{name: "new token works", path: "/api/v1/user", auth: e.token("created"), status: 200},
		{name: "new token within scopes", path: "/api/v1/user/orgs", auth: e.token("created"), status: 403, message: `required=\[read:user read:organization\]`},
		{name: "delete by id", method: "DELETE", path: "/api/v1/users/carol/tokens/" + itoa(created.ID), auth: basic("carol", pw), status: 204},
		{name: "deleted token refused", path: "/api/v1/user", auth: e.token("created"), status: 401},
		{name: "delete by name", method: "DELETE", path: "/api/v1/users/carol/tokens/from-root", auth: basic("carol", pw), status: 204},
		{name: "delete missing", method: "DELETE", path: "/api/v1/users/carol/tokens/from-root", auth: basic("carol", pw), status: 404},
		{name: "delete another user's", method: "DELETE", path: "/api/v1/users/alice/tokens/alice-all", auth: basic("carol", pw), status: 403},
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestOrgs(t *testing.T) {
	e := newEnv(t)
	org := func(name, vis string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			var o struct {
				ID                         int64
				Name, Username, Visibility string
			}
			r.json(t, &o)
			if o.ID == 0 || o.Name != name || o.Username != name || o.Visibility != vis {
				t.Errorf("org = %+v, want %s (%s)", o, name, vis)
			}
		}
	}
	orgNames := func(want string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			var os []struct{ Name string }
			r.json(t, &os)
			var names []string
			for _, o := range os {
				names = append(names, o.Name)
			}
			if strings.Join(names, ",") != want {
				t.Errorf("orgs = %q, want %s", names, want)
			}
		}
	}
	e.run(t, []tc{
		{name: "create", method: "POST", path: "/api/v1/orgs", auth: e.token("carol-all"), body: `{"username":"carolco","full_name":"Carol Co"}`, status: 201, check: org("carolco", "public")},
		{name: "create private", method: "POST", path: "/api/v1/orgs", auth: basic("carol", pw), body: `{"username":"carol-secret","visibility":"private"}`, status: 201, check: org("carol-secret", "private")},
		{name: "create taken", method: "POST", path: "/api/v1/orgs", auth: e.token("carol-all"), body: `{"username":"PUBCO"}`, status: 422},
		{name: "create invalid", method: "POST", path: "/api/v1/orgs", auth: e.token("carol-all"), body: `{"username":"a b"}`, status: 422},
		{name: "create limited", method: "POST", path: "/api/v1/orgs", auth: e.token("carol-all"), body: `{"username":"lim","visibility":"limited"}`, status: 422},
		{name: "create anonymously", method: "POST", path: "/api/v1/orgs", body: `{"username":"anonco"}`, status: 401},
		{name: "create without write:organization", method: "POST", path: "/api/v1/orgs", auth: e.token("alice-read"), body: `{"username":"x"}`, status: 403},
		{name: "get", path: "/api/v1/orgs/CAROLCO", status: 200, check: org("carolco", "public")},
		{name: "get a user", path: "/api/v1/orgs/alice", status: 404},
		{name: "get private anonymously", path: "/api/v1/orgs/secretco", status: 404},
		{name: "get private as member", path: "/api/v1/orgs/secretco", auth: e.token("bob-all"), status: 200, check: org("secretco", "private")},
		{name: "my orgs", path: "/api/v1/user/orgs", auth: e.token("carol-all"), status: 200, check: all(orgNames("carol-secret,carolco"), wantHeader("X-Total-Count", "2"))},
		{name: "my orgs paged", path: "/api/v1/user/orgs?limit=1&page=2", auth: e.token("carol-all"), status: 200, check: orgNames("carolco")},
		{name: "my orgs anonymously", path: "/api/v1/user/orgs", status: 401},
		// Gitea's /user/orgs wants the user and the organization scopes.
		{name: "my orgs without read:user", path: "/api/v1/user/orgs", auth: e.token("alice-org"), status: 403,
			message: `^token does not have at least one of required scope\(s\), required=\[read:user read:organization\], token scope=write:organization$`},

		{name: "add member as non-admin", method: "PUT", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("bob-all"), status: 403},
		{name: "add member to invisible org", method: "PUT", path: "/api/v1/orgs/secretco/members/carol", auth: e.token("carol-all"), status: 404},
		{name: "add member", method: "PUT", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-org"), body: `{"role":"write"}`, status: 204},
		{name: "member", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-all"), status: 204},
		{name: "member writes", method: "DELETE", path: "/api/v1/packages/pubco/generic/none/1.0", auth: e.token("carol-all"), status: 404},
		{name: "bad role", method: "PUT", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-all"), body: `{"role":"owner"}`, status: 422},
		{name: "missing user", method: "PUT", path: "/api/v1/orgs/pubco/members/nobody", auth: e.token("alice-all"), status: 404},
		{name: "remove member", method: "DELETE", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-all"), status: 204},
		{name: "not a member", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-all"), status: 404},
		{name: "remove a non-member", method: "DELETE", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("alice-all"), status: 204},
		{name: "remove the last admin", method: "DELETE", path: "/api/v1/orgs/pubco/members/alice", auth: e.token("alice-all"), status: 409},
		{name: "site admin adds an admin", method: "PUT", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("root-all"), body: `{"role":"admin"}`, status: 204},
		{name: "then the first admin may leave", method: "DELETE", path: "/api/v1/orgs/pubco/members/alice", auth: e.token("carol-all"), status: 204},
	})
}

// names returns a check that the answer is a list whose "login" (users) or
// "name" (organizations) fields are want, with X-Total-Count total.
func names(field string, total int, want ...string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var list []map[string]any
		r.json(t, &list)
		got := []string{}
		for _, v := range list {
			got = append(got, fmt.Sprint(v[field]))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%ss = %q, want %q", field, got, want)
		}
		if h := r.header.Get("X-Total-Count"); h != strconv.Itoa(total) {
			t.Errorf("X-Total-Count = %q, want %d", h, total)
		}
	}
}

func TestOrgMembers(t *testing.T) {
	e := newEnv(t)
	members := func(total int, want ...string) func(t *testing.T, r response) { return names("login", total, want...) }
	e.run(t, []tc{
		// Gitea's ListMembers (routers/api/v1/org/member.go) needs a
		// token and shows members every membership; others see public
		// memberships only, and depot has none.
		{name: "anonymously", path: "/api/v1/orgs/pubco/members", status: 401, message: "^token is required$"},
		{name: "as its admin", path: "/api/v1/orgs/pubco/members", auth: e.token("alice-all"), status: 200, check: members(2, "alice", "bob")},
		{name: "as a reader", path: "/api/v1/orgs/PUBCO/members", auth: e.token("bob-all"), status: 200, check: members(2, "alice", "bob")},
		{name: "as a password user", path: "/api/v1/orgs/pubco/members", auth: basic("bob", pw), status: 200, check: members(2, "alice", "bob")},
		{name: "as a non-member", path: "/api/v1/orgs/pubco/members", auth: e.token("carol-all"), status: 200, check: members(0)},
		{name: "as a site admin", path: "/api/v1/orgs/pubco/members", auth: e.token("root-all"), status: 200, check: members(2, "alice", "bob")},
		{name: "paged", path: "/api/v1/orgs/pubco/members?limit=1&page=2", auth: e.token("alice-all"), status: 200,
			check: all(members(2, "bob"), wantHeader("Link", `<http://depot.test/api/v1/orgs/pubco/members?limit=1&page=1>; rel="first",<http://depot.test/api/v1/orgs/pubco/members?limit=1&page=1>; rel="prev"`))},
		{name: "members' user JSON", path: "/api/v1/orgs/pubco/members", auth: e.token("bob-all"), status: 200, check: func(t *testing.T, r response) {
			var us []userJSON
			r.json(t, &us)
			if len(us) != 2 || us[0].Email != "alice@example.com" || us[0].IsAdmin || us[1].Login != "bob" || us[1].ID == 0 {
				t.Errorf("members = %+v", us)
			}
		}},
		{name: "private org to a member", path: "/api/v1/orgs/secretco/members", auth: e.token("bob-all"), status: 200, check: members(2, "alice", "bob")},
		{name: "private org to a non-member", path: "/api/v1/orgs/secretco/members", auth: e.token("carol-all"), status: 404},
		{name: "missing org", path: "/api/v1/orgs/nope/members", auth: e.token("alice-all"), status: 404},
		{name: "a user is no org", path: "/api/v1/orgs/alice/members", auth: e.token("alice-all"), status: 404},
		{name: "token without read:organization", path: "/api/v1/orgs/pubco/members", auth: e.token("alice-read"), status: 403,
			message: `required=\[read:organization\]`},

		// Gitea's ListPublicMembers needs no token.
		{name: "public members anonymously", path: "/api/v1/orgs/pubco/public_members", status: 200, check: members(0)},
		{name: "public members as a member", path: "/api/v1/orgs/pubco/public_members", auth: e.token("alice-all"), status: 200, check: members(0)},
		{name: "public members of a private org", path: "/api/v1/orgs/secretco/public_members", status: 404},
		{name: "public members without read:organization", path: "/api/v1/orgs/pubco/public_members", auth: e.token("alice-read"), status: 403},
	})
}

func TestUserOrgs(t *testing.T) {
	e := newEnv(t)
	orgs := func(total int, want ...string) func(t *testing.T, r response) { return names("name", total, want...) }
	e.run(t, []tc{
		// Gitea's ListUserOrgs (routers/api/v1/org/org.go) shows the user
		// itself and site admins every organization, others public
		// memberships only: none on depot.
		{name: "one's own", path: "/api/v1/users/alice/orgs", auth: e.token("alice-all"), status: 200, check: orgs(2, "pubco", "secretco")},
		{name: "one's own, any case", path: "/api/v1/users/ALICE/orgs", auth: basic("alice", pw), status: 200, check: orgs(2, "pubco", "secretco")},
		{name: "paged", path: "/api/v1/users/alice/orgs?limit=1", auth: e.token("alice-all"), status: 200, check: orgs(2, "pubco")},
		{name: "to a site admin", path: "/api/v1/users/bob/orgs", auth: e.token("root-all"), status: 200, check: orgs(2, "pubco", "secretco")},
		{name: "to another user", path: "/api/v1/users/bob/orgs", auth: e.token("carol-all"), status: 200, check: orgs(0)},
		{name: "to a fellow member", path: "/api/v1/users/alice/orgs", auth: e.token("bob-all"), status: 200, check: orgs(0)},
		{name: "of an organization", path: "/api/v1/users/pubco/orgs", auth: e.token("alice-all"), status: 200, check: orgs(0)},
		{name: "anonymously", path: "/api/v1/users/alice/orgs", status: 401, message: "^token is required$"},
		{name: "missing user", path: "/api/v1/users/nobody/orgs", auth: e.token("alice-all"), status: 404},
		{name: "private user to others", path: "/api/v1/users/hermit/orgs", auth: e.token("carol-all"), status: 404},
		{name: "private user to a site admin", path: "/api/v1/users/hermit/orgs", auth: e.token("root-all"), status: 200, check: orgs(0)},
		{name: "token without read:user", path: "/api/v1/users/alice/orgs", auth: e.token("alice-org"), status: 403,
			message: `required=\[read:user read:organization\]`},
		{name: "token without read:organization", path: "/api/v1/users/alice/orgs", auth: e.token("alice-user"), status: 403},
	})
}

func TestOrgList(t *testing.T) {
	e := newEnv(t)
	orgs := func(total int, want ...string) func(t *testing.T, r response) { return names("name", total, want...) }
	e.run(t, []tc{
		// Gitea's GetAll (routers/api/v1/org/org.go): public organizations,
		// private ones to site admins only.
		{name: "anonymously", path: "/api/v1/orgs", status: 200, check: orgs(1, "pubco")},
		{name: "as a user", path: "/api/v1/orgs", auth: e.token("carol-all"), status: 200, check: orgs(1, "pubco")},
		{name: "as a member of a private org", path: "/api/v1/orgs", auth: e.token("bob-all"), status: 200, check: orgs(1, "pubco")},
		{name: "as a site admin", path: "/api/v1/orgs", auth: e.token("root-all"), status: 200, check: orgs(2, "pubco", "secretco")},
		{name: "paged", path: "/api/v1/orgs?limit=1&page=2", auth: e.token("root-all"), status: 200,
			check: all(orgs(2, "secretco"), wantHeader("Link", `<http://depot.test/api/v1/orgs?limit=1&page=1>; rel="first",<http://depot.test/api/v1/orgs?limit=1&page=1>; rel="prev"`))},
		{name: "token without read:organization", path: "/api/v1/orgs", auth: e.token("alice-read"), status: 403, message: `required=\[read:organization\]`},
	})
}

func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	users := func(total int, want ...string) func(t *testing.T, r response) { return names("login", total, want...) }
	type fullUser struct {
		Login         string `json:"login"`
		LoginName     string `json:"login_name"`
		IsAdmin       bool   `json:"is_admin"`
		Active        bool   `json:"active"`
		ProhibitLogin bool   `json:"prohibit_login"`
	}
	user := func(login string, admin, active bool) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			var u fullUser
			r.json(t, &u)
			if u.Login != login || u.LoginName != login || u.IsAdmin != admin || u.Active != active || u.ProhibitLogin == active {
				t.Errorf("user = %+v, want %s, admin %v, active %v", u, login, admin, active)
			}
		}
	}
	patch := func(name, user, body string, a auth, status int, check func(*testing.T, response)) tc {
		return tc{name: name, method: "PATCH", path: "/api/v1/admin/users/" + user, auth: a, body: body, status: status, check: check}
	}
	root := e.token("root-all")
	e.run(t, []tc{
		// Gitea's SearchUsers (routers/api/v1/admin/user.go): individuals
		// only, by name, for site admins.
		{name: "list", path: "/api/v1/admin/users", auth: root, status: 200, check: users(5, "alice", "bob", "carol", "hermit", "root")},
		{name: "list with a password", path: "/api/v1/admin/users", auth: basic("root", pw), status: 200, check: users(5, "alice", "bob", "carol", "hermit", "root")},
		{name: "paged", path: "/api/v1/admin/users?limit=2&page=3", auth: root, status: 200,
			check: all(users(5, "root"), wantHeader("Link", `<http://depot.test/api/v1/admin/users?limit=2&page=1>; rel="first",<http://depot.test/api/v1/admin/users?limit=2&page=2>; rel="prev"`))},
		{name: "search by name", path: "/api/v1/admin/users?q=CAR", auth: root, status: 200, check: users(1, "carol")},
		{name: "search by email", path: "/api/v1/admin/users?q=bob@example", auth: root, status: 200, check: users(1, "bob")},
		{name: "admins", path: "/api/v1/admin/users?is_admin=true", auth: root, status: 200, check: users(1, "root")},
		{name: "inactive", path: "/api/v1/admin/users?is_active=false", auth: root, status: 200, check: users(0)},
		{name: "private details shown", path: "/api/v1/admin/users?q=root", auth: root, status: 200, check: func(t *testing.T, r response) {
			var us []fullUser
			r.json(t, &us)
			if len(us) != 1 || !us[0].IsAdmin || !us[0].Active {
				t.Errorf("users = %+v", us)
			}
		}},
		{name: "list as a non-admin", path: "/api/v1/admin/users", auth: e.token("alice-all"), status: 403, message: "^user should be the site admin$"},
		{name: "list without read:admin", path: "/api/v1/admin/users", auth: e.token("root-pkg"), status: 403, message: `required=\[read:admin\]`},
		{name: "list anonymously", path: "/api/v1/admin/users", status: 401, message: "^token is required$"},

		// Gitea's EditUser answers 200 with the user.
		patch("make an admin", "bob", `{"login_name":"bob","source_id":0,"admin":true}`, root, 200, user("bob", true, true)),
		{name: "the new admin lists users", path: "/api/v1/admin/users", auth: e.token("bob-all"), status: 200, check: users(5, "alice", "bob", "carol", "hermit", "root")},
		patch("deactivate", "BOB", `{"login_name":"bob","active":false}`, root, 200, user("bob", true, false)),
		{name: "a deactivated user's token is refused", path: "/api/v1/user", auth: e.token("bob-all"), status: 401},
		{name: "inactive listed", path: "/api/v1/admin/users?is_active=false", auth: root, status: 200, check: users(1, "bob")},
		patch("activate", "bob", `{"login_name":"Bob","active":true}`, root, 200, user("bob", true, true)),
		{name: "an active user's token works", path: "/api/v1/user", auth: e.token("bob-all"), status: 200},
		patch("prohibit login", "bob", `{"login_name":"bob","prohibit_login":true}`, root, 200, user("bob", true, false)),
		patch("inactive whatever prohibit_login says", "bob", `{"login_name":"bob","active":false,"prohibit_login":false}`, root, 200, user("bob", true, false)),
		patch("allow login", "bob", `{"login_name":"bob","prohibit_login":false}`, root, 200, user("bob", true, true)),
		patch("demote", "bob", `{"login_name":"bob","admin":false}`, root, 200, user("bob", false, true)),
		{name: "the demoted user may not list", path: "/api/v1/admin/users", auth: e.token("bob-all"), status: 403},
		patch("descriptive fields are ignored", "carol", `{"login_name":"carol","full_name":"Carol C","website":"https://example.com","allow_git_hook":true}`, root, 200, user("carol", false, true)),
		patch("nothing to change", "root", `{"login_name":"root","admin":true,"active":true}`, root, 200, user("root", true, true)),

		// The web UI's rule: nobody demotes or disables itself (Gitea
		// answers 400 for its last admin).
		{name: "demote oneself", method: "PATCH", path: "/api/v1/admin/users/root", auth: root, body: `{"login_name":"root","admin":false}`, status: 400, message: "your own admin rights"},
		{name: "disable oneself", method: "PATCH", path: "/api/v1/admin/users/root", auth: root, body: `{"login_name":"root","prohibit_login":true}`, status: 400},

		// Gitea's binding wants login_name (422); depot refuses what it
		// cannot do rather than ignoring it.
		{name: "no login_name", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"admin":true}`, status: 422, message: `^\[LoginName\]: Required$`},
		{name: "another login_name", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":"carla","admin":true}`, status: 422, message: `"carol"`},
		{name: "another source", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":"carol","source_id":2}`, status: 422},
		{name: "a password", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":"carol","password":"new-password"}`, status: 422},
		{name: "an email", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":"carol","email":"c@example.com"}`, status: 422},
		{name: "restricted", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":"carol","restricted":true}`, status: 422},
		{name: "a visibility", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":"carol","visibility":"private"}`, status: 422},
		{name: "bad JSON", method: "PATCH", path: "/api/v1/admin/users/carol", auth: root, body: `{"login_name":`, status: 422},
		{name: "refused edits change nothing", path: "/api/v1/admin/users?is_admin=true", auth: root, status: 200, check: users(1, "root")},

		// Rights first, then the user, then the request, as Gitea checks.
		{name: "edit as a non-admin", method: "PATCH", path: "/api/v1/admin/users/carol", auth: e.token("alice-all"), body: `{"admin":true}`, status: 403, message: "^user should be the site admin$"},
		{name: "edit without write:admin", method: "PATCH", path: "/api/v1/admin/users/carol", auth: e.token("root-pkg"), body: `{"login_name":"carol"}`, status: 403, message: `required=\[write:admin\]`},
		{name: "edit anonymously", method: "PATCH", path: "/api/v1/admin/users/carol", body: `{"login_name":"carol"}`, status: 401},
		{name: "edit a missing user", method: "PATCH", path: "/api/v1/admin/users/nobody", auth: root, body: `{"admin":true}`, status: 404},
		{name: "edit an organization", method: "PATCH", path: "/api/v1/admin/users/pubco", auth: root, body: `{"login_name":"pubco","admin":true}`, status: 404},
	})
}

// TestErrorBodyIsJSON checks the error shape for every kind of failure.
func TestErrorBodyIsJSON(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/api/v1/user", anon(), "")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !bytes.Contains(r.body, []byte(`"message"`)) || !bytes.Contains(r.body, []byte(`"url"`)) {
		t.Errorf("body = %s", r.body)
	}
}

// TestDeleteWholePackage covers Gitea 1.26's DELETE
// /api/v1/packages/{owner}/{type}/{name}: every version goes, other
// packages stay, and access is checked as for a version.
func TestDeleteWholePackage(t *testing.T) {
	e := newEnv(t)
	e.upload(t, "pubco", "app", "1.0", "f", "one")
	e.upload(t, "pubco", "app", "2.0", "f", "two")
	e.upload(t, "pubco", "app", "2.0", "g", "shared")
	e.upload(t, "pubco", "other", "1.0", "f", "shared")
	pkg := "/api/v1/packages/pubco/generic/app"
	e.run(t, []tc{
		{name: "anonymously", method: "DELETE", path: pkg, status: 401},
		{name: "as reader", method: "DELETE", path: pkg, auth: e.token("bob-all"), status: 403},
		{name: "with read-only token", method: "DELETE", path: pkg, auth: e.token("alice-read"), status: 403},
		{name: "missing package", method: "DELETE", path: "/api/v1/packages/pubco/generic/nope", auth: e.token("alice-all"), status: 404},
		{name: "delete", method: "DELETE", path: pkg, auth: e.token("alice-all"), status: 204, check: func(t *testing.T, r response) {
			if len(r.body) != 0 {
				t.Errorf("body = %q, want none", r.body)
			}
		}},
		{name: "versions gone", path: pkg + "/1.0", status: 404},
		// Gitea 1.26's own test (TestPackageAPI/DeleteEntirePackage): the
		// listing of the deleted package is 404.
		{name: "listing gone", path: pkg, auth: e.token("alice-read"), status: 404},
		{name: "again", method: "DELETE", path: pkg, auth: e.token("alice-all"), status: 404},
		{name: "other package kept", path: "/api/v1/packages/pubco/generic/other/1.0", status: 200},
		{name: "shared blob kept", path: "/api/v1/packages/pubco/generic/other/1.0/files", status: 200, check: func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"name":"f"`) {
				t.Errorf("files = %s", r.body)
			}
		}},
	})
}

// TestMembershipChecks follows Gitea's IsMember and IsPublicMember: members
// and site admins learn memberships (204 or 404); anyone else asking about
// another user is redirected to the public check, which answers 404 since
// depot has no public memberships; asking about oneself is 404.
func TestMembershipChecks(t *testing.T) {
	e := newEnv(t)
	e.run(t, []tc{
		{name: "member asks about a member", path: "/api/v1/orgs/pubco/members/bob", auth: e.token("alice-all"), status: 204},
		{name: "member asks about a non-member", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("bob-all"), status: 404},
		{name: "site admin asks", path: "/api/v1/orgs/pubco/members/bob", auth: e.token("root-all"), status: 204},
		// Followed, the redirect ends at the public check.
		{name: "non-member asks about a member", path: "/api/v1/orgs/pubco/members/bob", auth: e.token("carol-all"), status: 404,
			message: "not a public member"},
		{name: "non-member asks about itself", path: "/api/v1/orgs/pubco/members/carol", auth: e.token("carol-all"), status: 404},
		{name: "anonymously", path: "/api/v1/orgs/pubco/members/bob", status: 401},
		{name: "public check anonymously", path: "/api/v1/orgs/pubco/public_members/bob", status: 404, message: "not a public member"},
		{name: "public check of a missing user", path: "/api/v1/orgs/pubco/public_members/nobody", status: 404},
		{name: "public check of an invisible org", path: "/api/v1/orgs/secretco/public_members/bob", status: 404},
	})
	// Not followed: Gitea's redirect itself.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/orgs/pubco/members/bob", nil)
	must(t, err)
	e.token("carol-all")(req)
	resp, err := noFollow.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/api/v1/orgs/pubco/public_members/bob" {
		t.Errorf("non-member's check: %d to %q, want 302 to /api/v1/orgs/pubco/public_members/bob", resp.StatusCode, resp.Header.Get("Location"))
	}
}
