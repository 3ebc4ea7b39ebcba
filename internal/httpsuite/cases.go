package httpsuite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func (fx *fixture) testUploadDownload(t *testing.T) {
	body := content("upload-download", 300<<10)
	p := pkgPath("alice", "app", "1.0.0", "app.tar.gz")
	fx.mustPut(t, p, body)
	fx.mustGetBody(t, p, anon(), body)
	// Several files per version.
	other := content("second file", 1000)
	fx.mustPut(t, pkgPath("alice", "app", "1.0.0", "app.zip"), other)
	fx.mustGetBody(t, pkgPath("alice", "app", "1.0.0", "app.zip"), anon(), other)
	fx.mustGetBody(t, p, anon(), body)
	// Names are matched case-insensitively, as Gitea does.
	fx.mustGetBody(t, pkgPath("ALICE", "APP", "1.0.0", "APP.TAR.GZ"), anon(), body)
	// An empty file is a file.
	fx.mustPut(t, pkgPath("alice", "app", "1.0.0", "empty"), []byte{})
	fx.mustGetBody(t, pkgPath("alice", "app", "1.0.0", "empty"), anon(), []byte{})
	// Names using every character Gitea allows.
	odd := pkgPath("alice", "a-b_c.d+e", "v1.0+build%20x", url.PathEscape("f =:;()[]{}~!@#$%^&.bin"))
	fx.mustPut(t, odd, body[:100])
	fx.mustGetBody(t, odd, anon(), body[:100])
}

func (fx *fixture) testDownloadHeaders(t *testing.T) {
	body := content("headers", 5000)
	p := pkgPath("alice", "hdr", "2.0", "data.bin")
	fx.mustPut(t, p, body)
	resp, _ := fx.mustStatus(t, http.StatusOK, http.MethodGet, p, anon(), nil)
	h := resp.Header
	for k, want := range map[string]string{
		"Content-Type":      "application/octet-stream",
		"Content-Length":    fmt.Sprint(len(body)),
		"X-Checksum-SHA256": sha(body),
		"ETag":              `"` + sha(body) + `"`,
		"Accept-Ranges":     "bytes",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	mustContain(t, "Content-Disposition", h.Get("Content-Disposition"), "data.bin")
	mustContain(t, "Content-Disposition", h.Get("Content-Disposition"), "attachment")
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil || time.Since(lm) > time.Hour || time.Until(lm) > time.Minute {
		t.Errorf("Last-Modified = %q (%v), want about now", h.Get("Last-Modified"), err)
	}

	t.Run("Range", func(t *testing.T) {
		resp, got := fx.mustStatus(t, http.StatusPartialContent, http.MethodGet, p, anon(), nil, "Range", "bytes=100-199")
		if !bytes.Equal(got, body[100:200]) {
			t.Errorf("range body differs")
		}
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 100-199/%d", len(body)) {
			t.Errorf("Content-Range = %q", cr)
		}
		_, got = fx.mustStatus(t, http.StatusPartialContent, http.MethodGet, p, anon(), nil, "Range", "bytes=-10")
		if !bytes.Equal(got, body[len(body)-10:]) {
			t.Errorf("suffix range body differs")
		}
		fx.mustStatus(t, http.StatusRequestedRangeNotSatisfiable, http.MethodGet, p, anon(), nil, "Range", "bytes=999999-")
		// A zero-length suffix is unsatisfiable (RFC 9110; net/http alone
		// answers 206 "bytes N-(N-1)/N", found by FuzzServeFile).
		resp, _ = fx.mustStatus(t, http.StatusRequestedRangeNotSatisfiable, http.MethodGet, p, anon(), nil, "Range", "bytes=-0")
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", len(body)) {
			t.Errorf("416 Content-Range = %q", cr)
		}
		resp, got = fx.mustStatus(t, http.StatusPartialContent, http.MethodGet, p, anon(), nil, "Range", "bytes=-0,0-9")
		if !bytes.Equal(got, body[:10]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-9/%d", len(body)) {
			t.Errorf("bytes=-0,0-9: %q, Content-Range %q", got, resp.Header.Get("Content-Range"))
		}
	})
	t.Run("Conditional", func(t *testing.T) {
		fx.mustStatus(t, http.StatusNotModified, http.MethodGet, p, anon(), nil, "If-None-Match", `"`+sha(body)+`"`)
		fx.mustStatus(t, http.StatusOK, http.MethodGet, p, anon(), nil, "If-None-Match", `"other"`)
		fx.mustStatus(t, http.StatusNotModified, http.MethodGet, p, anon(), nil, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, got := fx.mustStatus(t, http.StatusOK, http.MethodHead, p, anon(), nil)
		if len(got) != 0 || resp.ContentLength != int64(len(body)) || resp.Header.Get("X-Checksum-SHA256") != sha(body) {
			t.Errorf("HEAD: %d body bytes, Content-Length %d, checksum %q", len(got), resp.ContentLength, resp.Header.Get("X-Checksum-SHA256"))
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodHead, pkgPath("alice", "hdr", "2.0", "nope.bin"), anon(), nil)
	})
}

