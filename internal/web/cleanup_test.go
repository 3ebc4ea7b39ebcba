package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/web"
)

// TestCleanupPage: only the owner's admins see and change the rules
// (others 403, a private org 404, anonymous to sign-in), a form post
// without the CSRF token changes nothing, bad numbers and patterns are
// 400 naming the field, and a preview deletes nothing.
func TestCleanupPage(t *testing.T) {
	e := newEnv(t, web.Options{})
	ctx := context.Background()
	page := "/alice/-/settings/cleanup"
	anon := e.client(t)
	if resp, _ := anon.get(page); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/-/signin") {
		t.Errorf("anonymous: %s %s, want a redirect to sign in", resp.Status, resp.Header.Get("Location"))
	}
	bob := e.client(t)
	bob.signIn("bob")
	if resp, _ := bob.get(page); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob on alice's cleanup rules: %s, want 403", resp.Status)
	}
	if resp, _ := bob.get("/secretco/-/settings/cleanup"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob on a private org's cleanup rules: %s, want 404", resp.Status)
	}
	if resp, _ := bob.post(page, url.Values{"csrf": {bob.csrf("/-/settings/tokens")}, "keep_count": {"1"}, "enabled": {"on"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob adding a rule to alice: %s, want 403", resp.Status)
	}

	c := e.client(t)
	c.signIn("alice")
	if _, body := c.get("/alice"); !strings.Contains(body, `href="/alice/-/settings/cleanup"`) {
		t.Error("the owner page does not link to the cleanup rules")
	}
	if resp, _ := c.post(page, url.Values{"keep_count": {"1"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("post without the CSRF token: %s, want 403", resp.Status)
	}
	csrf := c.csrf(page)
	for _, f := range []struct{ field, value string }{{"keep_count", "-1"}, {"keep_count", "many"}, {"remove_days", "-2"}, {"keep_pattern", "(x"}, {"remove_pattern", "[b-a]"}, {"not_downloaded_days", "1.5"}} {
		resp, body := c.post(page, url.Values{"csrf": {csrf}, f.field: {f.value}, "enabled": {"on"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, f.field+":") {
			t.Errorf("%s=%q: %s, want 400 naming the field", f.field, f.value, resp.Status)
		}
	}
	alice := &depot.Actor{User: mustUser(t, e.svc, "alice")}
	if rules, _ := e.svc.CleanupRules(ctx, alice, "alice"); len(rules) != 0 {
		t.Fatalf("refused posts stored rules: %+v", rules)
	}
	if resp, _ := c.post(page, url.Values{"csrf": {csrf}, "keep_count": {"0"}, "enabled": {"on"}, "order": {"created"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %s", resp.Status)
	}
	rules, err := e.svc.CleanupRules(ctx, alice, "alice")
	if err != nil || len(rules) != 1 || !rules[0].Enabled {
		t.Fatalf("rules after add: %+v, %v", rules, err)
	}
	_, body := c.get(page + "?preview=all")
	if !strings.Contains(body, "would be deleted") || !strings.Contains(body, "1.0.0") {
		t.Errorf("preview does not list alice's tool 1.0.0:\n%s", body)
	}
	if _, err := e.svc.PackageVersions(ctx, alice, "alice", "tool"); err != nil {
		t.Errorf("the preview deleted the package: %v", err)
	}
	if resp, _ := c.post(page+"/run", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("run: %s", resp.Status)
	}
	if _, err := e.svc.PackageVersions(ctx, alice, "alice", "tool"); err == nil {
		t.Error("Run now left alice's tool")
	}
}
