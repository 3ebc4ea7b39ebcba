package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/password"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/depot-registry/depot/internal/web"
	"golang.org/x/crypto/bcrypt"
)

const pw = "correct-horse"

type env struct {
	srv *httptest.Server
	svc *depot.Service
}

func newEnv(t *testing.T, opts web.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, nil)
}

// newEnvWith is newEnv with service options (a clock).
func newEnvWith(t *testing.T, opts web.Options, svcOpts *depot.Options) *env {
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
	svc := depot.NewService(store, blobs, hasher, svcOpts)
	srv := httptest.NewServer(web.New(svc, slog.New(slog.DiscardHandler), opts))
	t.Cleanup(srv.Close)
	for _, u := range []struct {
		name  string
		admin bool
	}{{"alice", false}, {"bob", false}, {"root", true}} {
		if _, err := svc.CreateUser(ctx, depot.NewUser{Username: u.name, Email: u.name + "@example.com", Password: pw, Admin: u.admin}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateOrg(ctx, "secretco", "alice", depot.Private); err != nil {
		t.Fatal(err)
	}
	alice := &depot.Actor{User: mustUser(t, svc, "alice")}
	for _, ref := range []depot.FileRef{
		{Owner: "alice", Type: depot.TypeGeneric, Package: "tool", Version: "1.0.0", File: "tool.bin"},
		{Owner: "secretco", Type: depot.TypeGeneric, Package: "hidden", Version: "1.0.0", File: "h.bin"},
	} {
		if _, err := svc.UploadFile(ctx, alice, ref, 5, strings.NewReader("bytes")); err != nil {
			t.Fatal(err)
		}
	}
	return &env{srv: srv, svc: svc}
}

func mustUser(t *testing.T, svc *depot.Service, name string) *depot.User {
	t.Helper()
	u, err := svc.User(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// client is a browser: cookies, no redirects followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf returns the CSRF token of the forms on path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	_, body := c.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (c *client) signIn(user string) {
	c.t.Helper()
	resp, body := c.post("/-/signin", url.Values{"csrf": {c.csrf("/-/signin")}, "username": {user}, "password": {pw}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: %s\n%s", user, resp.Status, body)
	}
}

func TestPagesAndPrivacy(t *testing.T) {
	e := newEnv(t, web.Options{})
	anon := e.client(t)
	bob := e.client(t)
	bob.signIn("bob")
	alice := e.client(t)
	alice.signIn("alice")
	for _, tc := range []struct {
		who    string
		c      *client
		path   string
		status int
		want   string
	}{
		{"anonymous", anon, "/", 200, "tool"},
		{"anonymous", anon, "/alice", 200, "tool"},
		{"anonymous", anon, "/alice/-/packages/generic/tool", 200, "1.0.0"},
		{"anonymous", anon, "/alice/-/packages/generic/tool/1.0.0", 200, "/api/packages/alice/generic/tool/1.0.0/tool.bin"},
		{"anonymous", anon, "/alice/-/packages/generic/tool/1.0.0/files/tool.bin", 200, "bytes"},
		{"anonymous", anon, "/secretco", 404, "Page not found"},
		{"anonymous", anon, "/secretco/-/packages/generic/hidden", 404, "Page not found"},
		{"anonymous", anon, "/secretco/-/packages/generic/hidden/1.0.0", 404, "Page not found"},
		{"anonymous", anon, "/secretco/-/packages/generic/hidden/1.0.0/files/h.bin", 404, "Page not found"},
		{"anonymous", anon, "/nobody", 404, "Page not found"},
		{"anonymous", anon, "/alice/-/packages/generic/missing", 404, "Page not found"},
		{"bob", bob, "/secretco", 404, "Page not found"},
		{"bob", bob, "/secretco/-/packages/generic/hidden/1.0.0", 404, "Page not found"},
		{"bob", bob, "/secretco/-/members", 404, "Page not found"},
		{"bob", bob, "/-/admin", 403, "Not allowed"},
		{"alice", alice, "/secretco", 200, "hidden"},
		{"alice", alice, "/secretco/-/packages/generic/hidden/1.0.0", 200, "h.bin"},
		{"alice", alice, "/secretco/-/members", 200, "alice"},
		{"alice", alice, "/?q=hidden", 200, "hidden"},
	} {
		resp, body := tc.c.get(tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s GET %s: %s, want %d with %q", tc.who, tc.path, resp.Status, tc.status, tc.want)
		}
		if strings.Contains(body, "goroutine") || strings.Contains(body, "panic") {
			t.Errorf("%s GET %s shows internals", tc.who, tc.path)
		}
	}
	for _, c := range []*client{anon, bob} {
		if _, body := c.get("/?q=hidden"); strings.Contains(body, "hidden") && strings.Contains(body, "secretco") {
			t.Errorf("Explore shows the private package to someone outside secretco")
		}
	}
	resp, _ := anon.get("/-/settings/tokens")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/-/signin?next=") {
		t.Errorf("anonymous tokens page: %s to %q, want a redirect to sign in", resp.Status, resp.Header.Get("Location"))
	}
	// Only writers see delete buttons.
	if _, body := bob.get("/alice/-/packages/generic/tool/1.0.0"); strings.Contains(body, "Delete version") {
		t.Error("bob sees a delete button on alice's package")
	}
	if _, body := alice.get("/alice/-/packages/generic/tool/1.0.0"); !strings.Contains(body, "Delete version") {
		t.Error("alice sees no delete button on her package")
	}
}

func TestGitLabCommandForLinkedPackage(t *testing.T) {
	e := newEnv(t, web.Options{})
	c := e.client(t)
	if _, body := c.get("/alice/-/packages/generic/tool/1.0.0"); strings.Contains(body, "/api/v4/") {
		t.Error("an unlinked package shows a GitLab command")
	}
	ctx := context.Background()
	p, err := e.svc.CreateProject(ctx, "alice", "tool-repo", "")
	if err != nil {
		t.Fatal(err)
	}
	alice := &depot.Actor{User: mustUser(t, e.svc, "alice")}
	if err := e.svc.LinkPackage(ctx, alice, "alice", depot.TypeGeneric, "tool", "tool-repo"); err != nil {
		t.Fatal(err)
	}
	want := "/api/v4/projects/" + strconv.FormatInt(p.ID, 10) + "/packages/generic/tool/1.0.0/tool.bin"
	if _, body := c.get("/alice/-/packages/generic/tool/1.0.0"); !strings.Contains(body, want) || !strings.Contains(body, "PRIVATE-TOKEN: &lt;TOKEN&gt;") {
		t.Errorf("the linked package's page lacks the GitLab command for %s", want)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, web.Options{})
	resp, _ := e.client(t).get("/")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("no X-Frame-Options: DENY")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, web.Options{})
	c := e.client(t)
	c.signIn("alice")
	token := c.csrf("/-/settings/tokens")
	for _, tc := range []struct {
		name string
		csrf string
	}{{"missing", ""}, {"wrong", strings.Repeat("0", 64)}, {"sign-in form's token", "x" + token[1:]}} {
		resp, body := c.post("/alice/-/packages/generic/tool/1.0.0/delete", url.Values{"csrf": {tc.csrf}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
			t.Errorf("%s token: %s, want 403 page", tc.name, resp.Status)
		}
	}
	if _, body := c.get("/alice/-/packages/generic/tool/1.0.0"); !strings.Contains(body, "tool.bin") {
		t.Fatal("a refused delete deleted the version")
	}
	// A cross-site request is refused even with the token.
	req, _ := http.NewRequest(http.MethodPost, c.base+"/alice/-/packages/generic/tool/1.0.0/delete", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := c.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %s, want 403", resp.Status)
	}
	// Sign-in needs the token of its form too.
	anon := e.client(t)
	resp, _ := anon.post("/-/signin", url.Values{"username": {"alice"}, "password": {pw}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign in without CSRF token: %s, want 403", resp.Status)
	}
	// With the right token the delete goes through.
	resp, _ = c.post("/alice/-/packages/generic/tool/1.0.0/delete", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete with the token: %s", resp.Status)
	}
	if resp, _ := c.get("/alice/-/packages/generic/tool/1.0.0"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted version answers %s", resp.Status)
	}
}

func TestSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       web.Options
		header     string
		wantSecure bool
	}{
		{"plain HTTP", web.Options{}, "", false},
		{"behind an HTTPS proxy", web.Options{}, "https", true},
		{"https base URL", web.Options{BaseURL: "https://depot.example.com"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			c := e.client(t)
			token := c.csrf("/-/signin")
			req, _ := http.NewRequest(http.MethodPost, c.base+"/-/signin", strings.NewReader(url.Values{"csrf": {token}, "username": {"alice"}, "password": {pw}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.header != "" {
				req.Header.Set("X-Forwarded-Proto", tc.header)
			}
			resp, _ := c.do(req)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in: %s", resp.Status)
			}
			var sess *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == "depot_session" {
					sess = ck
				}
			}
			if sess == nil {
				t.Fatal("no session cookie")
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure != tc.wantSecure || sess.Path != "/" {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Secure=%v Path=%q; want HttpOnly, Lax, Secure=%v, /", sess.HttpOnly, sess.SameSite, sess.Secure, sess.Path, tc.wantSecure)
			}
			if sess.MaxAge <= 0 || time.Duration(sess.MaxAge)*time.Second > depot.SessionLifetime {
				t.Errorf("cookie MaxAge %d", sess.MaxAge)
			}
		})
	}
}

func TestSignOutEndsSession(t *testing.T) {
	e := newEnv(t, web.Options{})
	c := e.client(t)
	c.signIn("alice")
	u, _ := url.Parse(c.base)
	var secret string
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "depot_session" {
			secret = ck.Value
		}
	}
	resp, _ := c.post("/-/signout", url.Values{"csrf": {c.csrf("/")}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %s", resp.Status)
	}
	// The old cookie, replayed, no longer works: the session is gone from
	// the store, not only from the browser.
	replay := e.client(t)
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "depot_session", Value: secret, Path: "/"}})
	if resp, _ := replay.get("/secretco"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("replayed session after sign out: %s, want 404", resp.Status)
	}
}

func TestSignInRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim := depot.NewSignInLimiter(func() time.Time { return now })
	e := newEnv(t, web.Options{Limiter: lim})
	c := e.client(t)
	token := c.csrf("/-/signin")
	try := func(password string) int {
		resp, _ := c.post("/-/signin", url.Values{"csrf": {token}, "username": {"alice"}, "password": {password}})
		return resp.StatusCode
	}
	for i := range depot.SignInFailsPerUser {
		if got := try("wrong-password"); got != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, got)
		}
	}
	if got := try(pw); got != http.StatusTooManyRequests {
		t.Fatalf("attempt over the limit with the right password: %d, want 429", got)
	}
	now = now.Add(depot.SignInWindow)
	if got := try(pw); got != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want 303", got)
	}
}

