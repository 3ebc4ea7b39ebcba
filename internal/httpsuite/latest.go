package httpsuite

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// relVersions are the versions of the package the latest and range cases
// resolve over, in upload order.
var relVersions = []string{"1.0.0", "1.2.0", "1.4.3", "1.10.0", "2.0.0-rc.1", "2.3.1", "3.0.0-beta.2", "nightly", "1.4.0"}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// noFollow sends a request without following redirects.
func (fx *fixture) noFollow(t *testing.T, method, path string, a auth) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, fx.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	a(req)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func rangePath(owner, name, rng, rest string) string {
	if rng == "" {
		return "/api/packages/" + owner + "/generic/" + name + "/-/latest/" + rest
	}
	return "/api/packages/" + owner + "/generic/" + name + "/-/range/" + url.PathEscape(rng) + "/" + rest
}

// testLatest covers latest and range downloads of the Gitea dialect: the
// redirect (302, Location the resolved version's own URL, for GET and
// HEAD), ranges with and without prereleases, a 404 naming the range, a
// 400 for an invalid one, the access rule of a download, and that stored
// names looking like the route's literals stay reachable.
func (fx *fixture) testLatest(t *testing.T) {
	alice := basic("alice", pw)
	for _, v := range relVersions {
		fx.mustPut(t, pkgPath(pubOrg, "rel", v, "app.bin"), []byte("app "+v))
	}
	for _, c := range []struct {
		rng, want string
	}{
		{"", "2.3.1"}, // latest: the highest release, not the newest upload (1.4.0) nor a higher prerelease
		{"latest", "2.3.1"},
		{"^1.2", "1.10.0"},
		{"~1.4.0", "1.4.3"},
		{">=2 <3", "2.3.1"},
		{"1.x", "1.10.0"},
		{"<1.4", "1.2.0"},
		{">=3.0.0-beta.1", "3.0.0-beta.2"}, // the range names a prerelease
		{"2.0.0-rc.1", "2.0.0-rc.1"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			path := rangePath(pubOrg, "rel", c.rng, "app.bin")
			resp, body := fx.noFollow(t, method, path, anon())
			want := pkgPath(pubOrg, "rel", c.want, "app.bin")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
				t.Fatalf("%s %s: %d Location %q, want 302 to %q; body %s", method, path, resp.StatusCode, resp.Header.Get("Location"), want, body)
			}
			if got := resp.Header.Get("X-Depot-Resolved-Version"); got != c.want {
				t.Errorf("%s %s: X-Depot-Resolved-Version %q, want %q", method, path, got, c.want)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
			}
		}
	}
	// Followed, the redirect gives the resolved version's bytes.
	fx.mustGetBody(t, rangePath(pubOrg, "rel", "~1.2", "app.bin"), anon(), []byte("app 1.2.0"))
	// The range's file is not checked before the redirect; its target answers.
	if resp, _ := fx.noFollow(t, http.MethodGet, rangePath(pubOrg, "rel", "", "other.bin"), anon()); resp.StatusCode != http.StatusFound {
		t.Fatalf("latest of another file name: %d, want 302", resp.StatusCode)
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, rangePath(pubOrg, "rel", "", "other.bin"), anon(), nil)

	// Nothing matches: 404 naming the range, in JSON when asked.
	for _, rng := range []string{"^4", ">=2.0.0 <2.1"} { // the second matches only a prerelease
		resp, body := fx.do(t, http.MethodGet, rangePath(pubOrg, "rel", rng, "app.bin"), anon(), nil, "Accept", "application/json")
		var msg struct{ Message string }
		if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &msg) != nil || !strings.Contains(msg.Message, fmt.Sprintf("%q", rng)) {
			t.Errorf("range %q matching nothing: %d %s, want 404 whose JSON names the range", rng, resp.StatusCode, body)
		}
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, rangePath(pubOrg, "nosuch", "", "app.bin"), anon(), nil)
	// Only versions that are not semantic versions: ranges match nothing,
	// latest is the newest upload.
	fx.mustPut(t, pkgPath(pubOrg, "nightlies", "build-a", "f"), []byte("a"))
	fx.mustPut(t, pkgPath(pubOrg, "nightlies", "build-b", "f"), []byte("b"))
	if resp, _ := fx.noFollow(t, http.MethodGet, rangePath(pubOrg, "nightlies", "", "f"), anon()); resp.Header.Get("Location") != pkgPath(pubOrg, "nightlies", "build-b", "f") {
		t.Errorf("latest without semantic versions: %d %q, want the newest upload", resp.StatusCode, resp.Header.Get("Location"))
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, rangePath(pubOrg, "nightlies", "*", "f"), anon(), nil)

	// An invalid range is a 400, whatever the package.
	for _, rng := range []string{">=>1", "one", "^"} {
		resp, body := fx.do(t, http.MethodGet, rangePath(pubOrg, "rel", rng, "app.bin"), anon(), nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid version range") {
			t.Errorf("invalid range %q: %d %s, want 400", rng, resp.StatusCode, body)
		}
	}
	fx.mustStatus(t, http.StatusMethodNotAllowed, http.MethodPut, rangePath(pubOrg, "rel", "", "app.bin"), alice, []byte("x"))
	fx.mustStatus(t, http.StatusMethodNotAllowed, http.MethodDelete, rangePath(pubOrg, "rel", "^1", "app.bin"), alice, nil)

	// Access: exactly as a download of a version's file.
	fx.mustPut(t, pkgPath(privOrg, "rel", "1.0.0", "app.bin"), []byte("secret"))
	for _, who := range []struct {
		name string
		a    auth
	}{{"anonymous", anon()}, {"non-member", basic("dave", pw)}, {"member", basic("bob", pw)}, {"bad password", basic("bob", "wrong")}} {
		direct, _ := fx.do(t, http.MethodGet, pkgPath(privOrg, "rel", "1.0.0", "app.bin"), who.a, nil)
		for _, rng := range []string{"", "^1", "^9"} {
			resp, body := fx.noFollow(t, http.MethodGet, rangePath(privOrg, "rel", rng, "app.bin"), who.a)
			want := direct.StatusCode
			if want == http.StatusOK {
				want = http.StatusFound
				if rng == "^9" {
					want = http.StatusNotFound
				}
			}
			if resp.StatusCode != want {
				t.Errorf("%s, private owner, range %q: %d %s, want %d (a direct download answers %d)", who.name, rng, resp.StatusCode, body, want, direct.StatusCode)
			}
			if want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s, private owner: 401 without a challenge", who.name)
			}
		}
	}

	// Stored names that look like the route's literals stay names.
	fx.mustPut(t, pkgPath(pubOrg, "odd", "-", "latest"), []byte("file latest of version -"))
	fx.mustPut(t, pkgPath(pubOrg, "odd", "latest", "archive.zip"), []byte("not an archive"))
	fx.mustGetBody(t, pkgPath(pubOrg, "odd", "-", "latest"), anon(), []byte("file latest of version -"))
	fx.mustGetBody(t, pkgPath(pubOrg, "odd", "latest", "archive.zip"), anon(), []byte("not an archive"))
	if resp, _ := fx.noFollow(t, http.MethodGet, rangePath(pubOrg, "odd", "", "latest"), anon()); resp.Header.Get("Location") != pkgPath(pubOrg, "odd", "latest", "latest") {
		t.Errorf("latest of odd: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	fx.mustStatus(t, http.StatusOK, http.MethodGet, pkgPath(pubOrg, "odd", "-", "-/archive.zip"), anon(), nil)
}

// archiveMember is one unpacked archive entry.
type archiveMember struct {
	name string
	data []byte
}

func unzip(t *testing.T, b []byte) []archiveMember {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("read zip: %v", err)
	}
	var out []archiveMember
	for _, f := range zr.File {
		if f.Method != zip.Store {
			t.Errorf("zip member %s: method %d, want Store", f.Name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc) // checks the CRC-32
		rc.Close()
		if err != nil {
			t.Fatalf("zip member %s: %v", f.Name, err)
		}
		out = append(out, archiveMember{f.Name, data})
	}
	return out
}

func untgz(t *testing.T, b []byte) []archiveMember {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("read gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	var out []archiveMember
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, archiveMember{h.Name, data})
	}
	if _, err := io.Copy(io.Discard, gz); err != nil { // the gzip trailer's CRC
		t.Fatalf("gzip trailer: %v", err)
	}
	return out
}

