package gitea

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// FuzzParsePath checks the Gitea path parser: a parsed path has four or
// five non-empty segments, escaping them again and parsing gives the same
// path (segment boundaries never move: an escaped '/' stays inside its
// segment), and anything it refuses is a not-found or invalid error.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/api/packages/alice/generic/app/1.0/app.tar.gz", "/api/packages/alice/generic/app/1.0",
		"/api/packages/a/generic/p/1.0/%2E%2E", "/api/packages/a/generic/p/1%2F0/f", "/api/packages/a/generic/p/1.0/a%zz",
		"/api/packages/a/generic//1.0/f", "/api/packages/a/generic/p/1.0/f/extra", "/api/v1/packages/a", "/api/packages/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		p, err := ParsePath(escaped)
		if err != nil {
			if !errors.Is(err, depot.ErrNotFound) && !errors.Is(err, depot.ErrInvalid) {
				t.Fatalf("ParsePath(%q) error %v is neither not found nor invalid", escaped, err)
			}
			return
		}
		segs := []string{p.Owner, p.Type, p.Package, p.Version}
		if p.File != "" {
			segs = append(segs, p.File)
		}
		for _, s := range segs {
			if s == "" {
				t.Fatalf("ParsePath(%q) = %+v with an empty segment", escaped, p)
			}
		}
		var b strings.Builder
		b.WriteString(strings.TrimSuffix(Prefix, "/"))
		for _, s := range segs {
			b.WriteString("/" + url.PathEscape(s))
		}
		again, err := ParsePath(b.String())
		if err != nil || again != p {
			t.Fatalf("ParsePath(%q) = %+v; escaped again %q parses to %+v, %v", escaped, p, b.String(), again, err)
		}
		if !strings.HasPrefix(escaped, Prefix) {
			t.Fatalf("ParsePath(%q) accepted a path outside %s", escaped, Prefix)
		}
	})
}