func (fx *fixture) testValidation(t *testing.T) {
	a := basic("alice", fx.tok["alice-write"])
	for _, c := range []struct{ name, pkg, version, file string }{
		{"package with slash", "a%2Fb", "1.0", "f"},
		{"package dot dot", "..", "1.0", "f"},
		{"package single dash", "-", "1.0", "f"},
		{"package non-ascii", "caf%C3%A9", "1.0", "f"},
		{"package space", "a%20b", "1.0", "f"},
		{"version leading space", "p", "%201.0", "f"},
		{"version trailing tab", "p", "1.0%09", "f"},
		{"version slash", "p", "1%2F0", "f"},
		{"version control char", "p", "1%000", "f"},
		{"version escaped dot dot", "p", "%2E%2E", "f"},
		{"version escaped dot", "p", "%2E", "f"},
		{"file dot", "p", "1.0", "."},
		{"file dot dot", "p", "1.0", ".."},
		{"file escaped dot dot", "p", "1.0", "%2E%2E"},
		{"file slash", "p", "1.0", "a%2Fb"},
		{"file backslash", "p", "1.0", "a%5Cb"},
		{"file leading space", "p", "1.0", "%20f"},
		{"file trailing space", "p", "1.0", "f%20"},
		{"file quote", "p", "1.0", "a%22b"},
		{"file non-ascii", "p", "1.0", "%C3%A9"},
		{"bad escape", "p", "1.0", "a%zz"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := pkgPath("alice", c.pkg, c.version, c.file)
			// A raw request keeps the path exactly as written (Go's client
			// would otherwise normalise ".." away).
			status, body := fx.raw(t, "PUT "+p+" HTTP/1.1\r\nHost: x\r\nAuthorization: "+a2h(a)+"\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
			if status != http.StatusBadRequest {
				t.Fatalf("PUT %s: status %d, want 400; body %q", p, status, body)
			}
		})
	}
	fx.mustNoTempUploads(t)
}

// a2h renders an auth as an Authorization header value.
func a2h(a auth) string {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	a(r)
	return r.Header.Get("Authorization")
}

