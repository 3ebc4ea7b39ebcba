package depot

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names. Gitea stores these in VARCHAR(255) columns; depot says so
// up front instead of failing in the database.
const (
	MaxNameLen    = 255
	MaxOwnerLen   = 40
	MaxPasswordLn = 72 // bcrypt's input limit
)

var (
	// Gitea's generic package rules (routers/api/packages/generic).
	packageNameRE = regexp.MustCompile(`\A[-_+.\w]+\z`)
	fileNameRE    = regexp.MustCompile(`\A[-_+=:;.()\[\]{}~!@#$%^& \w]+\z`)
	// Owner names follow Gitea's username rules: alphanumerics, '-', '_'
	// and '.', starting and ending with an alphanumeric, no two special
	// characters in a row.
	ownerNameRE = regexp.MustCompile(`\A[A-Za-z0-9]([-._]?[A-Za-z0-9])*\z`)
	tokenNameRE = regexp.MustCompile(`\A[-_.\w ]+\z`)
)

// reservedOwnerNames would collide with routes of the API or the web UI.
var reservedOwnerNames = map[string]bool{
	"api": true, "assets": true, "static": true, "admin": true, "explore": true,
	"login": true, "logout": true, "settings": true, "user": true, "users": true,
	"org": true, "orgs": true, "healthz": true, "readyz": true, "metrics": true,
	"-": true, "v2": true, "ghost": true,
}

// ValidatePackageName applies Gitea's generic package name rule: ASCII
// letters, digits, '.', '-', '+' and '_'; a single character must be a letter
// or digit; never "..".
func ValidatePackageName(name string) error {
	if len(name) > MaxNameLen {
		return Errorf(ErrInvalid, "package name is longer than %d bytes", MaxNameLen)
	}
	if len(name) == 1 && !isASCIIAlnum(name[0]) || !packageNameRE.MatchString(name) || name == ".." {
		return Errorf(ErrInvalid, "invalid package name %q: use ASCII letters, digits, '.', '-', '+' and '_'", name)
	}
	return nil
}

// ValidateFileName applies Gitea's generic file name rule: the package name
// characters plus = : ; ( ) [ ] { } ~ ! @ # $ % ^ & and inner spaces; never
// "." or "..".
func ValidateFileName(name string) error {
	if len(name) > MaxNameLen {
		return Errorf(ErrInvalid, "file name is longer than %d bytes", MaxNameLen)
	}
	if !fileNameRE.MatchString(name) || strings.TrimSpace(name) != name || name == "." || name == ".." {
		return Errorf(ErrInvalid, "invalid file name %q", name)
	}
	return nil
}

// ValidateVersion applies Gitea's rule (non-empty, no leading or trailing
// whitespace) and depot's additions: valid UTF-8, no '/', not "." or "..",
// no control characters, at most MaxNameLen bytes.
func ValidateVersion(v string) error {
	switch {
	case v == "":
		return Errorf(ErrInvalid, "package version must not be empty")
	case len(v) > MaxNameLen:
		return Errorf(ErrInvalid, "package version is longer than %d bytes", MaxNameLen)
	case strings.TrimSpace(v) != v:
		return Errorf(ErrInvalid, "package version must not start or end with whitespace")
	case !utf8.ValidString(v):
		return Errorf(ErrInvalid, "package version must be valid UTF-8")
	case strings.ContainsRune(v, '/'):
		return Errorf(ErrInvalid, "package version must not contain '/'")
	case v == "." || v == "..":
		// Found by FuzzValidateNames: clients and browsers resolve these
		// path segments away, so such a version could not be addressed.
		return Errorf(ErrInvalid, "package version must not be %q", v)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return Errorf(ErrInvalid, "package version must not contain control characters")
	}
	return nil
}

// ValidateOwnerName checks a user or organization name.
func ValidateOwnerName(name string) error {
	if len(name) > MaxOwnerLen || !ownerNameRE.MatchString(name) {
		return Errorf(ErrInvalid, "invalid name %q: use 1 to %d ASCII letters, digits, '-', '_' or '.', starting and ending with a letter or digit", name, MaxOwnerLen)
	}
	if reservedOwnerNames[strings.ToLower(name)] {
		return Errorf(ErrInvalid, "name %q is reserved", name)
	}
	return nil
}

// ValidateTokenName checks a token name.
func ValidateTokenName(name string) error {
	if len(name) > MaxNameLen || !tokenNameRE.MatchString(name) || strings.TrimSpace(name) != name {
		return Errorf(ErrInvalid, "invalid token name %q", name)
	}
	return nil
}

// ValidateFileRef validates every part of ref and normalises nothing: callers
// get an ErrInvalid naming the first bad part.
func ValidateFileRef(ref FileRef) error {
	if err := ValidateVersionRef(VersionRef{Owner: ref.Owner, Type: ref.Type, Package: ref.Package, Version: ref.Version}); err != nil {
		return err
	}
	return ValidateFileName(ref.File)
}

// ValidateVersionRef validates the parts of a version reference.
func ValidateVersionRef(ref VersionRef) error {
	if ref.Type != TypeGeneric {
		return Errorf(ErrInvalid, "unsupported package type %q", ref.Type)
	}
	if err := ValidatePackageName(ref.Package); err != nil {
		return err
	}
	return ValidateVersion(ref.Version)
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ValidSHA256 reports whether d is a sha256 digest as depot writes it: 64
// lowercase hex digits. Blob stores check digests with it before building
// paths or keys from them.
func ValidSHA256(d string) bool {
	if len(d) != 64 {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// MaxProjectNameLen is the longest project name, as Gitea limits repository
// names.
const MaxProjectNameLen = 100

var projectNameRE = regexp.MustCompile(`\A[-_.A-Za-z0-9]+\z`)

// ValidateProjectName applies Gitea's repository name rule: ASCII letters,
// digits, '-', '_' and '.', at most 100 bytes; never ".", ".." or "-", and
// never ending in ".git", ".wiki", ".rss" or ".atom".
func ValidateProjectName(name string) error {
	if len(name) > MaxProjectNameLen || !projectNameRE.MatchString(name) {
		return Errorf(ErrInvalid, "invalid project name %q: use 1 to %d ASCII letters, digits, '-', '_' or '.'", name, MaxProjectNameLen)
	}
	lower := strings.ToLower(name)
	if lower == "." || lower == ".." || lower == "-" {
		return Errorf(ErrInvalid, "project name %q is reserved", name)
	}
	for _, suffix := range []string{".git", ".wiki", ".rss", ".atom"} {
		if strings.HasSuffix(lower, suffix) {
			return Errorf(ErrInvalid, "project name %q must not end in %q", name, suffix)
		}
	}
	return nil
}
