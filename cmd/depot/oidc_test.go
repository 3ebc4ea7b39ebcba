package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/oidc/issuertest"
	"github.com/depot-registry/depot/internal/testenv"
)

// testClock is a clock the test moves forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) add(d time.Duration) { c.offset.Add(int64(d)) }

const depotAudience = "https://depot.example"

// publishingEnv is a depot server with trusted publishers of three loopback
// issuers shaped like GitHub Actions, GitLab CI and Forgejo Actions.
type publishingEnv struct {
	t                  *testing.T
	m                  *Main
	base               string
	clock              *testClock
	github, gitlab, fj *issuertest.Issuer
	project            string // acme/app's project id
	cli                func(args ...string) string
	githubPub, bobPub  string
	client             *http.Client
}

func newPublishingEnv(t *testing.T, c Config) *publishingEnv {
	e := &publishingEnv{t: t, clock: &testClock{}, client: &http.Client{Timeout: 30 * time.Second}}
	e.github, e.gitlab, e.fj = issuertest.New(t), issuertest.New(t), issuertest.New(t)
	if c.DataDir == "" {
		c.DataDir = t.TempDir()
	}
	c.Now, c.BaseURL = e.clock.now, depotAudience
	e.m = MustRunMain(t, c)
	e.base = "http://" + e.m.Addr()
	env := map[string]string{"DEPOT_DATA_DIR": c.DataDir}
	if c.DatabaseURL != "" {
		env["DEPOT_DATABASE_URL"] = c.DatabaseURL
	}
	e.cli = func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return strings.TrimSpace(out)
	}
	e.cli("admin", "user", "create", "--username", "alice", "--password", "alice-password", "--email", "alice@example.com")
	e.cli("admin", "user", "create", "--username", "bob", "--password", "bob-password", "--email", "bob@example.com")
	e.cli("admin", "org", "create", "--name", "acme", "--owner", "alice")
	e.project = e.cli("admin", "project", "create", "--owner", "acme", "--name", "app")
	e.githubPub = e.cli("admin", "trusted-publisher", "create", "--owner", "acme", "--issuer", e.github.URL,
		"--claim", "repository=acme/app", "--claim", "repository_owner_id=65",
		"--claim", "workflow_ref=acme/app/.github/workflows/release.yml@refs/tags/v*", "--package", "app", "--package", "app-*")
	e.cli("admin", "trusted-publisher", "create", "--owner", "acme", "--issuer", e.gitlab.URL, "--audience", depotAudience,
		"--claim", "project_path=acme/app", "--claim", "ref_type=tag", "--package", "app")
	e.cli("admin", "trusted-publisher", "create", "--owner", "acme", "--issuer", e.fj.URL,
		"--claim", "repository=acme/app", "--claim", "repository_id=9")
	e.bobPub = e.cli("admin", "trusted-publisher", "create", "--owner", "bob", "--issuer", e.github.URL, "--claim", "repository=bob/tool")
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// do sends a request and returns the status and body.
func (e *publishingEnv) do(method, path string, header map[string]string, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// exchange posts an ID token to the exchange and returns the status and the
// decoded answer.
func (e *publishingEnv) exchange(idToken, owner string) (int, map[string]string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"token": idToken, "owner": owner})
	if owner == "" {
		body, _ = json.Marshal(map[string]string{"token": idToken})
	}
	code, resp := e.do(http.MethodPost, "/api/depot/oidc/token", map[string]string{"Content-Type": "application/json"}, string(body))
	out := map[string]string{}
	if err := json.Unmarshal([]byte(resp), &out); err != nil {
		e.t.Fatalf("exchange answered %d %q: not a JSON object of strings", code, resp)
	}
	if strings.Contains(resp, idToken) {
		e.t.Errorf("the answer repeats the ID token")
	}
	return code, out
}