// raw sends a raw request on a new connection and returns the status and
// body of the first final response. Any 1xx response is an error: callers
// use raw for requests that must be answered without reading the body.
func (fx *fixture) raw(t *testing.T, request string) (int, string) {
	t.Helper()
	u, _ := url.Parse(fx.env.BaseURL)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (fx *fixture) testConflict(t *testing.T) {
	p := pkgPath("alice", "dup", "1.0", "file.bin")
	first := content("first", 1000)
	fx.mustPut(t, p, first)
	fx.mustStatus(t, http.StatusConflict, http.MethodPut, p, basic("alice", pw), content("second", 1000))
	fx.mustStatus(t, http.StatusConflict, http.MethodPut, pkgPath("alice", "DUP", "1.0", "FILE.BIN"), basic("alice", pw), content("third", 10))
	// The stored file is untouched.
	fx.mustGetBody(t, p, anon(), first)
}

func (fx *fixture) testAnyContentType(t *testing.T) {
	// curl --data-binary sends application/x-www-form-urlencoded; the body
	// must be stored raw, not parsed as a form (Gitea answers 500 here).
	// multipart/form-data is a form upload (testMultipart); a malformed
	// Content-Type is not one.
	for i, ct := range []string{"application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data; boundary=\"unclosed"} {
		body := []byte(fmt.Sprintf("a=1&b=2--xyz\r\n{\"k\":%d}", i))
		p := pkgPath("alice", "ctype", "1.0", fmt.Sprintf("f%d", i))
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, basic("alice", pw), body, "Content-Type", ct)
		fx.mustGetBody(t, p, anon(), body)
	}
}