// checkArchive checks that an unpacked archive holds the manifests and
// exactly files (name to bytes), each listed with its size and digests.
func checkArchive(t *testing.T, what string, got []archiveMember, pkg, version string, files map[string][]byte) {
	t.Helper()
	if len(got) != len(files)+2 || got[0].name != "MANIFEST.sha256" || got[1].name != "MANIFEST.json" {
		names := []string{}
		for _, m := range got {
			names = append(names, m.name)
		}
		t.Fatalf("%s: members %v, want MANIFEST.sha256, MANIFEST.json and %d files", what, names, len(files))
	}
	var wantSums []string
	for name, data := range files {
		wantSums = append(wantSums, sha(data)+"  "+name)
	}
	gotSums := strings.Split(strings.TrimSuffix(string(got[0].data), "\n"), "\n")
	sort.Strings(wantSums)
	sort.Strings(gotSums)
	if strings.Join(gotSums, "\n") != strings.Join(wantSums, "\n") {
		t.Errorf("%s: MANIFEST.sha256\n%s\nwant\n%s", what, strings.Join(gotSums, "\n"), strings.Join(wantSums, "\n"))
	}
	var m struct {
		Package, Version string
		Files            []struct {
			Name                      string
			Size                      int64
			SHA256, SHA512, SHA1, MD5 string
		}
	}
	if err := json.Unmarshal(got[1].data, &m); err != nil {
		t.Fatalf("%s: MANIFEST.json: %v", what, err)
	}
	if m.Package != pkg || m.Version != version || len(m.Files) != len(files) {
		t.Errorf("%s: MANIFEST.json %+v", what, m)
	}
	for _, f := range m.Files {
		data, ok := files[f.Name]
		if !ok || f.Size != int64(len(data)) || f.SHA256 != sha(data) || len(f.SHA512) != 128 || len(f.SHA1) != 40 || len(f.MD5) != 32 {
			t.Errorf("%s: MANIFEST.json entry %+v does not describe %q (%d bytes)", what, f, f.Name, len(data))
		}
	}
	for _, mem := range got[2:] {
		if want, ok := files[mem.name]; !ok || !bytes.Equal(mem.data, want) {
			t.Errorf("%s: member %s: %d bytes (sha256 %s), want %d bytes (sha256 %s)", what, mem.name, len(mem.data), sha(mem.data), len(want), sha(want))
		}
	}
}