// mint exchanges a fresh token and fails the test unless it works.
func (e *publishingEnv) mint(idToken string) string {
	e.t.Helper()
	code, out := e.exchange(idToken, "")
	if code != http.StatusOK || out["token"] == "" {
		e.t.Fatalf("exchange: %d %v", code, out)
	}
	return out["token"]
}

func (e *publishingEnv) githubToken(mod func(map[string]any)) string {
	c := issuertest.GitHub(e.github.URL, depotAudience, "acme/app", e.clock.now())
	if mod != nil {
		mod(c)
	}
	return e.github.Sign(e.t, c)
}

func (e *publishingEnv) exchanges() int {
	e.t.Helper()
	n := 0
	for _, owner := range []string{"acme", "bob"} {
		o, err := e.m.Store.OwnerByName(context.Background(), owner)
		if err != nil {
			e.t.Fatal(err)
		}
		ex, err := e.m.Store.PublisherExchanges(context.Background(), o.ID, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		n += len(ex)
	}
	return n
}

// wantAbsent checks that a Gitea path holds nothing, as alice sees it.
func (e *publishingEnv) wantAbsent(path string) {
	e.t.Helper()
	if code, _ := e.do(http.MethodGet, path, basic("alice", "alice-password"), ""); code != http.StatusNotFound {
		e.t.Errorf("GET %s = %d, want 404: a refused request stored something", path, code)
	}
}

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

func TestTrustedPublishingSQLite(t *testing.T) {
	runTrustedPublishing(t, newPublishingEnv(t, Config{}))
}

func TestTrustedPublishingPostgres(t *testing.T) {
	runTrustedPublishing(t, newPublishingEnv(t, Config{DatabaseURL: testenv.PostgresURL(t)}))
}

func runTrustedPublishing(t *testing.T, e *publishingEnv) {
	pkg := "/api/packages/acme/generic/"
	t.Run("GitHub token exchanged, minted token uploads with every Gitea auth style", func(t *testing.T) {
		before := e.clock.now()
		code, out := e.exchange(e.githubToken(nil), "")
		if code != http.StatusOK {
			t.Fatalf("exchange: %d %v", code, out)
		}
		exp, err := time.Parse(time.RFC3339, out["expires_at"])
		if err != nil {
			t.Fatalf("expires_at %q: %v", out["expires_at"], err)
		}
		if d := exp.Sub(before); d < 15*time.Minute-2*time.Second || d > 15*time.Minute+2*time.Second {
			t.Errorf("token lasts %v, want 15m", d)
		}
		tok := out["token"]
		for i, h := range []map[string]string{
			basic("ci", tok), basic(tok, ""), {"Authorization": "token " + tok}, {"Authorization": "Bearer " + tok},
		} {
			name := []string{"basic.bin", "basic-user.bin", "token.bin", "bearer.bin"}[i]
			if code, body := e.do(http.MethodPut, pkg+"app/1.0.0/"+name, h, "payload "+name); code != http.StatusCreated {
				t.Errorf("PUT %s: %d %s", name, code, body)
			}
		}
		if code, body := e.do(http.MethodGet, pkg+"app/1.0.0/token.bin", map[string]string{"Authorization": "token " + tok}, ""); code != http.StatusOK || body != "payload token.bin" {
			t.Errorf("GET with the minted token: %d %q", code, body)
		}
		if code, _ := e.do(http.MethodPut, pkg+"app-cli/1.0.0/x.bin", map[string]string{"Authorization": "token " + tok}, "x"); code != http.StatusCreated {
			t.Errorf("PUT to app-cli (pattern app-*): %d", code)
		}
		// The audit log names the publisher as the actor of the exchange
		// and of the uploads.
		for _, action := range []string{depot.AuditPublisherExchange, depot.AuditFileUpload} {
			evs, err := e.m.Service.AdminAuditLog(context.Background(), depot.AuditQuery{Action: action, Owner: "acme", Limit: 1})
			if err != nil || len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "trusted publisher ") || evs[0].ActorID != 0 {
				t.Errorf("latest %s of acme: %+v, %v; want one by a trusted publisher", action, evs, err)
			}
		}
	})
	t.Run("GitLab token exchanged, minted token uploads with every GitLab auth style", func(t *testing.T) {
		raw := e.gitlab.Sign(t, issuertest.GitLab(e.gitlab.URL, depotAudience, "acme/app", e.clock.now()))
		tok := e.mint(raw)
		path := "/api/v4/projects/" + e.project + "/packages/generic/app/2.0.0/"
		for name, h := range map[string]map[string]string{
			"private.bin": {"PRIVATE-TOKEN": tok}, "job.bin": {"JOB-TOKEN": tok},
			"bearer.bin": {"Authorization": "Bearer " + tok}, "basic.bin": basic("gitlab-ci-token", tok),
		} {
			if code, body := e.do(http.MethodPut, path+name, h, "gl "+name); code != http.StatusCreated {
				t.Errorf("PUT %s: %d %s", name, code, body)
			}
		}
		if code, body := e.do(http.MethodGet, pkg+"app/2.0.0/job.bin", basic("alice", "alice-password"), ""); code != http.StatusOK || body != "gl job.bin" {
			t.Errorf("GET of the GitLab upload: %d %q", code, body)
		}
	})
	t.Run("Forgejo ID token used directly as a Bearer token, once", func(t *testing.T) {
		raw := e.fj.Sign(t, issuertest.Forgejo(e.fj.URL, depotAudience, "acme/app", e.clock.now()))
		h := map[string]string{"Authorization": "Bearer " + raw}
		if code, body := e.do(http.MethodPut, pkg+"tool/1.0.0/tool.bin", h, "forgejo"); code != http.StatusCreated {
			t.Fatalf("PUT with the ID token: %d %s", code, body)
		}
		code, body := e.do(http.MethodPut, pkg+"tool/1.0.0/again.bin", h, "again")
		if code != http.StatusUnauthorized || !strings.Contains(body, "jti") {
			t.Errorf("second use of the ID token: %d %s, want 401 naming jti", code, body)
		}
		e.wantAbsent(pkg + "tool/1.0.0/again.bin")
		// As a Basic password (curl --user ci:$ID_TOKEN).
		raw = e.fj.Sign(t, issuertest.Forgejo(e.fj.URL, depotAudience, "acme/app", e.clock.now()))
		if code, body := e.do(http.MethodPut, pkg+"tool/1.0.0/basic.bin", basic("ci", raw), "basic"); code != http.StatusCreated {
			t.Errorf("PUT with the ID token as Basic password: %d %s", code, body)
		}
		code, body = e.do(http.MethodPut, pkg+"tool/1.0.0/basic2.bin", basic("ci", raw), "basic")
		if code != http.StatusUnauthorized || !strings.Contains(body, "jti") {
			t.Errorf("Basic replay: %d %s, want 401 naming jti", code, body)
		}
	})
	t.Run("keys rotated mid-test", func(t *testing.T) {
		old := e.githubToken(nil)
		e.github.Rotate(t, jose.ES256)
		e.mint(e.githubToken(nil))
		// go-oidc stores fetched keys just after answering the fetch, so
		// the withdrawn key may verify for a moment more (an exchange
		// that succeeded consumes old's jti: then the answer names jti).
		code, out := e.exchange(old, "")
		for deadline := time.Now().Add(2 * time.Second); code == http.StatusOK && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			old = e.githubToken(nil)
			e.github.Rotate(t, jose.ES256)
			e.mint(e.githubToken(nil))
			code, out = e.exchange(old, "")
		}
		if code != http.StatusUnauthorized || !strings.HasPrefix(out["message"], "signature:") {
			t.Errorf("token of the withdrawn key: %d %v", code, out)
		}
	})

	refused := func(t *testing.T, idToken, owner, reason string) {
		t.Helper()
		n := e.exchanges()
		code, out := e.exchange(idToken, owner)
		if code != http.StatusUnauthorized || !strings.Contains(out["message"], reason) || out["token"] != "" {
			t.Errorf("exchange: %d %v, want 401 with a reason holding %q", code, out, reason)
		}
		if got := e.exchanges(); got != n {
			t.Errorf("a refused exchange was recorded (%d exchanges, had %d)", got, n)
		}
	}
	t.Run("wrong issuer", func(t *testing.T) {
		other := issuertest.New(t)
		refused(t, other.Sign(t, issuertest.GitHub(other.URL, depotAudience, "acme/app", e.clock.now())), "", "iss:")
	})
	t.Run("wrong audience", func(t *testing.T) {
		refused(t, e.githubToken(func(c map[string]any) { c["aud"] = "https://elsewhere.example" }), "", "aud:")
	})
	t.Run("expired", func(t *testing.T) {
		refused(t, e.githubToken(func(c map[string]any) { c["exp"] = e.clock.now().Add(-10 * time.Minute).Unix() }), "", "exp:")
	})
	t.Run("not yet valid", func(t *testing.T) {
		refused(t, e.githubToken(func(c map[string]any) { c["nbf"] = e.clock.now().Add(10 * time.Minute).Unix() }), "", "nbf:")
	})
	t.Run("bad signature", func(t *testing.T) {
		refused(t, issuertest.Tamper(t, e.githubToken(nil), "run_id", "9999"), "", "signature:")
	})
	t.Run("alg none", func(t *testing.T) {
		refused(t, issuertest.Unsigned(issuertest.GitHub(e.github.URL, depotAudience, "acme/app", e.clock.now())), "", "alg:")
	})
	t.Run("HS256 signed with the public key", func(t *testing.T) {
		refused(t, issuertest.HS256WithPublicKey(t, e.github.SigningKey(), issuertest.GitHub(e.github.URL, depotAudience, "acme/app", e.clock.now())), "", "alg:")
	})
	t.Run("unknown kid", func(t *testing.T) {
		ghost := e.github.NewKey(t, jose.RS256)
		refused(t, issuertest.SignWith(t, ghost, issuertest.GitHub(e.github.URL, depotAudience, "acme/app", e.clock.now())), "", "signature:")
	})
	t.Run("replayed jti", func(t *testing.T) {
		raw := e.githubToken(nil)
		e.mint(raw)
		refused(t, raw, "", "jti:")
	})
	t.Run("claim does not match", func(t *testing.T) {
		refused(t, e.githubToken(func(c map[string]any) { c["workflow_ref"] = "acme/app/.github/workflows/evil.yml@refs/heads/main" }), "", `claim "workflow_ref"`)
	})
	t.Run("publisher of another owner", func(t *testing.T) {
		bobs := issuertest.GitHub(e.github.URL, depotAudience, "bob/tool", e.clock.now())
		refused(t, e.github.Sign(t, bobs), "acme", `claim "repository"`)
		// bob's own token does not reach acme either.
		tok := e.mint(e.github.Sign(t, issuertest.GitHub(e.github.URL, depotAudience, "bob/tool", e.clock.now())))
		code, body := e.do(http.MethodPut, pkg+"app/3.0.0/bob.bin", map[string]string{"Authorization": "token " + tok}, "bob")
		if code != http.StatusForbidden {
			t.Errorf("bob's publisher token on acme: %d %s, want 403", code, body)
		}
		e.wantAbsent(pkg + "app/3.0.0/bob.bin")
		if code, _ := e.do(http.MethodPut, "/api/packages/bob/generic/tool/1.0/t.bin", map[string]string{"Authorization": "token " + tok}, "t"); code != http.StatusCreated {
			t.Errorf("bob's publisher token on bob: %d", code)
		}
	})
	t.Run("package outside the pattern", func(t *testing.T) {
		tok := e.mint(e.githubToken(nil))
		code, body := e.do(http.MethodPut, pkg+"secret-tool/1.0.0/x.bin", map[string]string{"Authorization": "token " + tok}, "x")
		if code != http.StatusForbidden || !strings.Contains(body, "pattern") {
			t.Errorf("PUT outside the patterns: %d %s, want 403", code, body)
		}
		e.wantAbsent(pkg + "secret-tool/1.0.0/x.bin")
		gl := e.mint(e.gitlab.Sign(t, issuertest.GitLab(e.gitlab.URL, depotAudience, "acme/app", e.clock.now())))
		code, body = e.do(http.MethodPut, "/api/v4/projects/"+e.project+"/packages/generic/other/1.0.0/x.bin", map[string]string{"JOB-TOKEN": gl}, "x")
		if code != http.StatusForbidden {
			t.Errorf("GitLab PUT outside the patterns: %d %s, want 403", code, body)
		}
		e.wantAbsent(pkg + "other/1.0.0/x.bin")
	})
	t.Run("minted token refused for deletes", func(t *testing.T) {
		tok := e.mint(e.githubToken(nil))
		h := map[string]string{"Authorization": "token " + tok}
		for _, c := range []struct{ method, path string }{
			{http.MethodDelete, pkg + "app/1.0.0/token.bin"},
			{http.MethodDelete, pkg + "app/1.0.0"},
			{http.MethodDelete, "/api/v1/packages/acme/generic/app/1.0.0"},
			{http.MethodDelete, "/api/v1/packages/acme/generic/app"},
		} {
			if code, body := e.do(c.method, c.path, h, ""); code != http.StatusForbidden {
				t.Errorf("%s %s with a minted token: %d %s, want 403", c.method, c.path, code, body)
			}
		}
		if code, _ := e.do(http.MethodGet, pkg+"app/1.0.0/token.bin", basic("alice", "alice-password"), ""); code != http.StatusOK {
			t.Errorf("after the refused deletes the file answers %d, want 200", code)
		}
	})
	t.Run("minted token used after expiry", func(t *testing.T) {
		tok := e.mint(e.githubToken(nil))
		h := map[string]string{"Authorization": "token " + tok}
		if code, _ := e.do(http.MethodPut, pkg+"app/4.0.0/in-time.bin", h, "x"); code != http.StatusCreated {
			t.Fatalf("PUT in time: %d", code)
		}
		e.clock.add(15*time.Minute + time.Second)
		code, body := e.do(http.MethodPut, pkg+"app/4.0.0/late.bin", h, "x")
		if code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
			t.Errorf("PUT after expiry: %d %s, want 401", code, body)
		}
		e.wantAbsent(pkg + "app/4.0.0/late.bin")
	})
	t.Run("publishers managed through the JSON API and the CLI", func(t *testing.T) {
		api := "/api/depot/owners/acme/trusted-publishers"
		alice := basic("alice", "alice-password")
		alice["Content-Type"] = "application/json"
		for _, c := range []struct{ body, want string }{
			{`{"issuer": "` + e.github.URL + `", "claims": {}}`, "at least one claim"},
			{`{"issuer": "` + e.github.URL + `", "claims": {"repository": "*"}}`, "does not match everything"},
			{`{"issuer": "http://ci.example", "claims": {"repository": "acme/x"}}`, "https"},
			{`{"issuer": "` + e.github.URL + `", "claims": {"exp": "1"}}`, "depot itself"},
			{`{"issuer": "` + e.github.URL + `", "claims": {"repository": "a"}, "extra": 1}`, "unknown field"},
		} {
			if code, body := e.do(http.MethodPost, api, alice, c.body); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
				t.Errorf("POST %s: %d %s, want 400 holding %q", c.body, code, body, c.want)
			}
		}
		body := `{"issuer": "` + e.github.URL + `", "claims": {"repository": "acme/api", "repository_id": "101"}, "packages": ["api"]}`
		if code, _ := e.do(http.MethodPost, api, basic("bob", "bob-password"), body); code != http.StatusForbidden {
			t.Errorf("POST by bob (not an admin of acme): %d, want 403", code)
		}
		if code, _ := e.do(http.MethodPost, api, nil, body); code != http.StatusUnauthorized {
			t.Errorf("POST anonymous: %d, want 401", code)
		}
		code, resp := e.do(http.MethodPost, api, alice, body)
		var created struct {
			ID     int64             `json:"id"`
			Claims map[string]string `json:"claims"`
		}
		if code != http.StatusCreated || json.Unmarshal([]byte(resp), &created) != nil || created.ID == 0 || created.Claims["repository_id"] != "101" {
			t.Fatalf("POST by alice: %d %s", code, resp)
		}
		if code, resp := e.do(http.MethodGet, api, alice, ""); code != http.StatusOK || !strings.Contains(resp, `"acme/api"`) {
			t.Errorf("GET: %d %s", code, resp)
		}
		if code, resp := e.do(http.MethodGet, api+"/-/exchanges", alice, ""); code != http.StatusOK || !strings.Contains(resp, `"run_id":"5301"`) {
			t.Errorf("GET exchanges: %d %s", code, resp)
		}
		if list := e.cli("admin", "trusted-publisher", "list", "--owner", "acme"); !strings.Contains(list, "repository=acme/api,repository_id=101") {
			t.Errorf("CLI list:\n%s", list)
		}
		claims := issuertest.GitHub(e.github.URL, depotAudience, "acme/api", e.clock.now())
		claims["repository_id"] = "101"
		tok := e.mint(e.github.Sign(t, claims))
		h := map[string]string{"Authorization": "token " + tok}
		if code, _ := e.do(http.MethodPut, pkg+"api/1.0/a.bin", h, "a"); code != http.StatusCreated {
			t.Errorf("PUT with the new publisher's token: %d", code)
		}
		if code, _ := e.do(http.MethodDelete, api+"/"+strconv.FormatInt(created.ID, 10), basic("bob", "bob-password"), ""); code != http.StatusForbidden {
			t.Errorf("DELETE by bob: %d, want 403", code)
		}
		if code, _ := e.do(http.MethodDelete, api+"/"+strconv.FormatInt(created.ID, 10), alice, ""); code != http.StatusNoContent {
			t.Errorf("DELETE by alice: %d, want 204", code)
		}
		if code, _ := e.do(http.MethodPut, pkg+"api/1.0/b.bin", h, "b"); code != http.StatusUnauthorized {
			t.Errorf("PUT with the deleted publisher's token: %d, want 401", code)
		}
		// The CLI deletes too.
		id := e.cli("admin", "trusted-publisher", "create", "--owner", "acme", "--issuer", e.github.URL, "--claim", "repository=acme/tmp")
		e.cli("admin", "trusted-publisher", "delete", "--id", id)
		if list := e.cli("admin", "trusted-publisher", "list"); strings.Contains(list, "acme/tmp") || !strings.Contains(list, "bob/tool") {
			t.Errorf("CLI list after delete:\n%s", list)
		}
	})
	t.Run("publishers of two owners match: the exchange names one", func(t *testing.T) {
		id := e.cli("admin", "trusted-publisher", "create", "--owner", "bob", "--issuer", e.github.URL, "--claim", "repository=acme/app")
		defer e.cli("admin", "trusted-publisher", "delete", "--id", id)
		n := e.exchanges()
		code, out := e.exchange(e.githubToken(nil), "")
		if code != http.StatusBadRequest || !strings.Contains(out["message"], `"owner"`) || e.exchanges() != n {
			t.Errorf("exchange matching two owners: %d %v, want 400 asking for an owner, nothing recorded", code, out)
		}
		code, out = e.exchange(e.githubToken(nil), "bob")
		if code != http.StatusOK {
			t.Fatalf("exchange for bob: %d %v", code, out)
		}
		h := map[string]string{"Authorization": "token " + out["token"]}
		if code, _ := e.do(http.MethodPut, pkg+"app/5.0.0/x.bin", h, "x"); code != http.StatusForbidden {
			t.Errorf("bob's token on acme: %d, want 403", code)
		}
		if code, _ := e.do(http.MethodPut, "/api/packages/bob/generic/mirror/1.0/x.bin", h, "x"); code != http.StatusCreated {
			t.Errorf("bob's token on bob: %d, want 201", code)
		}
		// A direct ID token cannot name the owner: refused.
		if code, body := e.do(http.MethodPut, pkg+"app/5.0.0/y.bin", map[string]string{"Authorization": "Bearer " + e.githubToken(nil)}, "y"); code != http.StatusBadRequest {
			t.Errorf("direct ID token matching two owners: %d %s, want 400", code, body)
		}
		e.wantAbsent(pkg + "app/5.0.0/y.bin")
	})
	t.Run("exchanges and uploads record the CI identity", func(t *testing.T) {
		o, _ := e.m.Store.OwnerByName(context.Background(), "acme")
		ex, err := e.m.Store.PublisherExchanges(context.Background(), o.ID, 1000)
		if err != nil || len(ex) == 0 {
			t.Fatalf("exchanges: %v, %d", err, len(ex))
		}
		v, err := e.m.Store.VersionByName(context.Background(), o.ID, "generic", "app", "1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		pubs, err := e.m.Store.FilePublications(context.Background(), v.Version.ID)
		if err != nil || len(pubs) != 4 {
			t.Fatalf("publications of app 1.0.0: %v, %d, want 4", err, len(pubs))
		}
		for _, p := range pubs {
			if p.Repository != "acme/app" || p.Workflow != "Release" || p.RunID != "5301" || p.SHA == "" {
				t.Errorf("publication = %+v", p)
			}
		}
	})
}

