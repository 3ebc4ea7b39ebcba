package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pythonGitLab returns a Python interpreter that imports python-gitlab
// (Debian's python3-gitlab), skipping the test without one (failing with
// DEPOT_TEST_REQUIRE_ALL=1).
func pythonGitLab(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import gitlab").Run() == nil {
			return path
		}
	}
	msg := "python-gitlab not installed (apt-get install python3-gitlab)"
	if os.Getenv("DEPOT_TEST_REQUIRE_ALL") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestPythonGitLab drives a real depot server with python-gitlab: upload
// and download generic packages, list project and group packages across
// pages, list files, delete (testdata/python_gitlab.py).
func TestPythonGitLab(t *testing.T) {
	py := pythonGitLab(t)
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return strings.TrimSpace(out)
	}
	m := MustRunMain(t, Config{DataDir: dir})
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "alice-password", "--email", "alice@example.com")
	mustCLI("admin", "org", "create", "--name", "acme", "--owner", "alice")
	mustCLI("admin", "project", "create", "--owner", "acme", "--name", "tools")
	tok := mustCLI("admin", "token", "create", "--username", "alice", "--name", "py", "--scopes", "api")

	cmd := exec.Command(py, filepath.Join("testdata", "python_gitlab.py"), "http://"+m.Addr(), tok, "acme/tools", t.TempDir())
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python_gitlab.py: %v\n%s", err, out)
	}
}