// testArchive covers version archives: a zip and a tar.gz holding every
// file's exact bytes and the manifests, HEAD, the latest archive's
// redirect, the access rule of a download, and the GitLab dialect's shapes.
func (fx *fixture) testArchive(t *testing.T) {
	files := map[string][]byte{
		"app-linux-amd64.tar.gz": content("arch-1", 300<<10), // above the small-blob cache
		"README.md":              []byte("# app\n"),
		"empty":                  {},
		"checksums (all).txt":    content("arch-2", 1000),
	}
	for _, name := range []string{"app-linux-amd64.tar.gz", "README.md", "empty", "checksums (all).txt"} {
		fx.mustPut(t, pkgPath(pubOrg, "bundle", "1.1.0", url.PathEscape(name)), files[name])
	}
	fx.mustPut(t, pkgPath(pubOrg, "bundle", "1.0.0", "old"), []byte("old"))
	base := pkgPath(pubOrg, "bundle", "1.1.0", "")
	resp, body := fx.mustStatus(t, http.StatusOK, http.MethodGet, base+"/-/archive.zip", anon(), nil)
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/zip" || cd != `attachment; filename=bundle-1.1.0.zip` {
		t.Errorf("zip: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	checkArchive(t, "zip", unzip(t, body), "bundle", "1.1.0", files)
	resp, body = fx.mustStatus(t, http.StatusOK, http.MethodGet, base+"/-/archive.tar.gz", anon(), nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" {
		t.Errorf("tar.gz: Content-Type %q", ct)
	}
	checkArchive(t, "tar.gz", untgz(t, body), "bundle", "1.1.0", files)
	if resp, body := fx.mustStatus(t, http.StatusOK, http.MethodHead, base+"/-/archive.zip", anon(), nil); len(body) != 0 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("HEAD archive: %d bytes, %q", len(body), resp.Header.Get("Content-Type"))
	}
	// The latest archive redirects to the version's archive.
	if resp, _ := fx.noFollow(t, http.MethodGet, rangePath(pubOrg, "bundle", "", "-/archive.tar.gz"), anon()); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != base+"/-/archive.tar.gz" {
		t.Errorf("latest archive: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := fx.noFollow(t, http.MethodGet, rangePath(pubOrg, "bundle", "<1.1", "-/archive.zip"), anon()); resp.Header.Get("Location") != pkgPath(pubOrg, "bundle", "1.0.0", "-/archive.zip") {
		t.Errorf("range archive: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath(pubOrg, "bundle", "9.9", "-/archive.zip"), anon(), nil)
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, base+"/-/archive.rar", anon(), nil)
	fx.mustStatus(t, http.StatusMethodNotAllowed, http.MethodPut, base+"/-/archive.zip", basic("alice", pw), []byte("x"))
	// A private owner: as a download.
	fx.mustPut(t, pkgPath(privOrg, "bundle", "1.0", "f"), []byte("secret"))
	fx.mustStatus(t, http.StatusUnauthorized, http.MethodGet, pkgPath(privOrg, "bundle", "1.0", "-/archive.zip"), anon(), nil)
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath(privOrg, "bundle", "1.0", "-/archive.zip"), basic("dave", pw), nil)
	_, body = fx.mustStatus(t, http.StatusOK, http.MethodGet, pkgPath(privOrg, "bundle", "1.0", "-/archive.tar.gz"), basic("bob", pw), nil)
	checkArchive(t, "private tar.gz", untgz(t, body), "bundle", "1.0", map[string][]byte{"f": []byte("secret")})

	fx.testArchiveCut(t)
	fx.testGitLabLatest(t)
}

// testArchiveCut checks that an archive whose blob cannot be read once
// the answer has begun is cut off (the client's read fails), never ended
// as a well-formed archive missing a file.
func (fx *fixture) testArchiveCut(t *testing.T) {
	first, second := content("cut-1", 100<<10), content("cut-2", 100<<10) // above the small-blob cache
	fx.mustPut(t, pkgPath("alice", "cut", "1.0", "first"), first)
	fx.mustPut(t, pkgPath("alice", "cut", "1.0", "second"), second)
	if err := fx.env.Blobs.Delete(context.Background(), sha(second)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"-/archive.zip", "-/archive.tar.gz"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fx.url(pkgPath("alice", "cut", "1.0", f)), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			continue // cut before the headers: a failed transfer too
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if err == nil {
			t.Errorf("archive %s with a missing blob: %d, body read in full; want the transfer cut", f, resp.StatusCode)
		}
	}
	// The damaged version goes; nothing else refers to its blobs.
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, pkgPath("alice", "cut", "1.0", ""), basic("alice", pw), nil)
}