func (fx *fixture) testAuthSchemes(t *testing.T) {
	tok := fx.tok["alice-write"]
	for i, c := range []struct {
		name string
		a    auth
		want int
	}{
		{"basic password", basic("alice", pw), 201},
		{"basic token as password", basic("alice", tok), 201},
		{"basic token with any user name", basic("whoever", tok), 201},
		{"basic token as user name", basic(tok, ""), 201},
		{"basic token as user name x-oauth-basic", basic(tok, "x-oauth-basic"), 201},
		{"token header", header("token " + tok), 201},
		{"bearer header", header("Bearer " + tok), 201},
		{"bearer lower case", header("bearer " + tok), 201},
		{"wrong password", basic("alice", "wrong-password"), 401},
		{"unknown user", basic("nobody", pw), 401},
		{"wrong token", header("token " + strings.Repeat("0", 40)), 401},
		{"malformed token", header("token abc"), 401},
		{"malformed basic", header("Basic !!!notbase64"), 401},
		{"basic without colon", header("Basic YWxpY2U="), 401},
		{"unknown scheme", header("Digest abc"), 401},
		{"empty bearer", header("Bearer "), 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := fx.do(t, http.MethodPut, pkgPath("alice", "schemes", "1.0", fmt.Sprintf("f%d", i)), c.a, []byte("x"))
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, c.want, body)
			}
			if c.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func (fx *fixture) testAuthMatrix(t *testing.T) {
	tk := func(name string) auth { return basic("x", fx.tok[name]) }
	// Seed one file in each owner.
	for _, owner := range []string{"alice", pubOrg, privOrg} {
		fx.mustStatus(t, 201, http.MethodPut, pkgPath(owner, "m", "1", "seed"), basic("root", pw), []byte(owner))
	}
	cases := []struct {
		who              string
		a                auth
		owner            string
		read, write, del int
	}{
		// A user's own namespace (public).
		{"anonymous", anon(), "alice", 200, 401, 401},
		{"owner password", basic("alice", pw), "alice", 200, 201, 204},
		{"owner write token", tk("alice-write"), "alice", 200, 201, 204},
		{"owner read token", tk("alice-read"), "alice", 200, 403, 403},
		{"owner token without package scope", tk("alice-user"), "alice", 403, 403, 403},
		{"other user", basic("dave", pw), "alice", 200, 403, 403},
		{"other user token", tk("dave-write"), "alice", 200, 403, 403},
		{"site admin", basic("root", pw), "alice", 200, 201, 204},
		// A public organization.
		{"anonymous", anon(), pubOrg, 200, 401, 401},
		{"read member", basic("bob", pw), pubOrg, 200, 403, 403},
		{"write member", basic("carol", pw), pubOrg, 200, 201, 204},
		{"write member token", tk("carol-write"), pubOrg, 200, 201, 204},
		{"non-member", basic("dave", pw), pubOrg, 200, 403, 403},
		{"org admin", basic("alice", pw), pubOrg, 200, 201, 204},
		// A private organization: invisible to non-members; anonymous
		// callers are challenged (401), as for a missing owner.
		{"anonymous", anon(), privOrg, 401, 401, 401},
		{"non-member", basic("dave", pw), privOrg, 404, 404, 404},
		{"non-member token", tk("dave-write"), privOrg, 404, 404, 404},
		{"read member", basic("bob", pw), privOrg, 200, 403, 403},
		{"read member token", tk("bob-read"), privOrg, 200, 403, 403},
		{"write member", basic("carol", pw), privOrg, 200, 201, 204},
		{"org admin read token", tk("alice-read"), privOrg, 200, 403, 403},
		{"org admin", basic("alice", pw), privOrg, 200, 201, 204},
		{"site admin", basic("root", pw), privOrg, 200, 201, 204},
	}
	for i, c := range cases {
		t.Run(c.owner+"/"+c.who, func(t *testing.T) {
			check := func(method, path string, body []byte, want int) {
				t.Helper()
				resp, got := fx.do(t, method, path, c.a, body)
				if resp.StatusCode != want {
					t.Errorf("%s %s: status %d, want %d; body %q", method, path, resp.StatusCode, want, got)
				}
				if want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: 401 without WWW-Authenticate", method, path)
				}
			}
			check(http.MethodGet, pkgPath(c.owner, "m", "1", "seed"), nil, c.read)
			file := pkgPath(c.owner, "m", "1", fmt.Sprintf("w%d", i))
			check(http.MethodPut, file, []byte("w"), c.write)
			// Deletion target: created by the admin so every case has one.
			target := pkgPath(c.owner, "m", "1", fmt.Sprintf("d%d", i))
			fx.mustStatus(t, 201, http.MethodPut, target, basic("root", pw), []byte("d"))
			check(http.MethodDelete, target, nil, c.del)
			wantLeft := http.StatusOK
			if c.del == 204 {
				wantLeft = http.StatusNotFound
			}
			fx.mustStatus(t, wantLeft, http.MethodGet, target, basic("root", pw), nil)
		})
	}
	// A missing owner looks exactly like a private one: to anonymous
	// callers the same 401 challenge (status, headers and body), to
	// signed-in outsiders 404.
	missResp, missBody := fx.mustStatus(t, 401, http.MethodGet, pkgPath("nosuchowner", "m", "1", "seed"), anon(), nil)
	privResp, privBody := fx.mustStatus(t, 401, http.MethodGet, pkgPath(privOrg, "m", "1", "seed"), anon(), nil)
	if !bytes.Equal(missBody, privBody) || missResp.Header.Get("WWW-Authenticate") != privResp.Header.Get("WWW-Authenticate") ||
		missResp.Header.Get("Content-Type") != privResp.Header.Get("Content-Type") {
		t.Errorf("anonymous: a missing owner answers %q %v, a private one %q %v", missBody, missResp.Header, privBody, privResp.Header)
	}
	fx.mustStatus(t, 401, http.MethodPut, pkgPath("nosuchowner", "m", "1", "seed"), anon(), []byte("x"))
	fx.mustStatus(t, 401, http.MethodDelete, pkgPath("nosuchowner", "m", "1", ""), anon(), nil)
	fx.mustStatus(t, 404, http.MethodGet, pkgPath("nosuchowner", "m", "1", "seed"), basic("dave", pw), nil)
	fx.mustStatus(t, 404, http.MethodPut, pkgPath("nosuchowner", "m", "1", "seed"), basic("alice", pw), []byte("x"))
	// A client that sends credentials only when challenged (wget, many
	// libraries) reaches the private package.
	req, _ := http.NewRequest(http.MethodGet, fx.url(pkgPath(privOrg, "m", "1", "seed")), nil)
	resp, err := (&http.Client{Transport: challengeRetry{user: "bob", pass: pw}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != privOrg {
		t.Errorf("challenged client: %d %q, want 200 %q", resp.StatusCode, got, privOrg)
	}
}

// challengeRetry is a client transport that sends Basic credentials only
// after a 401 challenge, as wget and many HTTP libraries do.
type challengeRetry struct{ user, pass string }

func (c challengeRetry) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") || r.Body != nil {
		return resp, err
	}
	resp.Body.Close()
	again := r.Clone(r.Context())
	again.SetBasicAuth(c.user, c.pass)
	return http.DefaultTransport.RoundTrip(again)
}