func TestTokensPage(t *testing.T) {
	e := newEnv(t, web.Options{})
	c := e.client(t)
	c.signIn("alice")
	token := c.csrf("/-/settings/tokens")
	resp, body := c.post("/-/settings/tokens", url.Values{"csrf": {token}, "name": {"ci"}, "scope": {"write:package"}, "expiry": {"7d"}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %s", resp.Status)
	}
	m := regexp.MustCompile(`<pre id="new-token">([0-9a-f]{40})</pre>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the new token is not shown")
	}
	a, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: m[1]})
	if err != nil || a.User.Name != "alice" || !a.Scopes.Has(depot.ScopeWritePackage) {
		t.Fatalf("the shown token authenticates as %v, %v", a, err)
	}
	if _, body := c.get("/-/settings/tokens"); strings.Contains(body, m[1]) || !strings.Contains(body, "ci") {
		t.Error("the tokens list shows the secret again, or not the token")
	}
	ts, _ := e.svc.ListTokens(context.Background(), "alice")
	if len(ts) != 1 || ts[0].ExpiresAt == nil {
		t.Fatalf("tokens %v, want one with an expiry", ts)
	}
	resp, _ = c.post("/-/settings/tokens/"+strconv.FormatInt(ts[0].ID, 10)+"/revoke", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", resp.Status)
	}
	if _, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: m[1]}); err == nil {
		t.Error("a revoked token still authenticates")
	}
	resp, _ = c.post("/-/settings/tokens", url.Values{"csrf": {token}, "name": {"bad"}, "expiry": {"7d"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token without scopes: %s, want 400", resp.Status)
	}
}

func TestAdminPage(t *testing.T) {
	e := newEnv(t, web.Options{})
	root := e.client(t)
	root.signIn("root")
	token := root.csrf("/-/admin")
	resp, body := root.post("/-/admin/users", url.Values{"csrf": {token}, "username": {"dave"}, "email": {"dave@example.com"}, "password": {"dave-pass-1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create user: %s\n%s", resp.Status, body)
	}
	daveToken, _, err := e.svc.CreateToken(context.Background(), "dave", "ci", depot.Scopes{depot.ScopeReadPackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: daveToken}); err != nil {
		t.Fatalf("dave's token before disabling: %v", err)
	}
	resp, _ = root.post("/-/admin/users/dave", url.Values{"csrf": {token}, "disabled": {"on"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %s", resp.Status)
	}
	if u := mustUser(t, e.svc, "dave"); !u.Disabled || u.IsAdmin {
		t.Errorf("dave disabled=%v admin=%v", u.Disabled, u.IsAdmin)
	}
	if _, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: daveToken}); err == nil {
		t.Error("a disabled user's token (cached before) still authenticates")
	}
	dave := e.client(t)
	resp, _ = dave.post("/-/signin", url.Values{"csrf": {dave.csrf("/-/signin")}, "username": {"dave"}, "password": {"dave-pass-1"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user signs in: %s", resp.Status)
	}
	resp, _ = root.post("/-/admin/users/root", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("root demotes itself: %s, want 400", resp.Status)
	}
	alice := e.client(t)
	alice.signIn("alice")
	resp, _ = alice.post("/-/admin/users/bob", url.Values{"csrf": {alice.csrf("/")}, "admin": {"on"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("non-admin makes bob admin: %s, want 403", resp.Status)
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, web.Options{})
	c := e.client(t)
	for _, p := range []string{"/-/static/app.css", "/-/static/app.js", "/-/static/favicon.svg"} {
		resp, body := c.get(p)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
	if resp, _ := c.get("/-/static/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /-/static/: %s, want 404 (no listing)", resp.Status)
	}
	// Every page works without JavaScript: no inline scripts or handlers.
	_, body := c.get("/alice/-/packages/generic/tool/1.0.0")
	if bytes.Contains([]byte(body), []byte("onclick=")) || strings.Count(body, "<script") != 1 {
		t.Error("the version page has inline scripts")
	}
}

func TestSessionExpires(t *testing.T) {
	now := time.Now()
	e := newEnvWith(t, web.Options{}, &depot.Options{Now: func() time.Time { return now }})
	c := e.client(t)
	c.signIn("alice")
	if resp, _ := c.get("/secretco"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %s", resp.Status)
	}
	now = now.Add(depot.SessionLifetime)
	resp, body := c.get("/secretco")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `href="/-/signin"`) {
		t.Errorf("after the session's lifetime: %s, want 404 as anonymous", resp.Status)
	}
}

func TestExplorePaging(t *testing.T) {
	e := newEnv(t, web.Options{})
	ctx := context.Background()
	alice := &depot.Actor{User: mustUser(t, e.svc, "alice")}
	for i := range 25 {
		ref := depot.FileRef{Owner: "alice", Type: depot.TypeGeneric, Package: "pkg" + strconv.Itoa(i), Version: "1", File: "f"}
		if _, err := e.svc.UploadFile(ctx, alice, ref, 1, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client(t)
	_, body := c.get("/?q=pkg")
	if !strings.Contains(body, "25 packages") || !strings.Contains(body, `rel="next" href="/?q=pkg&amp;page=2"`) || strings.Contains(body, `rel="prev"`) {
		t.Errorf("page 1 lacks the count or the next link")
	}
	if n := strings.Count(body, "<tr>"); n != 21 { // a header row and 20 packages
		t.Errorf("page 1 has %d rows, want 21", n)
	}
	_, body = c.get("/?q=pkg&page=2")
	if !strings.Contains(body, `rel="prev"`) || strings.Contains(body, `rel="next"`) || !strings.Contains(body, ">pkg0<") {
		t.Errorf("page 2 lacks the previous link or the oldest package")
	}
}

// packageNamesRE finds the package column of the owner page's rows.
var packageNamesRE = regexp.MustCompile(`<td data-label="Package"><a href="[^"]*">([^<]+)</a>`)

func TestOwnerPaging(t *testing.T) {
	now := time.Now()
	e := newEnvWith(t, web.Options{}, &depot.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	alice := &depot.Actor{User: mustUser(t, e.svc, "alice")}
	upload := func(pkg, version string) {
		t.Helper()
		ref := depot.FileRef{Owner: "alice", Type: depot.TypeGeneric, Package: pkg, Version: version, File: "f"}
		if _, err := e.svc.UploadFile(ctx, alice, ref, 1, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	// pkg0 to pkg24, each a minute newer than the last, after newEnv's tool;
	// pkg3's latest is the higher version, not the newer one.
	for i := range 25 {
		now = now.Add(time.Minute)
		upload("pkg"+strconv.Itoa(i), "1.10.0")
		if i == 3 {
			upload("pkg3", "1.9.0")
		}
	}
	pkgs := func(from, to int) []string { // pkg<from> down to pkg<to>
		var out []string
		for i := from; i >= to; i-- {
			out = append(out, "pkg"+strconv.Itoa(i))
		}
		return out
	}
	c := e.client(t)
	for _, tc := range []struct {
		path        string
		want        []string
		contains    []string
		notContains []string
	}{
		{"/alice", pkgs(24, 5),
			[]string{"26 packages", "Page 1 of 2", `rel="next" href="/alice?q=&amp;page=2"`, "storage used <strong>31 B</strong>", `max="31"`},
			[]string{`rel="prev"`}},
		{"/alice?page=2", append(pkgs(4, 0), "tool"),
			[]string{"26 packages", "Page 2 of 2", `rel="prev" href="/alice?q=&amp;page=1"`, `max="31"`,
				`href="/alice/-/packages/generic/pkg3/1.10.0">1.10.0</a>`, "(2 versions)"},
			[]string{`rel="next"`}},
		// A page past the end is empty, as Explore's, with a way back.
		{"/alice?page=3", nil,
			[]string{"26 packages", "No packages on this page", `rel="prev" href="/alice?q=&amp;page=2"`},
			[]string{`rel="next"`, "<table"}},
		// The filter stays in the links; the storage used does not change.
		{"/alice?q=PKG", pkgs(24, 5),
			[]string{`25 packages matching “PKG”`, `rel="next" href="/alice?q=PKG&amp;page=2"`, "storage used <strong>31 B</strong>", `max="31"`},
			nil},
		{"/alice?q=PKG&page=2", pkgs(4, 0),
			[]string{`rel="prev" href="/alice?q=PKG&amp;page=1"`, "Page 2 of 2"},
			[]string{`rel="next"`, ">tool<"}},
		{"/alice?q=pkg1", append([]string{"pkg19", "pkg18", "pkg17", "pkg16", "pkg15", "pkg14", "pkg13", "pkg12", "pkg11", "pkg10"}, "pkg1"),
			[]string{"11 packages matching"},
			[]string{`class="pager"`}},
		{"/alice?q=" + url.QueryEscape("pkg%"), nil, []string{"No packages match"}, nil},
		{"/alice?q=" + url.QueryEscape("p_g"), nil, []string{"No packages match"}, nil},
	} {
		resp, body := c.get(tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", tc.path, resp.Status)
			continue
		}
		var got []string
		for _, m := range packageNamesRE.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("GET %s shows %v, want %v", tc.path, got, tc.want)
		}
		for _, s := range tc.contains {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s lacks %q", tc.path, s)
			}
		}
		for _, s := range tc.notContains {
			if strings.Contains(body, s) {
				t.Errorf("GET %s has %q", tc.path, s)
			}
		}
	}
}
