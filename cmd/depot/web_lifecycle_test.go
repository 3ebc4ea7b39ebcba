package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/depot-registry/depot/internal/depot"
)

// TestLifecycleUIInChromium drives the owner settings page and the
// download chart in headless Chromium: a site admin sets a user's quota
// through the form, the owner page shows used of limit, the user turns
// immutable versions on, and the package page draws the downloads of the
// last 30 days as inline SVG, with no console error, no foreign request and
// the accessibility checks of TestWebUIInChromium. Screenshots: settings,
// package-downloads.
func TestLifecycleUIInChromium(t *testing.T) {
	m := MustRunMain(t, Config{})
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
	bobUser, err := m.Service.User(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bob := &depot.Actor{User: bobUser}
	for i, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		ref := depot.FileRef{Owner: "bob", Type: depot.TypeGeneric, Package: "tool", Version: v, File: "tool.tar.gz"}
		body := strings.Repeat("x", 1000*(i+1))
		if _, err := m.Service.UploadFile(ctx, bob, ref, int64(len(body)), strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		v := []string{"1.0.0", "1.1.0", "2.0.0"}[i%3]
		req, _ := http.NewRequest(http.MethodGet, base+"/api/packages/bob/generic/tool/"+v+"/tool.tar.gz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := m.Service.FlushDownloads(ctx); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, base)
	b.signIn("root", "root-pass-1")
	b.open("/bob/-/settings", http.StatusOK)
	b.do(
		chromedp.SendKeys(chromedp.ID("q-size"), "10KiB"),
		chromedp.SendKeys(chromedp.ID("q-versions"), "5"),
	)
	b.submit(`form[action$="/settings/quota"] button[type=submit]`)
	if got := b.text(`main table tbody tr:nth-child(2) td:nth-child(3)`); got != "10 KiB" {
		t.Errorf("storage limit after saving the form: %q, want 10 KiB", got)
	}
	b.check("settings (site admin)")
	b.open("/bob", http.StatusOK)
	if got := b.text("main p.muted"); !strings.Contains(got, "5.9 KiB of 10 KiB") || !strings.Contains(got, "versions 3 of 5") {
		t.Errorf("owner page header %q lacks used of limit", got)
	}
	b.check("owner with quota")
	b.signOut()

	b.signIn("bob", "bob-pass-12")
	b.open("/bob/-/settings", http.StatusOK)
	b.do(chromedp.Click(chromedp.ID("s-immutable")), chromedp.Clear(chromedp.ID("s-grace")), chromedp.SendKeys(chromedp.ID("s-grace"), "15m"))
	b.submit(`form[action$="/-/settings"] button[type=submit]`)
	if html := b.html(); !strings.Contains(html, "<strong>On</strong>") || strings.Contains(html, "Save quota") {
		t.Errorf("bob's settings page: immutable not on, or the quota form shown to a non-admin")
	}
	b.check("settings (owner)")
	b.screenshot("settings")
	b.open("/bob/-/packages/generic/tool", http.StatusOK)
	if got := b.text("figure.chart figcaption strong"); got != "7" {
		t.Errorf("chart total %q, want 7", got)
	}
	if n := run(b, chromedp.Evaluate[int](`document.querySelectorAll("figure.chart svg rect.bar").length`)); n != depot.DownloadDays {
		t.Errorf("%d bars, want %d", n, depot.DownloadDays)
	}
	if h := run(b, chromedp.Evaluate[int](`document.querySelector("figure.chart svg rect.bar:last-of-type").getBBox().height`)); h < 50 {
		t.Errorf("today's bar is %d px high, want the tallest (about 59)", h)
	}
	b.check("package with downloads")
	b.screenshot("package-downloads")
}
