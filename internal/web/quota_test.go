package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/web"
)

// TestQuotaSettings sets an owner's quota through the settings page as a
// site admin: bad values answer 400 naming the field and change nothing,
// a good one is saved and shown on the owner page; the owner itself sees
// the page without the form and cannot post it.
func TestQuotaSettings(t *testing.T) {
	e := newEnv(t, web.Options{})
	root := e.client(t)
	root.signIn("root")
	token := root.csrf("/alice/-/settings")
	for _, bad := range []url.Values{
		{"max_versions": {"ten"}},
		{"max_size": {"-2"}},
		{"max_file_size": {"lots"}},
	} {
		bad.Set("csrf", token)
		resp, body := root.post("/alice/-/settings/quota", bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "must be empty (the server") {
			t.Errorf("post %v: %s, want 400 with the rule", bad, resp.Status)
		}
	}
	_, body := root.get("/alice")
	if strings.Contains(body, "quota") || strings.Contains(body, " of <strong>") {
		t.Errorf("owner page shows a limit before any was set")
	}
	resp, _ := root.post("/alice/-/settings/quota", url.Values{"csrf": {token}, "max_size": {"1KiB"}, "max_versions": {"3"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save quota: %s", resp.Status)
	}
	_, body = root.get("/alice")
	for _, want := range []string{"storage used <strong>5 B</strong> of <strong>1.0 KiB</strong>", "versions <strong>1</strong> of <strong>3</strong>", `<meter class="quota" min="0" max="1024"`} {
		if !strings.Contains(body, want) {
			t.Errorf("owner page lacks %q", want)
		}
	}
	_, body = root.get("/alice/-/settings")
	if !strings.Contains(body, `value="1.0 KiB"`) || !strings.Contains(body, "owner quota") {
		t.Errorf("settings page does not show the saved quota")
	}
	alice := e.client(t)
	alice.signIn("alice")
	resp, body = alice.get("/alice/-/settings")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "Save quota") || !strings.Contains(body, "1.0 KiB") {
		t.Errorf("alice's settings page: %s, form shown: %v", resp.Status, strings.Contains(body, "Save quota"))
	}
	resp, _ = alice.post("/alice/-/settings/quota", url.Values{"csrf": {alice.csrf("/alice/-/settings")}, "max_size": {"-1"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("alice posting her own quota: %s, want 403", resp.Status)
	}
}

// TestImmutableSetting turns immutable versions on from the settings page:
// a bad grace is a 400, and once on, the version page's delete is refused
// with 409 naming the setting.
func TestImmutableSetting(t *testing.T) {
	e := newEnv(t, web.Options{})
	alice := e.client(t)
	alice.signIn("alice")
	token := alice.csrf("/alice/-/settings")
	resp, body := alice.post("/alice/-/settings", url.Values{"csrf": {token}, "immutable_versions": {"on"}, "immutable_grace": {"soon"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "grace window must be a duration") {
		t.Errorf("bad grace: %s", resp.Status)
	}
	bob := e.client(t)
	bob.signIn("bob")
	if resp, _ := bob.post("/alice/-/settings", url.Values{"csrf": {bob.csrf("/alice")}, "immutable_versions": {"on"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob setting alice's settings: %s, want 403", resp.Status)
	}
	resp, _ = alice.post("/alice/-/settings", url.Values{"csrf": {token}, "immutable_versions": {"on"}, "immutable_grace": {"0s"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %s", resp.Status)
	}
	if _, body := alice.get("/alice/-/settings"); !strings.Contains(body, "<strong>On</strong>") {
		t.Errorf("settings page does not show the setting on")
	}
	resp, body = alice.post("/alice/-/packages/generic/tool/1.0.0/delete", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "immutable_versions") {
		t.Errorf("delete of a sealed version: %s, want 409 naming the setting", resp.Status)
	}
}
