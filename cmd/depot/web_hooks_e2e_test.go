package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/depot-registry/depot/internal/depot"
)

// TestWebhookPagesInChromium adds a webhook through the form in headless
// Chromium, lets a receiver fail the first delivery and take the retry,
// reads the delivery log on the hook's page and presses Redeliver; every
// page passes the accessibility and same-origin checks.
func TestWebhookPagesInChromium(t *testing.T) {
	m := MustRunMain(t, hookConfig(t.TempDir()))
	base := "http://" + m.Addr()
	ctx := context.Background()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: "alice", Email: "alice@example.com", Password: "alice-pass-1"}); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}
	b := newBrowser(t, base)
	b.signIn("alice", "alice-pass-1")
	b.do(chromedp.EmulateViewport(1200, 800))
	b.open("/alice/-/hooks", http.StatusOK)
	b.check("hooks (empty)")
	b.do(chromedp.SendKeys("#h-url", rc.url), chromedp.SendKeys("#h-secret", "browser-secret"))
	b.submit("form.panel button[type=submit]")
	if title := b.text("h1"); !strings.HasPrefix(title, "Webhook ") {
		t.Fatalf("after adding: page %q", title)
	}
	b.check("hook (new)")

	alice := &depot.Actor{User: mustUserByName(t, m, "alice")}
	if _, err := m.Service.UploadFile(ctx, alice, depot.FileRef{Owner: "alice", Type: depot.TypeGeneric, Package: "tool", Version: "1.0.0", File: "tool.tar.gz"}, 5, strings.NewReader("bytes")); err != nil {
		t.Fatal(err)
	}
	checkSigned(t, rc.wait(2, 10*time.Second)[1], "browser-secret")
	hooks, _ := m.Service.ListHooks(ctx, alice, "alice")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if log, _ := m.Service.HookDeliveries(ctx, alice, "alice", hooks[0].ID, 10); len(log) == 2 {
			break
		}
	}
	b.open("/alice/-/hooks/"+itoa(hooks[0].ID), http.StatusOK)
	html := b.html()
	for _, want := range []string{">503<", ">200<", "not yet", "X-Gitea-Event: package", "package created"} {
		if !strings.Contains(html, want) {
			t.Errorf("hook page lacks %q", want)
		}
	}
	b.check("hook (deliveries)")
	b.screenshot("hook")
	b.submit(`form[action$="/redeliver"] button`)
	rc.wait(3, 10*time.Second)
	b.open("/alice/-/hooks", http.StatusOK)
	b.check("hooks")
	b.screenshot("hooks")
}

func mustUserByName(t *testing.T, m *Main, name string) *depot.User {
	t.Helper()
	u, err := m.Service.User(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