func (fx *fixture) testDelete(t *testing.T) {
	a := basic("alice", pw)
	v1 := func(f string) string { return pkgPath("alice", "del", "1.0", f) }
	fx.mustPut(t, v1("a"), []byte("aaa"))
	fx.mustPut(t, v1("b"), []byte("bbb"))
	fx.mustStatus(t, 204, http.MethodDelete, v1("a"), a, nil)
	fx.mustStatus(t, 404, http.MethodGet, v1("a"), a, nil)
	fx.mustGetBody(t, v1("b"), a, []byte("bbb"))
	fx.mustStatus(t, 404, http.MethodDelete, v1("a"), a, nil)
	// The version goes with its last file.
	fx.mustStatus(t, 204, http.MethodDelete, v1("b"), a, nil)
	fx.mustStatus(t, 404, http.MethodDelete, pkgPath("alice", "del", "1.0", ""), a, nil)
	// Deleting a version deletes all its files and nothing else.
	fx.mustPut(t, v1("c"), []byte("ccc"))
	fx.mustPut(t, v1("d"), []byte("ddd"))
	fx.mustPut(t, pkgPath("alice", "del", "2.0", "c"), []byte("ccc2"))
	fx.mustStatus(t, 204, http.MethodDelete, pkgPath("alice", "del", "1.0", ""), a, nil)
	fx.mustStatus(t, 404, http.MethodGet, v1("c"), a, nil)
	fx.mustStatus(t, 404, http.MethodGet, v1("d"), a, nil)
	fx.mustGetBody(t, pkgPath("alice", "del", "2.0", "c"), a, []byte("ccc2"))
	fx.mustStatus(t, 404, http.MethodDelete, pkgPath("alice", "del", "1.0", ""), a, nil)
	// A deleted name can be uploaded again.
	fx.mustPut(t, v1("c"), []byte("new"))
	fx.mustGetBody(t, v1("c"), a, []byte("new"))
}

func (fx *fixture) testNotFound(t *testing.T) {
	fx.mustPut(t, pkgPath("alice", "nf", "1.0", "there"), []byte("x"))
	for _, p := range []string{
		pkgPath("alice", "nf", "1.0", "missing"),
		pkgPath("alice", "nf", "9.9", "there"),
		pkgPath("alice", "nope", "1.0", "there"),
		"/api/packages/alice/npm/nf/1.0/there",
		"/api/packages/alice/generic/nf",
		"/api/packages/alice/generic/nf/1.0/there/extra",
		"/api/packages/alice/generic/nf//there",
	} {
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, anon(), nil)
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath("ghost-owner", "nf", "1.0", "there"), basic("alice", pw), nil)
	fx.mustStatus(t, http.StatusMethodNotAllowed, http.MethodPost, pkgPath("alice", "nf", "1.0", "there"), anon(), []byte("x"))
	fx.mustStatus(t, http.StatusMethodNotAllowed, http.MethodGet, pkgPath("alice", "nf", "1.0", ""), anon(), nil)
}

