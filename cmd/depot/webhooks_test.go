package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	"github.com/depot-registry/depot/internal/depot"
)

// hookRequest is one request a receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP server on 127.0.0.1 that records webhook
// deliveries and answers each with what respond says (200 by default).
type receiver struct {
	t       testing.TB
	srv     *http.Server
	url     string
	mu      sync.Mutex
	got     []hookRequest
	arrived chan struct{}
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, url: "http://" + ln.Addr().String() + "/hook", arrived: make(chan struct{}, 1000)}
	rc.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, hookRequest{header: r.Header.Clone(), body: body, at: time.Now()})
		respond := rc.respond
		rc.mu.Unlock()
		rc.arrived <- struct{}{}
		if respond != nil {
			respond(n, w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})}
	go rc.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rc.srv.Shutdown(ctx)
	})
	return rc
}

// wait returns once n requests arrived in all, failing after timeout.
func (rc *receiver) wait(n int, timeout time.Duration) []hookRequest {
	rc.t.Helper()
	deadline := time.After(timeout)
	for {
		rc.mu.Lock()
		got := append([]hookRequest(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.arrived:
		case <-deadline:
			rc.t.Fatalf("receiver got %d requests within %v, want %d", len(got), timeout, n)
		}
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkSigned verifies a delivery's Gitea headers and signatures against
// secret and returns its JSON payload.
func checkSigned(t testing.TB, req hookRequest, secret string) map[string]any {
	t.Helper()
	h := req.header
	payload := req.body
	if strings.HasPrefix(h.Get("Content-Type"), "application/x-www-form-urlencoded") {
		v, err := url.ParseQuery(string(req.body))
		if err != nil {
			t.Fatalf("form body: %v", err)
		}
		payload = []byte(v.Get("payload"))
	} else if h.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", h.Get("Content-Type"))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(payload)
	want := hex.EncodeToString(mac.Sum(nil))
	mac1 := hmac.New(sha1.New, []byte(secret))
	mac1.Write(payload)
	for k, v := range map[string]string{
		"X-Gitea-Signature": want, "X-Gogs-Signature": want, "X-Forgejo-Signature": want,
		"X-Hub-Signature-256": "sha256=" + want, "X-Hub-Signature": "sha1=" + hex.EncodeToString(mac1.Sum(nil)),
		"X-Gitea-Event": "package", "X-Gitea-Event-Type": "package", "X-Forgejo-Event": "package", "X-Gogs-Event": "package",
		"X-GitHub-Event": "package", "X-GitHub-Event-Type": "package", "X-Forgejo-Event-Type": "package",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	id := h.Get("X-Gitea-Delivery")
	if !uuidRE.MatchString(id) || h.Get("X-Forgejo-Delivery") != id || h.Get("X-GitHub-Delivery") != id || h.Get("X-Gogs-Delivery") != id {
		t.Errorf("delivery ids: gitea %q forgejo %q github %q", id, h.Get("X-Forgejo-Delivery"), h.Get("X-GitHub-Delivery"))
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	return p
}

// field digs a string out of a decoded payload: field(p, "package", "name").
func field(p map[string]any, path ...string) any {
	var v any = p
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func hookConfig(dir string) Config {
	return Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"),
		WebhookAllowedHosts: "loopback", WebhookPoll: 200 * time.Millisecond, WebhookBackoff: 200 * time.Millisecond,
		WebhookTimeout: 700 * time.Millisecond, WebhookMaxAttempts: 6}
}

// upload PUTs a generic file with basic auth and checks the status.
func upload(t testing.TB, base, user, token, path, content string, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/api/packages/"+path, strings.NewReader(content))
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("PUT %s = %d, want %d", path, resp.StatusCode, want)
	}
}

func deletePath(t testing.TB, base, user, token, path string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/packages/"+path, nil)
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s = %d", path, resp.StatusCode)
	}
}

// TestWebhooksGiteaSDK manages hooks with the Gitea SDK (organization,
// user and system hooks), refuses bad hooks with Gitea's statuses and
// changes nothing, and checks every delivery a real receiver gets: Gitea's
// headers, signatures over the payload, and the payload of created and
// deleted versions, in JSON and form encodings.
func TestWebhooksGiteaSDK(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return strings.TrimSpace(out)
	}
	m := MustRunMain(t, hookConfig(dir))
	base := "http://" + m.Addr()
	mustCLI("admin", "user", "create", "--username", "root", "--password", "root-password", "--email", "root@example.com", "--admin")
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "alice-password", "--email", "alice@example.com")
	mustCLI("admin", "user", "create", "--username", "bob", "--password", "bob-password", "--email", "bob@example.com")
	mustCLI("admin", "org", "create", "--name", "acme", "--owner", "alice")
	mustCLI("admin", "org", "add-member", "--org", "acme", "--username", "bob", "--role", "write")
	aliceTok := mustCLI("admin", "token", "create", "--username", "alice", "--name", "ci", "--scopes", "all")
	bobTok := mustCLI("admin", "token", "create", "--username", "bob", "--name", "ci", "--scopes", "all")

	client := func(opts ...gitea.ClientOption) *gitea.Client {
		t.Helper()
		c, err := gitea.NewClient(base, opts...)
		if err != nil {
			t.Fatalf("gitea.NewClient: %v", err)
		}
		return c
	}
	alice := client(gitea.SetToken(aliceTok))
	bob := client(gitea.SetToken(bobTok))
	root := client(gitea.SetBasicAuth("root", "root-password"))
	orgRC, myRC, sysRC := newReceiver(t), newReceiver(t), newReceiver(t)

	// Create, list, get, edit.
	orgHook, resp, err := alice.CreateOrgHook("acme", gitea.CreateHookOption{Type: gitea.HookTypeGitea, Active: true, Events: []string{"package"},
		Config: map[string]string{"url": orgRC.url, "content_type": "json", "secret": "org-secret"}})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("CreateOrgHook = %v, %v", resp, err)
	}
	if orgHook.ID == 0 || orgHook.Type != "gitea" || !orgHook.Active || orgHook.Config["url"] != orgRC.url ||
		orgHook.Config["content_type"] != "json" || orgHook.Config["secret"] != "" || fmt.Sprint(orgHook.Events) != "[package]" {
		t.Errorf("created hook = %+v", orgHook)
	}
	hooks, _, err := alice.ListOrgHooks("acme", gitea.ListHooksOptions{})
	if err != nil || len(hooks) != 1 || hooks[0].ID != orgHook.ID {
		t.Fatalf("ListOrgHooks = %v, %v", hooks, err)
	}
	if got, _, err := alice.GetOrgHook("acme", orgHook.ID); err != nil || got.Config["url"] != orgRC.url {
		t.Errorf("GetOrgHook = %+v, %v", got, err)
	}
	myHook, _, err := alice.CreateMyHook(gitea.CreateHookOption{Type: gitea.HookTypeGitea, Active: false,
		Config: map[string]string{"url": myRC.url, "content_type": "json", "secret": "my-secret"}})
	if err != nil {
		t.Fatalf("CreateMyHook: %v", err)
	}
	active := true
	if _, err := alice.EditMyHook(myHook.ID, gitea.EditHookOption{Active: &active, Config: map[string]string{"content_type": "form"}}); err != nil {
		t.Fatalf("EditMyHook: %v", err)
	}
	mine, _, err := alice.ListMyHooks(gitea.ListHooksOptions{})
	if err != nil || len(mine) != 1 || !mine[0].Active || mine[0].Config["content_type"] != "form" || mine[0].Config["url"] != myRC.url {
		t.Fatalf("ListMyHooks after edit = %+v, %v", mine, err)
	}
	sysHook, _, err := root.CreateAdminHook(gitea.CreateHookOption{Type: gitea.HookTypeGitea, Active: true, Events: []string{"package"},
		Config: map[string]string{"url": sysRC.url, "content_type": "json", "secret": "sys-secret", "is_system_webhook": "true"}})
	if err != nil {
		t.Fatalf("CreateAdminHook: %v", err)
	}
	if sys, _, err := root.ListAdminHooks(gitea.ListAdminHooksOptions{}); err != nil || len(sys) != 1 || sys[0].ID != sysHook.ID {
		t.Fatalf("ListAdminHooks = %v, %v", sys, err)
	}
	off := false
	if _, _, err := root.EditAdminHook(sysHook.ID, gitea.EditHookOption{Active: &off}); err != nil {
		t.Fatalf("EditAdminHook: %v", err)
	}
	if got, _, err := root.GetAdminHook(sysHook.ID); err != nil || got.Active {
		t.Fatalf("GetAdminHook after deactivating = %+v, %v", got, err)
	}
	if _, _, err := root.EditAdminHook(sysHook.ID, gitea.EditHookOption{Active: &active}); err != nil {
		t.Fatalf("EditAdminHook: %v", err)
	}
	if _, err := alice.EditOrgHook("acme", orgHook.ID, gitea.EditHookOption{Config: map[string]string{"url": orgRC.url}, Events: []string{"package"}}); err != nil {
		t.Fatalf("EditOrgHook: %v", err)
	}

	// Bad input: Gitea's statuses, nothing created or changed.
	for _, tc := range []struct {
		name   string
		c      *gitea.Client
		opt    gitea.CreateHookOption
		status int
	}{
		{"bad scheme", alice, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": "ftp://127.0.0.1/x", "content_type": "json"}}, 422},
		{"not a URL", alice, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": "http://[::1", "content_type": "json"}}, 422},
		{"credentials", alice, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": "http://u:p@127.0.0.1/x", "content_type": "json"}}, 422},
		{"disallowed host", alice, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": "http://10.1.2.3/x", "content_type": "json"}}, 422},
		{"unknown event", alice, gitea.CreateHookOption{Type: "gitea", Events: []string{"push"}, Config: map[string]string{"url": orgRC.url, "content_type": "json"}}, 422},
		{"bad content type", alice, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": orgRC.url, "content_type": "xml"}}, 422},
		{"missing url", alice, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"content_type": "json"}}, 422},
		{"other type", alice, gitea.CreateHookOption{Type: "slack", Config: map[string]string{"url": orgRC.url, "content_type": "json"}}, 422},
		{"writer, not owner", bob, gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": orgRC.url, "content_type": "json"}}, 403},
	} {
		_, resp, err := tc.c.CreateOrgHook("acme", tc.opt)
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: CreateOrgHook = %v, %v; want %d", tc.name, resp, err, tc.status)
		}
	}
	if _, resp, err := alice.CreateOrgHook("nope", gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": orgRC.url, "content_type": "json"}}); err == nil || resp.StatusCode != 404 {
		t.Errorf("CreateOrgHook of a missing org = %v, %v; want 404", resp, err)
	}
	if _, resp, err := alice.CreateAdminHook(gitea.CreateHookOption{Type: "gitea", Config: map[string]string{"url": orgRC.url, "content_type": "json"}}); err == nil || resp.StatusCode != 403 {
		t.Errorf("CreateAdminHook by a non-admin = %v, %v; want 403", resp, err)
	}
	if resp, err := alice.EditOrgHook("acme", orgHook.ID, gitea.EditHookOption{Config: map[string]string{"url": "http://user:pw@127.0.0.1/"}}); err == nil || resp.StatusCode != 422 {
		t.Errorf("EditOrgHook with credentials = %v, %v; want 422", resp, err)
	}
	if resp, err := alice.EditOrgHook("acme", sysHook.ID, gitea.EditHookOption{Active: &active}); err == nil || resp.StatusCode != 404 {
		t.Errorf("EditOrgHook of the system hook = %v, %v; want 404", resp, err)
	}
	hooks, _, _ = alice.ListOrgHooks("acme", gitea.ListHooksOptions{})
	if len(hooks) != 1 || hooks[0].Config["url"] != orgRC.url {
		t.Errorf("after refused requests: org hooks %+v", hooks)
	}

	// A new version: one delivery per hook it goes to; a second file, none.
	upload(t, base, "alice", aliceTok, "acme/generic/tool/1.0.0/a.bin", "aaa", 201)
	upload(t, base, "bob", bobTok, "acme/generic/tool/1.0.0/b.bin", "bbb", 201)
	got := orgRC.wait(1, 10*time.Second)
	p := checkSigned(t, got[0], "org-secret")
	for path, want := range map[string]any{
		"action": "created", "package/name": "tool", "package/version": "1.0.0", "package/type": "generic",
		"package/owner/login": "acme", "package/creator/login": "alice", "sender/login": "alice", "organization/name": "acme",
		"package/html_url": base + "/acme/-/packages/generic/tool/1.0.0", "repository": nil,
	} {
		if v := field(p, strings.Split(path, "/")...); v != want {
			t.Errorf("payload %s = %v, want %v", path, v, want)
		}
	}
	if got[0].header.Get("X-Gitea-Hook-Installation-Target-Type") != "organization" {
		t.Errorf("target type = %q", got[0].header.Get("X-Gitea-Hook-Installation-Target-Type"))
	}
	sys := sysRC.wait(1, 10*time.Second)
	if ps := checkSigned(t, sys[0], "sys-secret"); field(ps, "package", "name") != "tool" ||
		sys[0].header.Get("X-Gitea-Hook-Installation-Target-Type") != "system" || sys[0].header.Get("X-Gitea-Delivery") == got[0].header.Get("X-Gitea-Delivery") {
		t.Errorf("system hook delivery: %v %v", ps, sys[0].header)
	}

	// Deleting the version's files, the last one deletes it.
	deletePath(t, base, "alice", aliceTok, "acme/generic/tool/1.0.0/a.bin")
	deletePath(t, base, "bob", bobTok, "acme/generic/tool/1.0.0/b.bin")
	got = orgRC.wait(2, 10*time.Second)
	p = checkSigned(t, got[1], "org-secret")
	if field(p, "action") != "deleted" || field(p, "sender/login") != nil || field(p, "sender", "login") != "bob" || field(p, "package", "version") != "1.0.0" {
		t.Errorf("deleted payload = %v", p)
	}

	// alice's own package: her form-encoded hook, and the system hook.
	upload(t, base, "alice", aliceTok, "alice/generic/own/2/x", "x", 201)
	my := myRC.wait(1, 10*time.Second)
	if my[0].header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("form hook Content-Type = %q", my[0].header.Get("Content-Type"))
	}
	if pm := checkSigned(t, my[0], "my-secret"); field(pm, "organization") != nil || field(pm, "package", "owner", "login") != "alice" ||
		my[0].header.Get("X-Gitea-Hook-Installation-Target-Type") != "user" {
		t.Errorf("user hook payload = %v", pm)
	}
	sysRC.wait(3, 10*time.Second)

	// Deleted hooks hear nothing more.
	if _, err := alice.DeleteOrgHook("acme", orgHook.ID); err != nil {
		t.Fatalf("DeleteOrgHook: %v", err)
	}
	if resp, err := alice.DeleteOrgHook("acme", orgHook.ID); err == nil || resp.StatusCode != 404 {
		t.Errorf("DeleteOrgHook again = %v, %v; want 404", resp, err)
	}
	if _, err := alice.DeleteMyHook(myHook.ID); err != nil {
		t.Fatalf("DeleteMyHook: %v", err)
	}
	upload(t, base, "alice", aliceTok, "acme/generic/tool/3/a", "a", 201)
	sysRC.wait(4, 10*time.Second)
	if n := orgRC.count(); n != 2 {
		t.Errorf("deleted org hook got %d deliveries in all, want 2", n)
	}
	if _, err := root.DeleteAdminHook(sysHook.ID); err != nil {
		t.Errorf("DeleteAdminHook: %v", err)
	}
}

// TestWebhookRetries points a hook at a receiver that fails twice (500),
// then hangs past the per-try timeout, then recovers: the delivery is
// tried four times with growing waits, under one delivery id and with the
// same body, and the delivery log shows each try.
func TestWebhookRetries(t *testing.T) {
	dir := t.TempDir()
	c := hookConfig(dir)
	m := MustRunMain(t, c)
	base := "http://" + m.Addr()
	ctx := context.Background()
	rc := newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0, 1:
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
		case 2:
			select { // longer than the per-try timeout
			case <-release:
			case <-time.After(3 * c.WebhookTimeout):
			}
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}
	root := mustAdmin(t, m, "root")
	if _, err := m.Service.CreateHook(ctx, root, "root", depot.HookInput{Type: "gitea", URL: &rc.url, ContentType: ptr("json"), Secret: ptr("k"), Active: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, m, root)
	upload(t, base, "root", tok, "root/generic/app/1/app.bin", "bytes", 201)
	got := rc.wait(4, 30*time.Second)
	for i, g := range got {
		checkSigned(t, g, "k")
		if g.header.Get("X-Gitea-Delivery") != got[0].header.Get("X-Gitea-Delivery") || !bytes.Equal(g.body, got[0].body) {
			t.Errorf("try %d: another delivery id or body", i)
		}
	}
	// Exponential backoff: 200 ms, 400 ms, 800 ms (plus the hung try).
	for i, min := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800*time.Millisecond + c.WebhookTimeout} {
		if gap := got[i+1].at.Sub(got[i].at); gap < min {
			t.Errorf("wait before try %d = %v, want at least %v", i+2, gap, min)
		}
	}
	hooks, _ := m.Service.ListHooks(ctx, root, "root")
	var log []*depot.DeliveryAttempt
	deadline := time.Now().Add(10 * time.Second)
	for len(log) < 4 && time.Now().Before(deadline) {
		log, _ = m.Service.HookDeliveries(ctx, root, "root", hooks[0].ID, 10)
		time.Sleep(50 * time.Millisecond)
	}
	if len(log) != 4 {
		t.Fatalf("delivery log has %d tries, want 4", len(log))
	}
	// Newest first: 204, timeout, 500, 500.
	if log[0].StatusCode != 204 || !log[0].Success || log[1].StatusCode != 0 || !strings.Contains(log[1].Error, "Timeout") ||
		log[2].StatusCode != 500 || log[2].ResponseBody != "down for maintenance\n" || log[3].Success {
		for _, a := range log {
			t.Logf("try: status %d success %v err %q body %q", a.StatusCode, a.Success, a.Error, a.ResponseBody)
		}
		t.Errorf("delivery log is not 204, timeout, 500, 500")
	}
	if log[1].Duration < c.WebhookTimeout || !strings.Contains(log[3].RequestHeaders, "X-Gitea-Event: package") || log[3].RequestBody != string(got[0].body) {
		t.Errorf("log details: timeout try took %v; first try headers %q", log[1].Duration, log[3].RequestHeaders)
	}
	// The web UI shows the log; its Redeliver button sends the delivery
	// again: a new delivery id, the same body.
	web := newWebClient(t, base)
	web.signIn("root", "root-password-1")
	page := fmt.Sprintf("/root/-/hooks/%d", hooks[0].ID)
	body := web.get(page)
	for _, want := range []string{got[0].header.Get("X-Gitea-Delivery"), ">204<", "no response", ">500<", "down for maintenance", "X-Gitea-Signature: ", "Timeout"} {
		if !strings.Contains(body, want) {
			t.Errorf("hook page lacks %q", want)
		}
	}
	action := regexp.MustCompile(`action="(/root/-/hooks/\d+/deliveries/\d+/redeliver)"`).FindStringSubmatch(body)
	if action == nil {
		t.Fatalf("no redeliver button on %s", page)
	}
	if code := web.post(action[1], url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("redeliver: %d", code)
	}
	again := rc.wait(5, 10*time.Second)[4]
	if again.header.Get("X-Gitea-Delivery") == got[0].header.Get("X-Gitea-Delivery") || !bytes.Equal(again.body, got[0].body) {
		t.Errorf("redelivery: id %q body equal %v", again.header.Get("X-Gitea-Delivery"), bytes.Equal(again.body, got[0].body))
	}
}

func ptr[T any](v T) *T { return &v }

// mustAdmin creates a site admin through the service and returns it as an
// actor.
func mustAdmin(t testing.TB, m *Main, name string) *depot.Actor {
	t.Helper()
	u, err := m.Service.CreateUser(context.Background(), depot.NewUser{Username: name, Password: name + "-password-1", Email: name + "@example.com", Admin: true})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return &depot.Actor{User: u}
}

func mustToken(t testing.TB, m *Main, a *depot.Actor) string {
	t.Helper()
	secret, _, err := m.Service.CreateToken(context.Background(), a.User.Name, "t", depot.Scopes{depot.ScopeAll}, nil)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return secret
}

// webClient is a cookie-keeping client of the web UI that fills in the CSRF
// token of the page it last read.
type webClient struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func newWebClient(t testing.TB, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *webClient) get(path string) string {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return string(body)
}

func (b *webClient) post(path string, form url.Values) int {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (b *webClient) signIn(user, password string) {
	b.t.Helper()
	b.get("/-/signin")
	if code := b.post("/-/signin", url.Values{"username": {user}, "password": {password}}); code != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d", user, code)
	}
}

// TestHookCLI manages hooks with the admin CLI: create (with the
// allowed-hosts setting applied), list, the delivery log after a delivery
// to a real receiver, delete; a refused target exits 1 naming the reason.
func TestHookCLI(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir, "DEPOT_WEBHOOK_ALLOWED_HOSTS": "loopback"}
	cli := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != want {
			t.Fatalf("depot %s: exit %d, want %d: %s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return strings.TrimSpace(out + errOut)
	}
	m := MustRunMain(t, hookConfig(dir))
	cli(0, "admin", "user", "create", "--username", "carol", "--password", "carol-password", "--email", "carol@example.com")
	tok := cli(0, "admin", "token", "create", "--username", "carol", "--name", "ci", "--scopes", "all")
	rc := newReceiver(t)
	if out := cli(1, "admin", "hook", "create", "--owner", "carol", "--url", "http://192.168.7.7/x"); !strings.Contains(out, "allowed HTTP servers") {
		t.Errorf("disallowed host: %q", out)
	}
	if out := cli(1, "admin", "hook", "create", "--owner", "carol", "--url", "http://a:b@127.0.0.1/x"); !strings.Contains(out, "credentials") {
		t.Errorf("credentials: %q", out)
	}
	id := cli(0, "admin", "hook", "create", "--owner", "carol", "--url", rc.url, "--secret", "cli")
	if out := cli(0, "admin", "hook", "list", "--owner", "carol"); !strings.Contains(out, rc.url) || strings.Count(out, "\n") != 1 {
		t.Errorf("hook list: %q", out)
	}
	upload(t, "http://"+m.Addr(), "carol", tok, "carol/generic/c/1/f", "f", 201)
	checkSigned(t, rc.wait(1, 10*time.Second)[0], "cli")
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = cli(0, "admin", "hook", "deliveries", "--owner", "carol", "--id", id); strings.Contains(out, "  200") {
			break
		}
	}
	if !strings.Contains(out, "created") || !strings.Contains(out, "  200") {
		t.Errorf("deliveries: %q", out)
	}
	cli(0, "admin", "hook", "delete", "--owner", "carol", "--id", id)
	if out := cli(0, "admin", "hook", "list", "--owner", "carol"); strings.Contains(out, rc.url) {
		t.Errorf("hook list after delete: %q", out)
	}
	cli(1, "admin", "hook", "delete", "--owner", "carol", "--id", id)
}
