package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/depotapi"
)

// auditClient sends requests from a client address of its own: the server
// trusts 127.0.0.1 as a proxy, so X-Forwarded-For names the address.
type auditClient struct {
	t    *testing.T
	base string
	addr string
	auth func(*http.Request)
}

func (c auditClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" && strings.HasPrefix(path, "/api/v1/") {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.250, "+c.addr) // the left entry is spoofable and ignored
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c auditClient) must(want int, method, path, body string) string {
	c.t.Helper()
	code, out := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

// forwardedFor is a transport whose requests come from addr by way of a
// trusted proxy.
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

func basicAuth(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

// auditEvents reads a page of the audit API.
func (c auditClient) auditEvents(path string) []depotapi.AuditEvent {
	c.t.Helper()
	var page depotapi.AuditPage
	if err := json.Unmarshal([]byte(c.must(http.StatusOK, http.MethodGet, path, "")), &page); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return page.Events
}

// findEvent returns the first event of action on target, or nil.
func findEvent(evs []depotapi.AuditEvent, action, target string) *depotapi.AuditEvent {
	for i := range evs {
		if evs[i].Action == action && evs[i].Target == target {
			return &evs[i]
		}
	}
	return nil
}

func wantEvent(t *testing.T, evs []depotapi.AuditEvent, action, target, actor, addr string) *depotapi.AuditEvent {
	t.Helper()
	e := findEvent(evs, action, target)
	if e == nil {
		t.Fatalf("no %s event of %q among %d events: %+v", action, target, len(evs), evs)
	}
	if e.Actor != actor || e.Addr != addr {
		t.Errorf("%s %s: actor %q from %q, want %q from %q", action, target, e.Actor, e.Addr, actor, addr)
	}
	return e
}

// TestAuditLog makes changes through both dialects, the Gitea v1 API and
// the web UI, and fails sign-ins, then reads the audit log back from the
// site API, an owner's API and the admin CLI: each change once, with the
// actor, client address (from X-Forwarded-For of a trusted proxy) and
// target; failed basic-auth attempts folded into one event. On both stacks.
func TestAuditLog(t *testing.T) {
	t.Run("SQLiteFilesystem", func(t *testing.T) {
		dir := t.TempDir()
		testAuditLog(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db")})
	})
	t.Run("PostgresS3", func(t *testing.T) { testAuditLog(t, scaleOutConfig(t)) })
}

func testAuditLog(t *testing.T, c Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	m := MustRunMain(t, c)
	base := "http://" + m.Addr()
	ctx := context.Background()
	svc := m.Service
	root := mustAdmin(t, m, "root")
	rootTok := mustToken(t, m, root)
	for _, u := range []string{"alice", "bob"} {
		if _, err := svc.CreateUser(ctx, depot.NewUser{Username: u, Password: u + "-password-1", Email: u + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateOrg(ctx, "acme", "alice", depot.Public); err != nil {
		t.Fatal(err)
	}
	proj, err := svc.CreateProject(ctx, "acme", "tool", "")
	if err != nil {
		t.Fatal(err)
	}

	alice := auditClient{t: t, base: base, addr: "198.51.100.1", auth: basicAuth("alice", "alice-password-1")}
	// A token, by password, over Gitea's API.
	var tok struct {
		Sha1 string `json:"sha1"`
	}
	if err := json.Unmarshal([]byte(alice.must(http.StatusCreated, http.MethodPost, "/api/v1/users/alice/tokens", `{"name":"ci","scopes":["all"]}`)), &tok); err != nil {
		t.Fatal(err)
	}
	withTok := alice
	withTok.addr, withTok.auth = "198.51.100.2", basicAuth("alice", tok.Sha1)
	// Uploads in both dialects, deletes.
	withTok.must(http.StatusCreated, http.MethodPut, "/api/packages/acme/generic/tool/1.0/a.txt", "aaa")
	withTok.must(http.StatusCreated, http.MethodPut, "/api/packages/acme/generic/tool/1.0/b.txt", "bbbb")
	gl := withTok
	gl.auth = func(r *http.Request) { r.Header.Set("PRIVATE-TOKEN", tok.Sha1) }
	gl.must(http.StatusCreated, http.MethodPut, "/api/v4/projects/"+strconv.FormatInt(proj.ID, 10)+"/packages/generic/tool/2.0/c.txt", "cc")
	withTok.must(http.StatusNoContent, http.MethodDelete, "/api/packages/acme/generic/tool/1.0/a.txt", "")
	withTok.must(http.StatusNoContent, http.MethodDelete, "/api/v1/packages/acme/generic/tool/1.0", "")
	// Membership, then the token's revocation.
	alice.must(http.StatusNoContent, http.MethodPut, "/api/v1/orgs/acme/members/bob", `{"role":"write"}`)
	alice.must(http.StatusNoContent, http.MethodDelete, "/api/v1/users/alice/tokens/ci", "")
	// Failed sign-ins: three by basic auth from one address, one on the
	// web form from another.
	mallory := auditClient{t: t, base: base, addr: "192.0.2.66", auth: basicAuth("alice", "guess")}
	for range 3 {
		mallory.must(http.StatusUnauthorized, http.MethodGet, "/api/v1/user", "")
	}
	web := newWebClient(t, base)
	web.c.Transport = forwardedFor("192.0.2.77")
	web.get("/-/signin")
	if code := web.post("/-/signin", url.Values{"username": {"bob"}, "password": {"wrong"}}); code != http.StatusUnauthorized {
		t.Fatalf("web sign-in with a wrong password: %d", code)
	}

	admin := auditClient{t: t, base: base, addr: "10.0.0.1", auth: basicAuth("root", rootTok)}
	evs := admin.auditEvents("/api/depot/audit?limit=200")
	wantEvent(t, evs, depot.AuditTokenCreate, "ci", "alice", "198.51.100.1")
	up := wantEvent(t, evs, depot.AuditFileUpload, "generic/tool/1.0/a.txt", "alice", "198.51.100.2")
	var d map[string]any
	if err := json.Unmarshal(up.Detail, &d); err != nil || d["size"] != float64(3) || d["api"] != "gitea" || up.Owner != "acme" {
		t.Errorf("upload event owner %q detail %s, want acme, size 3 and api gitea", up.Owner, up.Detail)
	}
	glUp := wantEvent(t, evs, depot.AuditFileUpload, "generic/tool/2.0/c.txt", "alice", "198.51.100.2")
	if !strings.Contains(string(glUp.Detail), `"api":"gitlab"`) {
		t.Errorf("GitLab upload detail %s", glUp.Detail)
	}
	wantEvent(t, evs, depot.AuditFileDelete, "generic/tool/1.0/a.txt", "alice", "198.51.100.2")
	wantEvent(t, evs, depot.AuditVersionDelete, "generic/tool/1.0", "alice", "198.51.100.2")
	member := wantEvent(t, evs, depot.AuditMemberSet, "bob", "alice", "198.51.100.1")
	if member.Owner != "acme" || !strings.Contains(string(member.Detail), `"role":"write"`) {
		t.Errorf("member event %+v", *member)
	}
	wantEvent(t, evs, depot.AuditTokenRevoke, "ci", "alice", "198.51.100.1")
	if setup := findEvent(evs, depot.AuditOrgCreate, "acme"); setup == nil || setup.Addr != "" || setup.Actor != "system" {
		t.Errorf("org created outside a request: %+v, want actor system and no address", setup)
	}
	// Each change once: two uploads of tool 1.0 and one of 2.0.
	n := 0
	for _, e := range evs {
		if e.Action == depot.AuditFileUpload {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d upload events, want 3", n)
	}

	// Failed sign-ins are written in batches: wait for the flush.
	var failed []depotapi.AuditEvent
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		failed = admin.auditEvents("/api/depot/audit?action=signin.failed")
		if len(failed) >= 2 {
			break
		}
	}
	basicFail := wantEvent(t, failed, depot.AuditSignInFailed, "alice", "alice", "192.0.2.66")
	if err := json.Unmarshal(basicFail.Detail, &d); err != nil || d["attempts"] != float64(3) || d["via"] != "basic" {
		t.Errorf("failed basic sign-ins: detail %s, want 3 attempts via basic in one event", basicFail.Detail)
	}
	wantEvent(t, failed, depot.AuditSignInFailed, "bob", "bob", "192.0.2.77")
	if len(failed) != 2 {
		t.Errorf("%d failed sign-in events, want 2: %+v", len(failed), failed)
	}

	// Filters and paging of the site API.
	if got := admin.auditEvents("/api/depot/audit?actor=alice&action=file"); len(got) != 4 {
		t.Errorf("alice's file events: %d, want 3 uploads and 1 delete", len(got))
	}
	p1 := admin.auditEvents("/api/depot/audit?owner=acme&limit=2")
	p2 := admin.auditEvents("/api/depot/audit?owner=acme&limit=2&before=" + strconv.FormatInt(p1[1].ID, 10))
	if len(p1) != 2 || len(p2) != 2 || p2[0].ID >= p1[1].ID {
		t.Errorf("keyset pages: %v then %v", p1, p2)
	}
	admin.must(http.StatusBadRequest, http.MethodGet, "/api/depot/audit?since=yesterday-ish", "")
	admin.must(http.StatusBadRequest, http.MethodGet, "/api/depot/audit?action=DROP%20TABLE", "")
	// Who may read which log: the site log is site admins'; an owner's is
	// its admins'.
	bob := auditClient{t: t, base: base, addr: "198.51.100.3", auth: basicAuth("bob", "bob-password-1")}
	bob.must(http.StatusForbidden, http.MethodGet, "/api/depot/audit", "")
	bob.must(http.StatusForbidden, http.MethodGet, "/api/depot/owners/acme/audit", "")
	auditClient{t: t, base: base, addr: "198.51.100.4"}.must(http.StatusUnauthorized, http.MethodGet, "/api/depot/audit", "")
	own := alice.auditEvents("/api/depot/owners/acme/audit?limit=100")
	for _, e := range own {
		if e.Owner != "acme" {
			t.Errorf("acme's log holds an event of %q: %+v", e.Owner, e)
		}
	}
	if findEvent(own, depot.AuditMemberSet, "bob") == nil || findEvent(own, depot.AuditTokenCreate, "ci") != nil {
		t.Errorf("acme's log: want its member change and not alice's token")
	}

	// The admin CLI prints the same events as JSON lines.
	env := map[string]string{"DEPOT_DATA_DIR": m.Config.DataDir, "DEPOT_DATABASE_URL": m.Config.DatabaseURL}
	out := mustRunCLI(t, env, "admin", "audit", "--owner", "acme", "--action", "file", "--oldest-first")
	var lines []depotapi.AuditEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e depotapi.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("CLI line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	if len(lines) != 4 || lines[0].Action != depot.AuditFileUpload || lines[0].Target != "generic/tool/1.0/a.txt" ||
		lines[3].Action != depot.AuditFileDelete || lines[0].Addr != "198.51.100.2" {
		t.Errorf("admin audit --owner acme --action file --oldest-first:\n%s", out)
	}
	if out := mustRunCLI(t, env, "admin", "audit", "--limit", "1"); strings.Count(out, "\n") != 1 {
		t.Errorf("--limit 1 printed %q", out)
	}
	// A change by the CLI names it.
	mustRunCLI(t, env, "admin", "org", "add-member", "--org", "acme", "--username", "root", "--role", "read")
	out = mustRunCLI(t, env, "admin", "audit", "--actor", "admin CLI", "--limit", "1")
	if !strings.Contains(out, `"action":"member.set"`) || !strings.Contains(out, `"target":"root"`) || !strings.Contains(out, `"addr":""`) {
		t.Errorf("the CLI's own change: %s", out)
	}
	if code, _, errOut := runCLI(t, env, "admin", "audit", "--since", "soon"); code != 2 || !strings.Contains(errOut, "since") {
		t.Errorf("--since soon: exit %d, %q; want 2 naming since", code, errOut)
	}
}
