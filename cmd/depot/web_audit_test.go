package main

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/depot-registry/depot/internal/depot"
)

// TestAuditUIInChromium drives the audit log page in headless Chromium: a
// site admin reaches it from the admin page, sees the changes with their
// actor and client address, filters by actor and by action through the
// form, and an owner sees its own log only; with no console error, no
// foreign request and the accessibility checks. Screenshot: audit.
func TestAuditUIInChromium(t *testing.T) {
	m := MustRunMain(t, Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	base := "http://" + m.Addr()
	ctx := context.Background()
	for _, nu := range []depot.NewUser{
		{Username: "root", Email: "root@example.com", Password: "root-pass-1", Admin: true},
		{Username: "bob", Email: "bob@example.com", Password: "bob-pass-12"},
	} {
		if _, err := m.Service.CreateUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	bob := auditClient{t: t, base: base, addr: "198.51.100.23", auth: basicAuth("bob", "bob-pass-12")}
	bob.must(http.StatusCreated, http.MethodPost, "/api/v1/users/bob/tokens", `{"name":"release","scopes":["write:package"]}`)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		bob.must(http.StatusCreated, http.MethodPut, "/api/packages/bob/generic/tool/"+v+"/tool.tar.gz", "tool "+v)
	}
	bob.must(http.StatusNoContent, http.MethodDelete, "/api/packages/bob/generic/tool/1.0.0/tool.tar.gz", "")
	guess := auditClient{t: t, base: base, addr: "192.0.2.44", auth: basicAuth("root", "hunter2")}
	for range 4 {
		guess.must(http.StatusUnauthorized, http.MethodGet, "/api/v1/user", "")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		evs, err := m.Service.AdminAuditLog(ctx, depot.AuditQuery{Action: depot.AuditSignInFailed})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed sign-ins were not flushed within 10s")
		}
	}

	b := newBrowser(t, base)
	b.signIn("root", "root-pass-1")
	b.open("/-/admin", http.StatusOK)
	b.submit(`main a[href="/-/admin/audit"]`)
	rows := func() []string {
		return run(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.audit tbody tr")).map(tr =>
			Array.from(tr.querySelectorAll("td")).map(td => td.textContent.trim()).join(" | "))`))
	}
	all := rows()
	if len(all) < 8 {
		t.Fatalf("audit page shows %d events, want at least 8: %q", len(all), all)
	}
	want := []string{
		"root | 127.0.0.1 | signin",                                                // the browser's own sign-in, newest
		"root | 192.0.2.44 | signin.failed",                                        // 4 guesses, one row
		"bob | 198.51.100.23 | file.delete | bob | generic/tool/1.0.0/tool.tar.gz", // the delete
		"bob | 198.51.100.23 | token.create | bob | release",
	}
	joined := strings.Join(all, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("audit page lacks a row with %q:\n%s", w, joined)
		}
	}
	if !strings.Contains(all[0], "| signin |") {
		t.Errorf("newest row %q, want root's sign-in first", all[0])
	}
	if !strings.Contains(joined, `"attempts":4`) {
		t.Errorf("the failed sign-ins row lacks its 4 attempts:\n%s", joined)
	}
	b.check("audit log")
	b.screenshot("audit")

	// Filter by actor, then by action too, through the form.
	b.do(chromedp.SendKeys(chromedp.ID("a-actor"), "bob"))
	b.submit(`form.filters button[type=submit]`)
	byBob := rows()
	for _, r := range byBob {
		if cols := strings.Split(r, " | "); len(cols) < 2 || cols[1] != "bob" {
			t.Errorf("actor filter bob shows %q", r)
		}
	}
	if len(byBob) != 4 {
		t.Errorf("actor filter bob: %d rows, want his token, 2 uploads and a delete", len(byBob))
	}
	b.do(chromedp.SetValue(chromedp.ID("a-action"), "file.upload"))
	b.submit(`form.filters button[type=submit]`)
	if got := rows(); len(got) != 2 || !strings.Contains(got[0], "generic/tool/1.1.0/tool.tar.gz") || !strings.Contains(got[1], "generic/tool/1.0.0/tool.tar.gz") {
		t.Errorf("bob's uploads: %q, want 1.1.0 then 1.0.0", got)
	}
	if v := run(b, chromedp.Evaluate[string](`document.getElementById("a-action").value`)); v != "file.upload" {
		t.Errorf("the action filter shows %q after filtering, want it kept", v)
	}
	b.check("audit log filtered")
	b.mu.Lock()
	b.allowed404[base+"/-/admin/audit?since=whenever"] = true // a 400, expected
	b.mu.Unlock()
	b.open("/-/admin/audit?since=whenever", http.StatusBadRequest)
	if got := b.text(`p.alert`); !strings.Contains(got, "whenever") {
		t.Errorf("a bad since filter: alert %q", got)
	}
	b.signOut()

	// An owner reads its own log; the site log is not for it.
	b.signIn("bob", "bob-pass-12")
	b.open("/bob/-/audit", http.StatusOK)
	for _, r := range rows() {
		if strings.Contains(r, "signin.failed") || strings.Contains(r, "root |") {
			t.Errorf("bob's log shows another owner's event %q", r)
		}
	}
	if n := len(rows()); n < 4 {
		t.Errorf("bob's log has %d events, want his token, 2 uploads and a delete", n)
	}
	b.check("owner audit log")
	b.open("/-/admin/audit", http.StatusForbidden)
}
