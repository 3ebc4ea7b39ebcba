package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/depot-registry/depot/internal/depot"
)

// TestCleanupUIInChromium drives the cleanup rules page in headless
// Chromium: an invalid pattern is refused naming the field with the form
// kept and no rule stored; a valid rule is added; its preview lists exactly
// the versions "Run now" then deletes; the rule is edited and deleted; no
// console error, no foreign request, the accessibility checks of
// TestWebUIInChromium. Screenshot: cleanup.
func TestCleanupUIInChromium(t *testing.T) {
	m := MustRunMain(t, Config{})
	base := "http://" + m.Addr()
	ctx := context.Background()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: "bob", Email: "bob@example.com", Password: "bob-pass-12"}); err != nil {
		t.Fatal(err)
	}
	bobUser, err := m.Service.User(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bob := &depot.Actor{User: bobUser}
	for i, v := range []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "1.2.0", "1.3.0"} {
		ref := depot.FileRef{Owner: "bob", Type: depot.TypeGeneric, Package: "tool", Version: v, File: "tool.tar.gz"}
		body := strings.Repeat("x", 1000*(i+1))
		if _, err := m.Service.UploadFile(ctx, bob, ref, int64(len(body)), strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	versions := func() []string {
		t.Helper()
		page, err := m.Service.ListVersions(ctx, bob, depot.PackageQuery{Owner: "bob", Type: depot.TypeGeneric, Name: "tool", ExactName: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range page.Versions {
			out = append(out, v.Version.Version)
		}
		return out
	}

	br := newBrowser(t, base)
	rowsOf := func(sel string) string {
		t.Helper()
		return strings.Join(run(br, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("`+sel+`")).map(tr => tr.children[1].textContent.trim())`)), ",")
	}
	br.signIn("bob", "bob-pass-12")
	br.open("/bob", http.StatusOK)
	br.submit(`a[href="/bob/-/settings/cleanup"]`)
	br.do(
		chromedp.Clear(chromedp.ID("c-keep-count")), chromedp.SendKeys(chromedp.ID("c-keep-count"), "2"),
		chromedp.SendKeys(chromedp.ID("c-keep-pattern"), "v("),
		chromedp.Click(chromedp.ID("c-pre")),
		chromedp.SetValue(chromedp.ID("c-order"), "semver"),
	)
	br.submit(`#cleanup-form button[type=submit]`)
	if got := br.text(".alert"); !strings.HasPrefix(got, "keep_pattern: invalid regular expression") {
		t.Errorf("alert after an invalid pattern: %q", got)
	}
	if got := run(br, chromedp.Evaluate[string](`document.getElementById("c-keep-count").value`)); got != "2" {
		t.Errorf("keep count after the refused post: %q, want the typed 2", got)
	}
	if rules, _ := m.Service.CleanupRules(ctx, bob, "bob"); len(rules) != 0 {
		t.Fatalf("a refused rule was stored: %+v", rules)
	}
	time.Sleep(100 * time.Millisecond)
	expectProblem(t, br, "status of 400") // the refused post's answer, as intended
	br.check("cleanup (invalid pattern)")
	br.do(chromedp.Clear(chromedp.ID("c-keep-pattern")))
	br.submit(`#cleanup-form button[type=submit]`)
	if got := br.text("#cleanup-rules tbody tr td:nth-child(4)"); got != "2" {
		t.Fatalf("keep count in the rules table: %q", got)
	}
	br.submit(`#cleanup-rules a[href*="preview="]`)
	// semver order, prereleases not counted: 1.3.0 and 1.2.0 kept by count.
	const want = "1.2.0-rc.1,1.1.0,1.0.0"
	if got := rowsOf("#cleanup-plan tr.cleanup-delete"); got != want {
		t.Fatalf("preview lists %q, want %q", got, want)
	}
	if got := strings.Join(versions(), ","); got != "1.3.0,1.2.0,1.2.0-rc.1,1.1.0,1.0.0" {
		t.Fatalf("versions after the preview: %s", got)
	}
	br.check("cleanup preview")
	br.screenshot("cleanup")
	br.submit("#cleanup-run")
	if got := br.text("#cleanup-plan h2"); got != "Deleted just now" {
		t.Errorf("after Run now: %q", got)
	}
	if got := rowsOf("#cleanup-plan tr.cleanup-delete"); got != want {
		t.Errorf("run lists %q, want %q", got, want)
	}
	if got := strings.Join(versions(), ","); got != "1.3.0,1.2.0" {
		t.Errorf("versions after Run now: %s, want 1.3.0,1.2.0", got)
	}
	br.check("cleanup run")
	br.submit(`#cleanup-rules a[href*="edit="]`)
	br.do(chromedp.Clear(chromedp.ID("c-keep-count")), chromedp.SendKeys(chromedp.ID("c-keep-count"), "1"))
	br.submit(`#cleanup-form button[type=submit]`)
	if got := br.text("#cleanup-rules tbody tr td:nth-child(4)"); got != "1" {
		t.Errorf("keep count after editing: %q", got)
	}
	br.submit(`#cleanup-rules form[action$="/delete"] button`)
	if html := br.html(); strings.Contains(html, `id="cleanup-rules"`) || !strings.Contains(html, "No cleanup rules yet") {
		t.Errorf("the rule is still listed after Delete")
	}
	br.check("cleanup after delete")
}

// expectProblem removes from b's problems the ones containing substr, and
// fails the test if there was none.
func expectProblem(t *testing.T, b *browser, substr string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var keep []string
	for _, p := range b.problems {
		if !strings.Contains(p, substr) {
			keep = append(keep, p)
		}
	}
	if len(keep) == len(b.problems) {
		t.Errorf("no browser problem %q seen", substr)
	}
	b.problems = keep
}
