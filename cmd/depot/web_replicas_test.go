package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/testenv"
)

// TestWebSessionAcrossReplicas signs in through one server and browses with
// the same cookie through another sharing its PostgreSQL database, as
// replicas behind a load balancer do; signing out through the second ends
// the session on the first, even for a replayed cookie.
func TestWebSessionAcrossReplicas(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	dir := t.TempDir()
	a := MustRunMain(t, Config{DatabaseURL: dbURL, DataDir: filepath.Join(dir, "a")})
	b := MustRunMain(t, Config{DatabaseURL: dbURL, DataDir: filepath.Join(dir, "b")})
	ctx := t.Context()
	if _, err := a.Service.CreateUser(ctx, depot.NewUser{Username: "rep", Email: "rep@example.com", Password: "replica-pass", Visibility: depot.Private}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var cookies []*http.Cookie
	do := func(m *Main, method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+m.Addr()+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		for _, c := range resp.Cookies() {
			kept := cookies[:0]
			for _, old := range cookies {
				if old.Name != c.Name {
					kept = append(kept, old)
				}
			}
			cookies = kept
			if c.MaxAge >= 0 {
				cookies = append(cookies, c)
			}
		}
		page, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(page)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	token := func(m *Main, path string) string {
		t.Helper()
		_, page := do(m, http.MethodGet, path, nil)
		match := csrf.FindStringSubmatch(page)
		if match == nil {
			t.Fatalf("no CSRF token on %s", path)
		}
		return match[1]
	}
	if status, _ := do(a, http.MethodPost, "/-/signin", url.Values{"csrf": {token(a, "/-/signin")}, "username": {"rep"}, "password": {"replica-pass"}}); status != http.StatusSeeOther {
		t.Fatalf("sign in on a: %d", status)
	}
	if status, _ := do(b, http.MethodGet, "/rep", nil); status != http.StatusOK {
		t.Fatalf("the private owner's page on b with a's session: %d, want 200", status)
	}
	signedIn := append([]*http.Cookie(nil), cookies...)
	if status, _ := do(b, http.MethodPost, "/-/signout", url.Values{"csrf": {token(b, "/rep")}}); status != http.StatusSeeOther {
		t.Fatalf("sign out on b: %d", status)
	}
	// Replay the old cookie: the session is gone from the database.
	cookies = signedIn
	if status, _ := do(a, http.MethodGet, "/rep", nil); status != http.StatusNotFound {
		t.Errorf("the private owner's page on a after signing out on b: %d, want 404", status)
	}
}