// TestTrustedPublishingReplicas runs two servers on one PostgreSQL schema:
// an ID token exchanged on one is refused on the other.
func TestTrustedPublishingReplicas(t *testing.T) {
	db := testenv.PostgresURL(t)
	e := newPublishingEnv(t, Config{DatabaseURL: db})
	other := MustRunMain(t, Config{DatabaseURL: db, Now: e.clock.now, BaseURL: depotAudience})
	raw := e.githubToken(nil)
	tok := e.mint(raw)
	second := *e
	second.base = "http://" + other.Addr()
	code, out := second.exchange(raw, "")
	if code != http.StatusUnauthorized || !strings.HasPrefix(out["message"], "jti:") {
		t.Errorf("replay on the other replica: %d %v, want 401 jti", code, out)
	}
	// The minted token works on both.
	if code, body := second.do(http.MethodPut, "/api/packages/acme/generic/app/9.0.0/b.bin", map[string]string{"Authorization": "Bearer " + tok}, "b"); code != http.StatusCreated {
		t.Errorf("minted token on the other replica: %d %s", code, body)
	}
	// A direct ID token used on one replica is used up on the other.
	direct := e.githubToken(nil)
	if code, body := e.do(http.MethodPut, "/api/packages/acme/generic/app/9.0.0/d.bin", map[string]string{"Authorization": "Bearer " + direct}, "d"); code != http.StatusCreated {
		t.Fatalf("direct ID token: %d %s", code, body)
	}
	if code, _ := second.do(http.MethodPut, "/api/packages/acme/generic/app/9.0.0/d2.bin", map[string]string{"Authorization": "Bearer " + direct}, "d"); code != http.StatusUnauthorized {
		t.Errorf("direct ID token replayed on the other replica: %d, want 401", code)
	}
}