func (fx *fixture) testTooLarge(t *testing.T) {
	limit := fx.env.MaxUploadSize
	a := basic("alice", pw)
	// Declared too large: refused before the body is read.
	status, body := fx.raw(t, fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		pkgPath("alice", "big", "1.0", "declared"), a2h(a), 5<<30))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared 5 GiB: status %d, want 413; body %q", status, body)
	}
	// Chunked (length unknown) and too large: refused while streaming.
	r := io.MultiReader(bytes.NewReader(content("big", int(limit))), strings.NewReader("one byte too many"))
	fx.mustRefuseTooLarge(t, pkgPath("alice", "big", "1.0", "chunked"), a, r)
	// Exactly the limit is accepted.
	exact := content("exact", int(limit))
	fx.mustPut(t, pkgPath("alice", "big", "1.0", "exact"), exact)
	fx.mustGetBody(t, pkgPath("alice", "big", "1.0", "exact"), a, exact)
	fx.mustNoTempUploads(t)
}

// mustRefuseTooLarge uploads body to path, which must be refused as too
// large (413, or the connection closed while the client was still sending,
// also a refusal), leaving nothing stored.
func (fx *fixture) mustRefuseTooLarge(t *testing.T, path string, a auth, body io.Reader, hdr ...string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fx.url(path), body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	a(req)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("PUT %s over the limit: status %d, want 413", path, resp.StatusCode)
		}
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, path, a, nil)
}

// testDecidedBeforeBody sends requests announcing a 5 GiB body with
// "Expect: 100-continue" and checks every refusal comes at once, without
// "100 Continue" (raw would fail on it) and without the body.
func (fx *fixture) testDecidedBeforeBody(t *testing.T) {
	fx.mustPut(t, pkgPath("alice", "early", "1.0", "exists"), []byte("x"))
	good := a2h(basic("alice", pw))
	for _, c := range []struct {
		name, path, authz string
		want              int
	}{
		{"anonymous", pkgPath("alice", "early", "1.0", "f"), "", 401},
		{"wrong password", pkgPath("alice", "early", "1.0", "f"), a2h(basic("alice", "nope-nope")), 401},
		{"invalid name", pkgPath("alice", "early", "1.0", "%2E%2E"), good, 400},
		{"no access", pkgPath("alice", "early", "1.0", "f"), a2h(basic("dave", pw)), 403},
		{"invisible owner", pkgPath(privOrg, "early", "1.0", "f"), a2h(basic("dave", pw)), 404},
		{"duplicate", pkgPath("alice", "early", "1.0", "exists"), good, 409},
		{"too large", pkgPath("alice", "early", "1.0", "f"), good, 413},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := "PUT " + c.path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5368709120\r\nExpect: 100-continue\r\n"
			if c.authz != "" {
				req += "Authorization: " + c.authz + "\r\n"
			}
			status, body := fx.raw(t, req+"\r\n")
			if status != c.want {
				t.Fatalf("status %d, want %d; body %q", status, c.want, body)
			}
		})
	}
}

func (fx *fixture) testDedup(t *testing.T) {
	body := content("dedup", 70<<10)
	digest := sha(body)
	a := basic("alice", pw)
	paths := []string{
		pkgPath("alice", "dd", "1.0", "a.bin"),
		pkgPath("alice", "dd", "2.0", "b.bin"),
		pkgPath(pubOrg, "other", "1.0", "c.bin"),
	}
	for _, p := range paths {
		fx.mustStatus(t, 201, http.MethodPut, p, a, body)
	}
	if n := blobCount(t, fx.env.Blobs, digest); n != 1 {
		t.Fatalf("%d blobs with digest %s after 3 uploads of the same bytes, want 1", n, digest)
	}
	for i, p := range paths {
		fx.mustGetBody(t, p, a, body)
		fx.mustStatus(t, 204, http.MethodDelete, p, a, nil)
		want := 1
		if i == len(paths)-1 {
			want = 0
		}
		if n := blobCount(t, fx.env.Blobs, digest); n != want {
			t.Fatalf("after deleting %d of %d files: %d blobs, want %d", i+1, len(paths), n, want)
		}
	}
	// Stored again after its last reference went.
	fx.mustPut(t, paths[0], body)
	fx.mustGetBody(t, paths[0], a, body)
}

