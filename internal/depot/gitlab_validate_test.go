package depot

import (
	"strings"
	"testing"
)

func TestGitLabValidation(t *testing.T) {
	for _, tc := range []struct {
		kind, in string
		ok       bool
	}{
		{"name", "my_package", true}, {"name", "a.b-c+d", true}, {"name", "a b", false}, {"name", "..", false},
		{"name", "a/b", false}, {"name", "", false}, {"name", "é", false},
		{"version", "1.2.3", true}, {"version", "v1.0.0-rc.1+build_5", true}, {"version", "d50d836eb3de", true},
		{"version", "1..2", false}, {"version", "1.0/2", false}, {"version", "1 0", false}, {"version", "", false},
		{"file", "file.txt", true}, {"file", "dir/sub/f.txt", true}, {"file", "f~1@2.tar.gz", true},
		{"file", "../f", false}, {"file", "/f", false}, {"file", "d/", false}, {"file", "a//b", false},
		{"file", ".", false}, {"file", "a/./b", false}, {"file", "a b", false}, {"file", "", false},
	} {
		var err error
		switch tc.kind {
		case "name":
			err = ValidateGitLabPackageName(tc.in)
		case "version":
			err = ValidateGitLabVersion(tc.in)
		case "file":
			_, err = GitLabFileName(tc.in)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s %q: err = %v, want ok %v", tc.kind, tc.in, err, tc.ok)
		}
	}
	if got, _ := GitLabFileName("dir/sub/f.txt"); got != "dir%2Fsub%2Ff.txt" {
		t.Errorf("stored name = %q", got)
	}
}

// FuzzGitLabFileName checks that every accepted path gives a stored name
// that every dialect accepts and that holds no path separator or "..".
func FuzzGitLabFileName(f *testing.F) {
	for _, s := range []string{"f.txt", "dir/sub/f.txt", "..", "a//b", "%2F", "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		name, err := GitLabFileName(path)
		if err != nil {
			return
		}
		if strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") || ValidateFileName(name) != nil {
			t.Errorf("GitLabFileName(%q) = %q, which is not a safe file name", path, name)
		}
	})
}
