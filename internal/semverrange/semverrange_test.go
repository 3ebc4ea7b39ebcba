package semverrange

import (
	"errors"
	"testing"
	"time"
)

func versions(names ...string) []Version {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Version, len(names))
	for i, n := range names {
		// Each later name is a later upload.
		out[i] = Version{Name: n, Created: base.Add(time.Duration(i) * time.Hour)}
	}
	return out
}

func TestSelect(t *testing.T) {
	std := versions("1.0.0", "1.2.0", "1.2.7", "1.4.0", "1.4.3", "1.10.0", "2.0.0-rc.1", "2.0.0", "2.3.1", "3.0.0-beta.2", "nightly")
	tests := []struct {
		name     string
		spec     string
		versions []Version
		want     string
		err      error
	}{
		{"latest is the highest release", "latest", std, "2.3.1", nil},
		{"empty spec is latest", "", std, "2.3.1", nil},
		{"latest is case-insensitive", "LATEST", std, "2.3.1", nil},
		{"caret", "^1.2", std, "1.10.0", nil},
		{"caret on zero major", "^0.1", versions("0.1.0", "0.1.9", "0.2.0"), "0.1.9", nil},
		{"tilde", "~1.4.0", std, "1.4.3", nil},
		{"tilde minor", "~1.2", std, "1.2.7", nil},
		{"and-range", ">=2 <3", std, "2.3.1", nil},
		{"x-range", "1.x", std, "1.10.0", nil},
		{"star excludes prereleases", "*", std, "2.3.1", nil},
		{"exact", "=1.2.0", std, "1.2.0", nil},
		{"or", "<1.1 || >=2.1 <2.2", versions("1.0.0", "2.1.5", "2.2.0"), "2.1.5", nil},
		{"prerelease excluded", ">=2.0.0 <2.1", versions("2.0.0-rc.1"), "", ErrNoMatch},
		{"prerelease named by the range", ">=3.0.0-beta.1", std, "3.0.0-beta.2", nil},
		{"numeric not lexical order", ">=1.9", versions("1.10.0", "1.9.0"), "1.10.0", nil},
		{"leading v accepted", "^1", versions("v1.0.0", "v1.3.0", "v2.0.0"), "v1.3.0", nil},
		{"partial names are not semver", "^1", versions("1.5", "1.0.0"), "1.0.0", nil},
		{"tie on precedence: newest upload", "^1", versions("1.0.0+b2", "1.0.0+b1"), "1.0.0+b1", nil},
		{"latest without releases: highest prerelease", "latest", versions("1.0.0-rc.2", "1.0.0-rc.10", "0.9.0-alpha"), "1.0.0-rc.10", nil},
		{"latest without semver: newest upload", "latest", versions("nightly-b", "nightly-a"), "nightly-a", nil},
		{"latest of nothing", "latest", nil, "", ErrNoMatch},
		{"no match", "^4", std, "", ErrNoMatch},
		{"non-semver never matches a range", "*", versions("nightly"), "", ErrNoMatch},
		{"invalid range", ">=>1", std, "", ErrInvalid},
		{"garbage", "not a range", std, "", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tt.spec, tt.versions)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Select(%q) = %q, %v; want error %v", tt.spec, got.Name, err, tt.err)
				}
				return
			}
			if err != nil || got.Name != tt.want {
				t.Fatalf("Select(%q) = %q, %v; want %q", tt.spec, got.Name, err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, spec := range []string{"latest", "", "^1.2", "~1.4.0", ">=2 <3", "1.x", "1.2.3"} {
		if err := Parse(spec); err != nil {
			t.Errorf("Parse(%q) = %v", spec, err)
		}
	}
	for _, spec := range []string{">=>1", "one", "^"} {
		if err := Parse(spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", spec, err)
		}
	}
}