func (fx *fixture) testConcurrentSameFile(t *testing.T) {
	const n = 20
	p := pkgPath("alice", "race", "1.0", "same.bin")
	bodies := make([][]byte, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		bodies[i] = content(fmt.Sprint("race", i), 64<<10)
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPut, fx.url(p), bytes.NewReader(bodies[i]))
			req.SetBasicAuth("alice", fx.tok["alice-write"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	winner, created := -1, 0
	for i, s := range statuses {
		switch s {
		case 201:
			created++
			winner = i
		case 409:
		default:
			t.Errorf("upload %d: status %d, want 201 or 409", i, s)
		}
	}
	if created != 1 {
		t.Fatalf("%d uploads got 201, want exactly 1 (statuses %v)", created, statuses)
	}
	fx.mustGetBody(t, p, anon(), bodies[winner])
	fx.mustNoTempUploads(t)
}

func (fx *fixture) testConcurrentNewVersion(t *testing.T) {
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			body := content(fmt.Sprint("nv", i), 10<<10)
			req, _ := http.NewRequest(http.MethodPut, fx.url(pkgPath("alice", "newver", "3.0", fmt.Sprintf("f%02d", i))), bytes.NewReader(body))
			req.SetBasicAuth("alice", fx.tok["alice-write"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Fatalf("upload %d: status %d, want 201 (all: %v)", i, s, statuses)
		}
	}
	for i := range n {
		fx.mustGetBody(t, pkgPath("alice", "newver", "3.0", fmt.Sprintf("f%02d", i)), anon(), content(fmt.Sprint("nv", i), 10<<10))
	}
	// One version holds them all: deleting it removes every file.
	fx.mustStatus(t, 204, http.MethodDelete, pkgPath("alice", "newver", "3.0", ""), basic("alice", pw), nil)
	for i := range n {
		fx.mustStatus(t, 404, http.MethodGet, pkgPath("alice", "newver", "3.0", fmt.Sprintf("f%02d", i)), anon(), nil)
	}
}

func (fx *fixture) testInterruptedUpload(t *testing.T) {
	u, _ := url.Parse(fx.env.BaseURL)
	p := pkgPath("alice", "cut", "1.0", "half.bin")
	const total = 512 << 10
	for _, cut := range []int{0, 1, 100 << 10} {
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n", p, a2h(basic("alice", pw)), total)
		conn.Write(content("cut", cut))
		conn.Close()
	}
	fx.mustNoTempUploads(t)
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, anon(), nil)
	// The same name uploads fine afterwards.
	body := content("whole", total)
	fx.mustPut(t, p, body)
	fx.mustGetBody(t, p, anon(), body)
}

func (fx *fixture) testErrorFormats(t *testing.T) {
	p := pkgPath("alice", "fmt", "1.0", "missing")
	resp, body := fx.mustStatus(t, 404, http.MethodGet, p, anon(), nil)
	mustContain(t, "plain Content-Type", resp.Header.Get("Content-Type"), "text/plain")
	if len(bytes.TrimSpace(body)) == 0 {
		t.Errorf("empty error message")
	}
	resp, body = fx.mustStatus(t, 404, http.MethodGet, p, anon(), nil, "Accept", "application/json")
	mustContain(t, "JSON Content-Type", resp.Header.Get("Content-Type"), "application/json")
	var msg struct{ Message string }
	if err := json.Unmarshal(body, &msg); err != nil || msg.Message == "" {
		t.Errorf("JSON error body %q: %v", body, err)
	}
	// Internal details never reach the client: an unknown API route is JSON
	// too (other paths belong to the web UI).
	resp, _ = fx.mustStatus(t, 404, http.MethodGet, "/api/no/such/route", anon(), nil)
	mustContain(t, "Content-Type", resp.Header.Get("Content-Type"), "application/json")
}
