package httpapi

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// TestLatestOneDefinition holds package semverrange's "latest" (the
// client's, over a listing) to depot.LatestVersion's (the server's), on
// random sets of versions with ties of precedence and of upload time.
func TestLatestOneDefinition(t *testing.T) {
	names := []string{"1.0.0", "v1.0.0", "1.0.0+b1", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0-rc.10", "2.0.0", "0.9.0-alpha", "nightly", "1.2", "release-a", "3.0.0-beta"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var vs []*depot.PackageVersion
		for j, n := 0, 1+rnd.IntN(6); j < n; j++ {
			vs = append(vs, &depot.PackageVersion{Version: depot.Version{
				ID: int64(j + 1), Version: names[rnd.IntN(len(names))], CreatedAt: t0.Add(time.Duration(rnd.IntN(3)) * time.Minute),
			}})
		}
		rnd.Shuffle(len(vs), func(a, b int) { vs[a], vs[b] = vs[b], vs[a] })
		want := depot.LatestVersion(vs)
		got := rangeSelector("latest").Select(vs)
		if got != want {
			for _, v := range vs {
				t.Logf("  %d %q %s", v.Version.ID, v.Version.Version, v.Version.CreatedAt.Format(time.TimeOnly))
			}
			t.Fatalf("semverrange latest = %d %q, depot.LatestVersion = %d %q", got.Version.ID, got.Version.Version, want.Version.ID, want.Version.Version)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, spec := range []string{"latest", "LATEST"} {
		if sel, err := ParseRange(spec); sel != nil || err != nil {
			t.Errorf("ParseRange(%q) = %v, %v; want the latest (nil)", spec, sel, err)
		}
	}
	if sel, err := ParseRange("^1.2"); err != nil || sel.String() != "^1.2" {
		t.Errorf("ParseRange(^1.2) = %v, %v", sel, err)
	}
	if _, err := ParseRange(">=>1"); !errors.Is(err, depot.ErrInvalid) {
		t.Errorf("ParseRange(>=>1) = %v, want ErrInvalid", err)
	}
}
