package depot

import (
	"regexp"
	"strings"
)

// GitLab's generic package rules (Gitlab::Regex): names of ASCII letters,
// digits, '.', '_', '-' and '+'; versions of word characters, '.', '+' and
// '-' without ".."; file names of letters, digits, '.', '_', '-', '+', '~'
// and '@', in directories separated by '/', not beginning or ending with
// '@' or '~'.
var (
	gitlabNameRE    = regexp.MustCompile(`\A[A-Za-z0-9._+-]+\z`)
	gitlabVersionRE = regexp.MustCompile(`\A[A-Za-z0-9_.+-]+\z`)
	gitlabFileSegRE = regexp.MustCompile(`\A[A-Za-z0-9._+~@-]+\z`)
)

// ValidateGitLabPackageName applies GitLab's generic package name rule and
// depot's own (ValidatePackageName), so the package is usable through every
// dialect. The message names the parameter, as GitLab's does.
func ValidateGitLabPackageName(name string) error {
	if !gitlabNameRE.MatchString(name) || ValidatePackageName(name) != nil {
		return Errorf(ErrInvalid, "package_name is invalid")
	}
	return nil
}

// ValidateGitLabVersion applies GitLab's generic version rule.
func ValidateGitLabVersion(v string) error {
	if len(v) > MaxNameLen || !gitlabVersionRE.MatchString(v) || strings.Contains(v, "..") || ValidateVersion(v) != nil {
		return Errorf(ErrInvalid, "package_version is invalid")
	}
	return nil
}

// GitLabFileName validates a generic file path as GitLab takes it
// (directories allowed: "dir/sub/f.txt") and returns the name depot
// stores, with each '/' encoded as "%2F", as GitLab stores and lists it.
func GitLabFileName(path string) (string, error) {
	bad := Errorf(ErrInvalid, "file_name is invalid")
	if path == "" || len(path) > MaxNameLen || strings.Contains(path, "..") {
		return "", bad
	}
	// GitLab 18 refuses a file name that begins or ends with '@' or '~'
	// (its generic packages request specs: "@file.tar.gz", "file.tar.gz~").
	if strings.ContainsAny(path[:1], "@~") || strings.ContainsAny(path[len(path)-1:], "@~") {
		return "", bad
	}
	for _, seg := range strings.Split(path, "/") {
		if !gitlabFileSegRE.MatchString(seg) || seg == "." {
			return "", bad
		}
	}
	name := strings.ReplaceAll(path, "/", "%2F")
	if len(name) > MaxNameLen || ValidateFileName(name) != nil {
		return "", bad
	}
	return name, nil
}
