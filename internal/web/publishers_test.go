package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/oidc"
	"github.com/depot-registry/depot/internal/oidc/issuertest"
	"github.com/depot-registry/depot/internal/web"
)

// TestTrustedPublishersPage manages alice's publishers through the form,
// publishes with a token exchanged from a loopback issuer's ID token, and
// checks the exchange on the settings page and the CI identity on the
// version page.
func TestTrustedPublishersPage(t *testing.T) {
	is := issuertest.New(t)
	const aud = "https://depot.example"
	e := newEnvWith(t, web.Options{}, &depot.Options{Verifier: oidc.New(nil), BaseURL: aud})
	c := e.client(t)
	page := "/alice/-/settings/trusted-publishers"

	bob := e.client(t)
	bob.signIn("bob")
	if resp, _ := bob.get(page); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob on alice's publishers: %s, want 403", resp.Status)
	}
	if resp, _ := bob.get("/secretco/-/settings/trusted-publishers"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob on a private org's publishers: %s, want 404", resp.Status)
	}

	c.signIn("alice")
	if _, body := c.get("/alice"); !strings.Contains(body, `href="/alice/-/settings/trusted-publishers"`) {
		t.Error("the owner page does not link to the trusted publishers")
	}
	csrf := c.csrf(page)
	resp, body := c.post(page, url.Values{"csrf": {csrf}, "issuer": {is.URL}, "claims": {"repository=*"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "does not match everything") {
		t.Errorf("publisher matching every repository: %s, want 400 with the reason", resp.Status)
	}
	resp, _ = c.post(page, url.Values{"csrf": {csrf}, "issuer": {is.URL}, "claims": {"repository=alice/tool\r\nrepository_id=74\r\n"}, "packages": {"tool, tool-*"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %s", resp.Status)
	}
	ps, err := e.svc.TrustedPublishers(context.Background(), "alice")
	if err != nil || len(ps) != 1 || len(ps[0].Claims) != 2 || len(ps[0].Packages) != 2 {
		t.Fatalf("publishers %+v, %v: want one with 2 claims and 2 patterns", ps, err)
	}

	m, err := e.svc.ExchangeIDToken(context.Background(), is.Sign(t, issuertest.GitHub(is.URL, aud, "alice/tool", time.Now())), "")
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	a, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: m.Token})
	if err != nil {
		t.Fatal(err)
	}
	ref := depot.FileRef{Owner: "alice", Type: depot.TypeGeneric, Package: "tool", Version: "2.0.0", File: "tool.tar.gz"}
	if _, err := e.svc.UploadFile(context.Background(), a, ref, 2, strings.NewReader("ci")); err != nil {
		t.Fatalf("upload with the minted token: %v", err)
	}

	_, body = c.get(page)
	for _, want := range []string{"repository=alice/tool", "alice/tool", "Release", "5301", "minted #"} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	_, body = c.get("/alice/-/packages/generic/tool/2.0.0")
	text := html.UnescapeString(stripTags(body))
	if !strings.Contains(text, "workflow Release of repo alice/tool, run 5301") {
		t.Errorf("version page does not say who published it:\n%s", text)
	}
	if _, body := c.get("/alice/-/packages/generic/tool/1.0.0"); strings.Contains(body, "ci-identity") {
		t.Error("a version uploaded by hand shows a CI identity")
	}

	resp, _ = c.post(page+"/"+strconv.FormatInt(ps[0].ID, 10)+"/delete", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	if _, err := e.svc.Authenticate(context.Background(), depot.Credentials{Token: m.Token}); err == nil {
		t.Error("the deleted publisher's token still authenticates")
	}
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
