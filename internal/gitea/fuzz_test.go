package gitea

import (
	"errors"

	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// FuzzParsePath checks the Gitea path parser: a parsed path has non-empty
// names, escaping it again (Escaped) and parsing gives the same path
// (segment boundaries never move: an escaped '/' stays inside its segment,
// an escaped "-" is a name, never the archive or resolve routes' literal),
// and anything it refuses is a not-found or invalid error.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/api/packages/alice/generic/app/1.0/app.tar.gz", "/api/packages/alice/generic/app/1.0",
		"/api/packages/a/generic/p/1.0/%2E%2E", "/api/packages/a/generic/p/1%2F0/f", "/api/packages/a/generic/p/1.0/a%zz",
		"/api/packages/a/generic//1.0/f", "/api/packages/a/generic/p/1.0/f/extra", "/api/v1/packages/a", "/api/packages/",
		"/api/packages/a/generic/p/1.0/-/archive.zip", "/api/packages/a/generic/p/-/-/archive.tar.gz", "/api/packages/a/generic/p/-/latest/f",
		"/api/packages/a/generic/p/-/range/%5E1.2/f", "/api/packages/a/generic/p/-/range/%3E%3D2%20%3C3/-/archive.zip", "/api/packages/a/generic/p/%2D/latest/f",
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
		segs := []string{p.Owner, p.Type, p.Package}
		switch {
		case p.Resolve && p.Version != "", !p.Resolve && p.Version == "":
			t.Fatalf("ParsePath(%q) = %+v: a version exactly when not resolving", escaped, p)
		case p.Resolve && p.File == "" && p.Archive == "":
			t.Fatalf("ParsePath(%q) = %+v: resolving neither a file nor an archive", escaped, p)
		case p.Archive != "" && p.File != "":
			t.Fatalf("ParsePath(%q) = %+v: an archive and a file", escaped, p)
		case !p.Resolve && p.Range != "":
			t.Fatalf("ParsePath(%q) = %+v: a range without resolving", escaped, p)
		}
		if !p.Resolve {
			segs = append(segs, p.Version)
		}
		for _, s := range segs {
			if s == "" {
				t.Fatalf("ParsePath(%q) = %+v with an empty segment", escaped, p)
			}
		}
		again, err := ParsePath(p.Escaped())
		if err != nil || again != p {
			t.Fatalf("ParsePath(%q) = %+v; escaped again %q parses to %+v, %v", escaped, p, p.Escaped(), again, err)
		}
		if !strings.HasPrefix(escaped, Prefix) {
			t.Fatalf("ParsePath(%q) accepted a path outside %s", escaped, Prefix)
		}
	})
}

// TestParsePathShapes pins the shapes, and that stored names which look
// like the routes' literals ("-", "latest", "archive.zip") stay names.
func TestParsePathShapes(t *testing.T) {
	for _, c := range []struct {
		path string
		want Path
	}{
		{"/api/packages/a/generic/p/1.0/f", Path{Owner: "a", Type: "generic", Package: "p", Version: "1.0", File: "f"}},
		{"/api/packages/a/generic/p/-/latest", Path{Owner: "a", Type: "generic", Package: "p", Version: "-", File: "latest"}},
		{"/api/packages/a/generic/p/1.0/archive.zip", Path{Owner: "a", Type: "generic", Package: "p", Version: "1.0", File: "archive.zip"}},
		{"/api/packages/a/generic/p/1.0/-/archive.zip", Path{Owner: "a", Type: "generic", Package: "p", Version: "1.0", Archive: "archive.zip"}},
		{"/api/packages/a/generic/p/-/-/archive.tar.gz", Path{Owner: "a", Type: "generic", Package: "p", Version: "-", Archive: "archive.tar.gz"}},
		{"/api/packages/a/generic/p/-/latest/f", Path{Owner: "a", Type: "generic", Package: "p", Resolve: true, File: "f"}},
		{"/api/packages/a/generic/p/-/latest/-/archive.zip", Path{Owner: "a", Type: "generic", Package: "p", Resolve: true, Archive: "archive.zip"}},
		{"/api/packages/a/generic/p/-/range/%5E1.2/f", Path{Owner: "a", Type: "generic", Package: "p", Resolve: true, Range: "^1.2", File: "f"}},
		{"/api/packages/a/generic/p/-/range/%3E=2%20%3C3/-/archive.tar.gz", Path{Owner: "a", Type: "generic", Package: "p", Resolve: true, Range: ">=2 <3", Archive: "archive.tar.gz"}},
	} {
		got, err := ParsePath(c.path)
		if err != nil || got != c.want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", c.path, got, err, c.want)
		}
		if e := got.Escaped(); err == nil && e != c.path {
			t.Errorf("Escaped(%+v) = %q, want %q", got, e, c.path)
		}
	}
	for _, bad := range []string{
		"/api/packages/a/generic/p/%2D/latest/f", "/api/packages/a/generic/p/1.0/-/archive.rar", "/api/packages/a/generic/p/1.0/%2D/archive.zip",
		"/api/packages/a/generic/p/-/range/%5E1", "/api/packages/a/generic/p/-/latest/x/y", "/api/packages/a/generic/p/1.0/x/-/archive.zip",
	} {
		if p, err := ParsePath(bad); !errors.Is(err, depot.ErrNotFound) {
			t.Errorf("ParsePath(%q) = %+v, %v; want no route", bad, p, err)
		}
	}
}
