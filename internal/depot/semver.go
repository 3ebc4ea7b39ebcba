package depot

import (
	"strconv"
	"strings"
)

// semver is a parsed semantic version (https://semver.org, 2.0.0).
type semver struct {
	major, minor, patch uint64
	pre                 []string // dot-separated pre-release identifiers
}

// parseSemver parses a semantic version: MAJOR.MINOR.PATCH with optional
// -PRERELEASE and +BUILD parts, and an optional leading "v" (as Go modules and
// many tags write it). Numbers have no leading zeros. Build metadata is
// checked and then ignored, as precedence ignores it.
func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if !validIdents(s[i+1:], false) {
			return semver{}, false
		}
		s = s[:i]
	}
	var v semver
	if i := strings.IndexByte(s, '-'); i >= 0 {
		if !validIdents(s[i+1:], true) {
			return semver{}, false
		}
		v.pre = strings.Split(s[i+1:], ".")
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	for i, p := range parts {
		n, ok := numericIdent(p)
		if !ok {
			return semver{}, false
		}
		*nums[i] = n
	}
	return v, true
}

// numericIdent parses a number without sign or leading zeros.
func numericIdent(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// validIdents checks dot-separated identifiers of [0-9A-Za-z-]; in a
// pre-release, numeric identifiers have no leading zeros.
func validIdents(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-':
				numeric = false
			default:
				return false
			}
		}
		if pre && numeric && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// compare returns -1, 0 or +1 as a has lower, equal or higher precedence
// than b.
func (a semver) compare(b semver) int {
	for _, p := range [][2]uint64{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	// A version without pre-release outranks one with.
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		if c := compareIdent(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}

// compareIdent orders pre-release identifiers: numeric ones numerically and
// below alphanumeric ones, which compare in ASCII order.
func compareIdent(a, b string) int {
	an, aNum := numericIdent(a)
	bn, bNum := numericIdent(b)
	switch {
	case aNum && bNum:
		if an == bn {
			return 0
		}
		if an < bn {
			return -1
		}
		return 1
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(a, b)
}

// CompareVersions orders two version strings as depot's "latest" rule does:
// semantic versions by precedence and above versions that are not semantic
// versions; it returns 0 when neither parses or both have equal precedence,
// leaving the tie to the caller (depot then takes the newer upload).
func CompareVersions(a, b string) int {
	av, aok := parseSemver(a)
	bv, bok := parseSemver(b)
	switch {
	case aok && bok:
		return av.compare(bv)
	case aok:
		return 1
	case bok:
		return -1
	}
	return 0
}

// LatestVersion picks the latest of versions, depot's one definition of
// "latest" (the v1 API's /-/latest, the web UI's badge, the latest download
// route, and package semverrange's "latest" for the client): the highest
// release (a semantic version without pre-release); without one, the
// highest pre-release; without any semantic version, the newest upload.
// Among equal precedence, the newest (by creation time, then ID). It
// returns nil for none.
func LatestVersion(versions []*PackageVersion) *PackageVersion {
	var best *PackageVersion
	for _, v := range versions {
		if best == nil {
			best = v
			continue
		}
		c := compareLatest(v.Version.Version, best.Version.Version)
		if c > 0 || c == 0 && newer(&v.Version, &best.Version) {
			best = v
		}
	}
	return best
}

// compareLatest is CompareVersions with releases above every pre-release.
func compareLatest(a, b string) int {
	av, aok := parseSemver(a)
	bv, bok := parseSemver(b)
	if aok && bok {
		if ar, br := len(av.pre) == 0, len(bv.pre) == 0; ar != br {
			if ar {
				return 1
			}
			return -1
		}
	}
	return CompareVersions(a, b)
}

func newer(a, b *Version) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
