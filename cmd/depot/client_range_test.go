package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestClientPullRangeUsesRedirect pulls a range and the latest through a
// real depot serve behind a recording proxy: the client resolves with the
// server's range route (one HEAD answered 302), never by listing every
// version, and gets the bytes of the version the server chose. A server
// without the route (the proxy refusing it, as Gitea would) still works:
// the client falls back to the listing.
func TestClientPullRangeUsesRedirect(t *testing.T) {
	e := mustClientEnv(t, "alice")
	src := t.TempDir()
	for _, v := range []string{"1.2.0", "1.4.1", "2.0.0-rc.1"} {
		mustFile(t, src, "v-"+v, 10)
		data, _ := os.ReadFile(filepath.Join(src, "v-"+v))
		os.WriteFile(filepath.Join(src, "app.bin"), data, 0o644)
		if code, _, stderr := runCLI(t, e.env, "push", "alice/app@"+v, filepath.Join(src, "app.bin")); code != 0 {
			t.Fatalf("push %s: exit %d: %s", v, code, stderr)
		}
	}
	target, _ := url.Parse(e.url)
	var mu sync.Mutex
	var seen []string
	refuse := false
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.EscapedPath())
		no := refuse
		mu.Unlock()
		if no && (strings.Contains(r.URL.Path, "/-/range/") || strings.Contains(r.URL.Path, "/-/latest/")) {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{}
	for k, v := range e.env {
		env[k] = v
	}
	env["DEPOT_URL"] = srv.URL

	for _, c := range []struct {
		spec, want, route string
		refuse            bool
	}{
		{"^1.2", "1.4.1", "HEAD /api/packages/alice/generic/app/-/range/%5E1.2/-/archive.zip", false},
		{"latest", "1.4.1", "HEAD /api/packages/alice/generic/app/-/latest/-/archive.zip", false},
		{">=2.0.0-rc.0", "2.0.0-rc.1", "HEAD /api/packages/alice/generic/app/-/range/%3E=2.0.0-rc.0/-/archive.zip", false},
		{"~1.2", "1.2.0", "GET /api/v1/packages/alice/generic/app", true}, // no route: the listing
	} {
		mu.Lock()
		seen, refuse = nil, c.refuse
		mu.Unlock()
		dst := t.TempDir()
		code, s, stderr := runJSON(t, env, "pull", "alice/app@"+c.spec, "-o", dst)
		if code != 0 || s.Version != c.want {
			t.Fatalf("pull @%s: exit %d, version %q, want %q: %s", c.spec, code, s.Version, c.want, stderr)
		}
		got, _ := os.ReadFile(filepath.Join(dst, "app.bin"))
		want, _ := os.ReadFile(filepath.Join(src, "v-"+c.want))
		if string(got) != string(want) {
			t.Fatalf("pull @%s: wrong bytes", c.spec)
		}
		mu.Lock()
		log := strings.Join(seen, "\n")
		mu.Unlock()
		if !strings.Contains(log, c.route) {
			t.Errorf("pull @%s: requests\n%s\nwant %s", c.spec, log, c.route)
		}
		for _, req := range strings.Split(log, "\n") {
			if !c.refuse && req == "GET /api/v1/packages/alice/generic/app" {
				t.Errorf("pull @%s listed the versions although the server resolved:\n%s", c.spec, log)
			}
		}
	}
}
