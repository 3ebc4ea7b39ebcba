package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitLabCurl runs curl lines from GitLab's docs (testdata/gitlab_curl.sh)
// against a real depot server and checks each answer.
func TestGitLabCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("DEPOT_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("curl not installed")
		}
		t.Skip("curl not installed")
	}
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
	mustCLI("admin", "org", "create", "--name", "acme", "--owner", "alice", "--visibility", "private")
	project := mustCLI("admin", "project", "create", "--owner", "acme", "--name", "tools")
	tok := mustCLI("admin", "token", "create", "--username", "alice", "--name", "curl", "--scopes", "api")
	deploy := mustCLI("admin", "deploy-token", "create", "--project", "acme/tools", "--name", "r", "--scopes", "read_package_registry")
	job := mustCLI("admin", "job-token", "create", "--project", "acme/tools", "--ttl", "1h")

	base := "http://" + m.Addr()
	run := func(packageID string) map[string]string {
		t.Helper()
		script, err := filepath.Abs(filepath.Join("testdata", "gitlab_curl.sh"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "WORKDIR="+t.TempDir(), "GITLAB="+base, "TOKEN="+tok, "PROJECT_ID="+project,
			"DEPLOY_TOKEN="+deploy, "CI_JOB_TOKEN="+job, "CI_API_V4_URL="+base+"/api/v4", "CI_PROJECT_ID="+project,
			"GROUP=acme", "PACKAGE_ID="+packageID)
		var stderr strings.Builder
		cmd.Stderr = &stderr // curl's progress meter
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gitlab_curl.sh: %v\n%s\n%s", err, out, stderr.String())
		}
		parts := map[string]string{}
		for _, chunk := range strings.Split(string(out), "--- ")[1:] {
			n, body, _ := strings.Cut(chunk, "\n")
			parts[n] = strings.TrimSpace(body)
		}
		return parts
	}
	// A first run finds the package id that the Packages API lines need.
	first := run("0")
	var pkgs []struct {
		ID      int64  `json:"id"`
		Version string `json:"version"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal([]byte(first["8"]), &pkgs); err != nil {
		t.Fatalf("project packages %q: %v", first["8"], err)
	}
	var versions []string
	for _, p := range pkgs {
		versions = append(versions, p.Version)
	}
	if strings.Join(versions, ",") != "0.0.1,0.0.3,0.0.4" {
		t.Errorf("listing = %v, want 0.0.1, 0.0.3 and 0.0.4 (0.0.2 is hidden)", versions)
	}
	out := run(jsonInt(pkgs[0].ID))
	var pf struct {
		FileName   string `json:"file_name"`
		FileSHA256 string `json:"file_sha256"`
		Size       int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(out["2"]), &pf); err != nil || pf.FileName != "file.txt" || pf.Size != 16 {
		t.Errorf("select=package_file = %q (%v)", out["2"], err)
	}
	for n, want := range map[string]string{
		"1": `{"message":"201 Created"}`, "3": `{"message":"201 Created"}`, "4": `{"message":"201 Created"}`, "5": `{"message":"201 Created"}`,
		"6": "hello from curl", "7": "hello from curl", "11": "204",
	} {
		if out[n] != want {
			t.Errorf("command %s = %q, want %q", n, out[n], want)
		}
	}
	if !strings.Contains(out["9"], `"project_path":"acme/tools"`) {
		t.Errorf("group packages = %s", out["9"])
	}
	var files []map[string]any
	if err := json.Unmarshal([]byte(out["10"]), &files); err != nil || len(files) != 4 {
		// Two runs, two uploads each of 0.0.1's file.txt.
		t.Errorf("package files = %s (%v)", out["10"], err)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
