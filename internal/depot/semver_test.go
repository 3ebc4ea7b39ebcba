package depot

import (
	"testing"
	"time"
)

func TestCompareVersions(t *testing.T) {
	// Each list is in increasing order (semver.org's precedence example,
	// then depot's rule: non-semantic versions rank below semantic ones).
	for _, order := range [][]string{
		{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
		{"0.9.9", "v1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0"},
		{"nightly", "0.0.1"}, {"1.0", "0.0.0-rc.1"},
		{"01.0.0", "0.0.0"}, // a leading zero is not semver
	} {
		for i := range order {
			for j := range order {
				want := 0
				switch {
				case i < j:
					want = -1
				case i > j:
					want = 1
				}
				if got := CompareVersions(order[i], order[j]); got != want {
					t.Errorf("CompareVersions(%q, %q) = %d, want %d", order[i], order[j], got, want)
				}
			}
		}
	}
	for _, eq := range [][2]string{{"1.0.0+build.1", "1.0.0+build.2"}, {"v2.0.0", "2.0.0"}, {"foo", "bar"}} {
		if got := CompareVersions(eq[0], eq[1]); got != 0 {
			t.Errorf("CompareVersions(%q, %q) = %d, want 0", eq[0], eq[1], got)
		}
	}
}

func TestParseSemver(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"1.2.3", true}, {"v1.2.3", true}, {"0.0.0", true}, {"1.2.3-rc.1+build.5", true}, {"1.2.3+exp.sha.5114f85", true},
		{"1.2.3-0a", true}, {"1.2.3----RC-SNAPSHOT.12.9.1--.12", true},
		{"1.2", false}, {"1.2.3.4", false}, {"01.2.3", false}, {"1.2.3-01", false}, {"1.2.3-", false}, {"1.2.3+", false},
		{"1.2.3-a..b", false}, {"1.2.3-ä", false}, {"", false}, {"v", false}, {"1.2.x", false}, {"-1.2.3", false},
		{"99999999999999999999.0.0", false},
	} {
		if _, ok := parseSemver(c.in); ok != c.ok {
			t.Errorf("parseSemver(%q) ok = %v, want %v", c.in, ok, c.ok)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, s := range []string{"1.0.0", "v1.2.3-rc.1+b", "1.0.0-alpha.beta", "nightly", "1.2", ""} {
		f.Add(s, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba {
			t.Fatalf("CompareVersions(%q, %q) = %d but reversed = %d", a, b, ab, ba)
		}
		if CompareVersions(a, a) != 0 {
			t.Fatalf("CompareVersions(%q, itself) != 0", a)
		}
	})
}

func TestLatestVersion(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pv := func(id int64, v string, minute int) *PackageVersion {
		return &PackageVersion{Version: Version{ID: id, Version: v, CreatedAt: t0.Add(time.Duration(minute) * time.Minute)}}
	}
	for _, c := range []struct {
		name     string
		versions []*PackageVersion
		want     int64
	}{
		{"none", nil, 0},
		{"highest semver, not newest", []*PackageVersion{pv(1, "1.10.0", 1), pv(2, "1.9.0", 2), pv(3, "nightly", 3)}, 1},
		{"release above its pre-release", []*PackageVersion{pv(1, "2.0.0", 1), pv(2, "2.0.0-rc.1", 2)}, 1},
		{"any release above a higher pre-release", []*PackageVersion{pv(1, "1.9.0", 1), pv(2, "2.0.0-rc.1", 2)}, 1},
		{"no release: highest pre-release", []*PackageVersion{pv(1, "1.0.0-rc.10", 1), pv(2, "1.0.0-rc.2", 2), pv(3, "nightly", 3)}, 1},
		{"newest when none parse", []*PackageVersion{pv(1, "b", 2), pv(2, "c", 1), pv(3, "a", 3)}, 3},
		{"equal precedence: newest", []*PackageVersion{pv(1, "1.0.0+a", 2), pv(2, "1.0.0+b", 1)}, 1},
		{"equal precedence and time: higher ID", []*PackageVersion{pv(2, "1.0.0+a", 1), pv(1, "1.0.0+b", 1)}, 2},
	} {
		got := LatestVersion(c.versions)
		var id int64
		if got != nil {
			id = got.Version.ID
		}
		if id != c.want {
			t.Errorf("%s: LatestVersion = %d, want %d", c.name, id, c.want)
		}
	}
}
