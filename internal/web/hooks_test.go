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

// TestHooksPages creates, edits and deletes a webhook through the forms,
// refuses bad targets with the reason and nothing stored, and keeps
// other users out.
func TestHooksPages(t *testing.T) {
	e := newEnv(t, web.Options{})
	alice := e.client(t)
	alice.signIn("alice")
	token := alice.csrf("/alice/-/hooks")
	for _, bad := range []struct{ url, want string }{
		{"ftp://127.0.0.1/x", "Invalid url"},
		{"http://user:pw@127.0.0.1/x", "credentials"},
		{"http:///nohost", "no host"},
	} {
		resp, body := alice.post("/alice/-/hooks", url.Values{"csrf": {token}, "url": {bad.url}, "content_type": {"json"}, "active": {"on"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, bad.want) {
			t.Errorf("create with %s: %d, body has %q: %v", bad.url, resp.StatusCode, bad.want, strings.Contains(body, bad.want))
		}
	}
	resp, _ := alice.post("/alice/-/hooks", url.Values{"csrf": {token}, "url": {"http://127.0.0.1:9/in"}, "content_type": {"xml"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad content type: %d", resp.StatusCode)
	}
	a := e.actor(t, "alice")
	if hs, _ := e.svc.ListHooks(context.Background(), a, "alice"); len(hs) != 0 {
		t.Fatalf("refused forms created %d hooks", len(hs))
	}
	resp, _ = alice.post("/alice/-/hooks", url.Values{"url": {"http://127.0.0.1:9/in"}, "content_type": {"json"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("create without CSRF: %d, want 403", resp.StatusCode)
	}
	resp, _ = alice.post("/alice/-/hooks", url.Values{"csrf": {token}, "url": {"http://127.0.0.1:9/in"}, "content_type": {"json"}, "secret": {"s"}, "active": {"on"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/alice/-/hooks/") {
		t.Fatalf("create: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	page := resp.Header.Get("Location")
	_, body := alice.get(page)
	if !strings.Contains(body, `value="http://127.0.0.1:9/in"`) || !strings.Contains(body, "No deliveries yet") {
		t.Errorf("hook page does not show the hook")
	}
	_, body = alice.get("/alice/-/hooks")
	if !strings.Contains(body, "http://127.0.0.1:9/in") {
		t.Errorf("hooks page does not list the hook")
	}
	resp, body = alice.post(page, url.Values{"csrf": {token}, "url": {"gopher://127.0.0.1:9/"}, "content_type": {"json"}, "active": {"on"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Invalid url") {
		t.Errorf("edit with a bad URL: %d", resp.StatusCode)
	}
	resp, _ = alice.post(page, url.Values{"csrf": {token}, "url": {"http://127.0.0.1:9/other"}, "content_type": {"form"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	hs, _ := e.svc.ListHooks(context.Background(), a, "alice")
	if len(hs) != 1 || hs[0].URL != "http://127.0.0.1:9/other" || hs[0].ContentType != "form" || hs[0].Active || hs[0].Secret != "s" {
		t.Errorf("after edit: %+v", hs[0])
	}

	bob := e.client(t)
	bob.signIn("bob")
	if resp, _ := bob.get("/alice/-/hooks"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob on alice's hooks: %d, want 403", resp.StatusCode)
	}
	if resp, _ := bob.get("/secretco/-/hooks"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob on a private org's hooks: %d, want 404", resp.StatusCode)
	}
	if resp, _ := bob.get("/-/admin/webhooks"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob on system hooks: %d, want 403", resp.StatusCode)
	}
	if resp, _ := bob.post(page+"/delete", url.Values{"csrf": {bob.csrf("/")}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob deleting alice's hook: %d, want 403", resp.StatusCode)
	}
	root := e.client(t)
	root.signIn("root")
	resp, _ = root.post("/-/admin/webhooks", url.Values{"csrf": {root.csrf("/-/admin/webhooks")}, "url": {"http://127.0.0.1:9/sys"}, "content_type": {"json"}, "active": {"on"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/-/admin/webhooks/") {
		t.Errorf("system hook: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, _ = alice.post(page+"/delete", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := alice.get(page); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted hook's page: %d, want 404", resp.StatusCode)
	}
}

func (e *env) actor(t *testing.T, name string) *depot.Actor {
	return &depot.Actor{User: mustUser(t, e.svc, name)}
}
