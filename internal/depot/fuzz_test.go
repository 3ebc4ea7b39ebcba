package depot

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzValidateNames checks what an accepted name may hold, whichever rule
// accepted it: no path separator, no "." or ".." of its own, no control
// character, no surrounding whitespace, valid UTF-8, within the limits; an
// accepted package, file or owner name stays accepted in lower case (names
// are matched case-insensitively, so the folded form is stored too).
func FuzzValidateNames(f *testing.F) {
	for _, s := range []string{"app", "a", "..", ".", "a b", " a", "a/b", "a%2Fb", "v1.0.0-rc.1+b", "f~1@2.tar.gz", "Ä", "x\x00", "A-B_C.d+e", strings.Repeat("a", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rule := range []struct {
			name     string
			validate func(string) error
			max      int
			folds    bool
		}{
			{"package", ValidatePackageName, MaxNameLen, true},
			{"file", ValidateFileName, MaxNameLen, true},
			{"version", ValidateVersion, MaxNameLen, false},
			{"owner", ValidateOwnerName, MaxOwnerLen, true},
		} {
			if rule.validate(s) != nil {
				continue
			}
			switch {
			case s == "" || len(s) > rule.max:
				t.Errorf("%s %q accepted with length %d", rule.name, s, len(s))
			case strings.ContainsAny(s, "/\\") && rule.name != "version":
				t.Errorf("%s %q accepted with a path separator", rule.name, s)
			case strings.ContainsRune(s, '/'):
				t.Errorf("%s %q accepted with '/'", rule.name, s)
			case s == "." || s == "..":
				t.Errorf("%s %q accepted", rule.name, s)
			case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
				t.Errorf("%s %q accepted with invalid UTF-8 or a control character", rule.name, s)
			case strings.TrimSpace(s) != s:
				t.Errorf("%s %q accepted with surrounding whitespace", rule.name, s)
			case rule.folds && rule.validate(strings.ToLower(s)) != nil:
				t.Errorf("%s %q accepted but its lower case %q is not", rule.name, s, strings.ToLower(s))
			}
		}
	})
}

// FuzzGitLabNames checks that GitLab's rules accept nothing depot's own
// rules refuse (a package published through GitLab must work through
// Gitea's routes too) and never a ".." that could climb a path.
func FuzzGitLabNames(f *testing.F) {
	for _, s := range []string{"my_pkg", "1.2.3", "a..b", "v1.0.0-rc.1+build_5", "a b", "-", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateGitLabPackageName(s) == nil && (ValidatePackageName(s) != nil || s == "..") {
			t.Errorf("GitLab package name %q accepted but depot refuses it", s)
		}
		if ValidateGitLabPackageName(s) == nil && strings.ContainsAny(s, "/\\ ") {
			t.Errorf("GitLab package name %q accepted with a separator or space", s)
		}
		if ValidateGitLabVersion(s) == nil && (ValidateVersion(s) != nil || strings.Contains(s, "..") || strings.ContainsAny(s, "/\\ ")) {
			t.Errorf("GitLab version %q accepted but unsafe or refused by depot", s)
		}
	})
}

// format writes a parsed semantic version back.
func (v semver) format() string {
	s := strings.Join([]string{uitoa(v.major), uitoa(v.minor), uitoa(v.patch)}, ".")
	if len(v.pre) > 0 {
		s += "-" + strings.Join(v.pre, ".")
	}
	return s
}

func uitoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// FuzzSemver checks parse(format(x)) == x for every accepted version, that
// a version compares equal to its canonical form (the "v" and the build
// metadata do not count), and that comparison is transitive.
func FuzzSemver(f *testing.F) {
	for _, s := range []string{"1.0.0", "v1.2.3-rc.1+b", "1.0.0-alpha.beta", "01.0.0", "1.0.0-01", "1.2", "18446744073709551615.0.0", "1.0.0-", "1.0.0+"} {
		f.Add(s, "1.0.0", "2.0.0-rc.1")
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if v, ok := parseSemver(a); ok {
			canon := v.format()
			w, ok := parseSemver(canon)
			if !ok || w.format() != canon || w.compare(v) != 0 {
				t.Fatalf("parseSemver(%q) = %+v, formatted %q, parsed again %+v (%v)", a, v, canon, w, ok)
			}
			if CompareVersions(a, canon) != 0 && !strings.HasPrefix(a, "v") && !strings.Contains(a, "+") && a != canon {
				t.Errorf("CompareVersions(%q, %q) != 0", a, canon)
			}
			if v.compare(w) != 0 {
				t.Errorf("%q and its canonical form %q differ in precedence", a, canon)
			}
		}
		ab, bc, ac := CompareVersions(a, b), CompareVersions(b, c), CompareVersions(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Errorf("not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
		if ab != -CompareVersions(b, a) {
			t.Errorf("CompareVersions(%q, %q) = %d, reversed %d", a, b, ab, CompareVersions(b, a))
		}
	})
}

// FuzzDuplicatesAllowed checks GitLab's duplicate setting against its
// definition: the regex, when it compiles, reverses the setting exactly when
// it matches the name or the version; an empty regex changes nothing; a
// regex that does not compile is an error, never a silent answer.
func FuzzDuplicatesAllowed(f *testing.F) {
	for _, re := range []string{"", ".*-SNAPSHOT", "(", "^tool$", `\d+`, "a{1001}", "(?i)RC"} {
		f.Add(re, "tool", "1.0-SNAPSHOT", true)
	}
	f.Fuzz(func(t *testing.T, expr, name, version string, allowed bool) {
		ps := &PackageSettings{GenericDuplicatesAllowed: allowed, GenericDuplicateExceptionRegex: expr}
		got, err := DuplicatesAllowed(ps, name, version)
		re, cerr := regexp.Compile(expr)
		switch {
		case expr == "":
			if err != nil || got != allowed {
				t.Errorf("empty regex: %v, %v; want %v", got, err, allowed)
			}
		case cerr != nil:
			if err == nil {
				t.Errorf("regex %q does not compile (%v) but was applied", expr, cerr)
			}
		default:
			want := allowed != (re.MatchString(name) || re.MatchString(version))
			if err != nil || got != want {
				t.Errorf("regex %q on %q/%q: %v, %v; want %v", expr, name, version, got, err, want)
			}
		}
	})
}