// testGitLabLatest covers the GitLab dialect's latest, range and archive
// routes: @latest and @range/{range} where a version goes, @archive.zip
// where a file path goes (names GitLab refuses, so they cannot collide).
func (fx *fixture) testGitLabLatest(t *testing.T) {
	ctx := context.Background()
	svc := fx.env.Service
	p, err := svc.CreateProject(ctx, pubOrg, "glrel", "")
	if err != nil {
		t.Fatal(err)
	}
	tok := header("Bearer " + fx.tok["alice-write"])
	gl := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool", p.ID)
	for _, v := range []string{"1.0.0", "1.5.0", "2.0.0-rc.1"} {
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl+"/"+v+"/bin/tool", tok, []byte("tool "+v))
	}
	// A hidden package (GitLab's status=hidden) takes no part; its own URL answers.
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl+"/1.9.0/bin/tool?status=hidden", tok, []byte("hidden"))
	fx.mustGetBody(t, gl+"/1.9.0/bin/tool", tok, []byte("hidden"))
	for _, c := range []struct{ path, want string }{
		{gl + "/@latest/bin/tool", gl + "/1.5.0/bin/tool"},
		{gl + "/@range/" + url.PathEscape("~1.0") + "/bin/tool", gl + "/1.0.0/bin/tool"},
		{gl + "/@range/" + url.PathEscape(">=2.0.0-rc.0") + "/bin/tool", gl + "/2.0.0-rc.1/bin/tool"},
		{gl + "/@latest/@archive.zip", gl + "/1.5.0/@archive.zip"},
	} {
		resp, body := fx.noFollow(t, http.MethodGet, c.path, tok)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != c.want {
			t.Errorf("GitLab %s: %d %q, want 302 to %q; %s", c.path, resp.StatusCode, resp.Header.Get("Location"), c.want, body)
		}
	}
	fx.mustGetBody(t, gl+"/@range/%5E1/bin/tool", tok, []byte("tool 1.5.0"))
	resp, body := fx.do(t, http.MethodGet, gl+"/@range/%5E3/bin/tool", tok, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `\"^3\"`) {
		t.Errorf("GitLab range matching nothing: %d %s, want 404 naming it", resp.StatusCode, body)
	}
	if resp, body := fx.do(t, http.MethodGet, gl+"/@range/%3E%3D%3E1/bin/tool", tok, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GitLab invalid range: %d %s, want 400", resp.StatusCode, body)
	}
	// Anonymous on a private project's package: GitLab's 401, as a download.
	priv, err := svc.CreateProject(ctx, privOrg, "glsecret", depot.Private)
	if err != nil {
		t.Fatal(err)
	}
	glp := fmt.Sprintf("/api/v4/projects/%d/packages/generic/tool", priv.ID)
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, glp+"/1.0.0/f", tok, []byte("s"))
	direct, _ := fx.do(t, http.MethodGet, glp+"/1.0.0/f", anon(), nil)
	for _, path := range []string{glp + "/@latest/f", glp + "/1.0.0/@archive.zip"} {
		if resp, body := fx.noFollow(t, http.MethodGet, path, anon()); resp.StatusCode != direct.StatusCode || direct.StatusCode != http.StatusUnauthorized {
			t.Errorf("GitLab anonymous %s: %d %s, want %d as a download", path, resp.StatusCode, body, direct.StatusCode)
		}
	}
	_, body = fx.mustStatus(t, http.StatusOK, http.MethodGet, gl+"/1.0.0/@archive.tar.gz", tok, nil)
	checkArchive(t, "GitLab tar.gz", untgz(t, body), "tool", "1.0.0", map[string][]byte{"bin%2Ftool": []byte("tool 1.0.0")})
}
