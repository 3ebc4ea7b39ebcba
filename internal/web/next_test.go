package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext checks that a sign-in's "next" never leaves the site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/alice", "//evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "", "/-/settings/tokens?x=1", "/\t/evil.example", "/\n/evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		if err != nil {
			return // browsers refuse such a Location too; it stays on the site
		}
		if u.Scheme != "" || u.Host != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n ") {
			t.Errorf("safeNext(%q) = %q leaves the site", next, got)
		}
	})
}
