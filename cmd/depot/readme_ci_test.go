//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/depot-registry/depot/internal/depot"
)

// ciBlocks returns the YAML blocks of the README's "CI examples" section.
func ciBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n## CI examples\n")
	if !ok {
		t.Fatal(`README.md has no "## CI examples" section`)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	var blocks []string
	for {
		_, rest, ok := strings.Cut(sec, "```yaml\n")
		if !ok {
			return blocks
		}
		block, after, _ := strings.Cut(rest, "```\n")
		blocks = append(blocks, block)
		sec = after
	}
}

// ciJob is one job of an example: its environment and its shell steps.
type ciJob struct {
	name  string
	env   map[string]string
	steps []string
}

// ciJobs parses an example: a GitHub/Gitea workflow (jobs.*.steps[].run,
// with the job's env) or a GitLab pipeline (stages, then each job's
// script lines in stage order).
func ciJobs(t *testing.T, block string) []ciJob {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Env   map[string]string `yaml:"env"`
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
		Stages []string `yaml:"stages"`
	}
	if err := yaml.Unmarshal([]byte(block), &wf); err != nil {
		t.Fatalf("README CI example is not YAML: %v\n%s", err, block)
	}
	var out []ciJob
	for name, j := range wf.Jobs {
		job := ciJob{name: name, env: j.Env}
		for _, s := range j.Steps {
			if s.Run != "" {
				job.steps = append(job.steps, s.Run)
			}
		}
		out = append(out, job)
	}
	if len(wf.Stages) > 0 {
		// "stages" is a list, not a job: decode job by job.
		var raw map[string]yaml.Node
		if err := yaml.Unmarshal([]byte(block), &raw); err != nil {
			t.Fatal(err)
		}
		for _, stage := range wf.Stages {
			for name, n := range raw {
				var j struct {
					Stage  string   `yaml:"stage"`
					Script []string `yaml:"script"`
				}
				if name == "stages" || name == "variables" || n.Decode(&j) != nil || j.Stage != stage {
					continue
				}
				out = append(out, ciJob{name: name, steps: j.Script})
			}
		}
	}
	return out
}

var ciExpr = regexp.MustCompile(`\$\{\{\s*([a-z_]+)\.([A-Za-z_]+)\s*\}\}`)

// TestREADMECIExamples runs the README's CI examples against a real
// server: every run step and script line, with bash, as the CI system
// would (its expressions filled in, `make dist` and `go install` lines
// left out, the depot binary built from this tree on PATH), then checks
// what was published and what was fetched.
func TestREADMECIExamples(t *testing.T) {
	for _, tool := range []string{"curl", "bash", "tar", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("DEPOT_TEST_REQUIRE_ALL") == "1" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildBinary(t, ctx, t.TempDir())
	dir := t.TempDir()
	m := MustRunMain(t, Config{DataDir: dir})
	svc := m.Service
	base := "http://" + m.Addr()
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "ci-bot", Email: "ci@example.com", Password: "ci-bot-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateOrg(ctx, "acme", "ci-bot", depot.Private); err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, "ci-bot", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateProject(ctx, "acme", "app", ""); err != nil {
		t.Fatal(err)
	}
	code, jobToken, stderr := runCLI(t, map[string]string{"DEPOT_DATA_DIR": dir}, "admin", "job-token", "create", "--project", "acme/app", "--ttl", "1h")
	if code != 0 {
		t.Fatalf("job token: %s", stderr)
	}
	jobToken = strings.TrimSpace(jobToken)
	// The dependency the examples fetch.
	tools := map[string][]byte{}
	for _, v := range []string{"1.9.0", "2.1.0", "2.3.0", "3.0.0-rc.1"} {
		tools[v] = []byte("tools " + v + "\n")
		req, _ := http.NewRequest(http.MethodPut, base+"/api/packages/acme/generic/tools/"+v+"/tools.tar.gz", bytes.NewReader(tools[v]))
		req.SetBasicAuth("ci-bot", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("seed tools %s: %v %v", v, resp, err)
		}
		resp.Body.Close()
	}

	blocks := ciBlocks(t)
	if len(blocks) != 3 {
		t.Fatalf("%d YAML blocks in CI examples, want 3 (GitHub, Gitea, GitLab)", len(blocks))
	}
	for i, block := range blocks {
		// Each example publishes its own tag: a second upload of a file is a 409.
		tag := fmt.Sprintf("v1.%d.0", i)
		ctxVals := map[string]string{"actor": "ci-bot", "repository_owner": "acme", "ref_name": tag, "DEPOT_TOKEN": token}
		fill := func(s string) string {
			return ciExpr.ReplaceAllStringFunc(s, func(e string) string {
				sub := ciExpr.FindStringSubmatch(e)
				v, ok := ctxVals[sub[2]]
				if !ok || (sub[1] != "github" && sub[1] != "gitea" && sub[1] != "secrets") {
					t.Fatalf("CI example %d uses %s, which the test does not know", i, e)
				}
				return v
			})
		}
		jobs := ciJobs(t, block)
		if len(jobs) == 0 {
			t.Fatalf("CI example %d has no jobs", i)
		}
		work := t.TempDir()
		if err := os.MkdirAll(filepath.Join(work, "dist"), 0o755); err != nil {
			t.Fatal(err)
		}
		// What `make dist` would build.
		files := map[string][]byte{
			"myapp":        []byte("myapp binary\n"),
			"myapp.sha256": []byte("checksum line\n"),
			"app":          []byte("gitlab app\n"),
		}
		for name, b := range files {
			os.WriteFile(filepath.Join(work, "dist", name), b, 0o644)
		}
		for _, job := range jobs {
			for n, step := range job.steps {
				var lines []string
				for _, l := range strings.Split(step, "\n") {
					tl := strings.TrimSpace(l)
					if strings.HasPrefix(tl, "make ") || strings.HasPrefix(tl, "go install ") {
						continue
					}
					lines = append(lines, l)
				}
				script := fill(strings.Join(lines, "\n"))
				cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
				cmd.Dir = work
				cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "XDG_CONFIG_HOME="+t.TempDir(),
					"DEPOT_URL="+base, "DEPOT_TOKEN="+token, "DEPOT_JOB_TOKEN="+jobToken, "CI_COMMIT_TAG="+tag)
				for k, v := range job.env {
					if k != "DEPOT_URL" { // the example's placeholder host
						cmd.Env = append(cmd.Env, k+"="+fill(v))
					}
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("CI example %d, job %s, step %d failed: %v\n%s\n--- script:\n%s", i, job.name, n, err, out, script)
				}
			}
		}
		check := func(path string, want []byte) {
			t.Helper()
			got, err := os.ReadFile(filepath.Join(work, path))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("CI example %d: %s = %q, %v; want %q", i, path, got, err, want)
			}
		}
		switch i {
		case 0:
			check("tools.tar.gz", tools["2.3.0"])
			check("tools/tools.tar.gz", tools["2.3.0"])
		case 1:
			check("deps/tools.tar.gz", tools["2.3.0"])
			check("deps-client/tools.tar.gz", tools["2.3.0"])
		case 2:
			check("app", files["app"])
			check("app-1.x", files["app"])
			check("latest/app", files["app"])
		}
	}
	// What the examples published.
	admin := &depot.Actor{User: &depot.User{IsAdmin: true}}
	for _, c := range []struct{ pkg, version, file, want string }{
		{"myapp", "v1.0.0", "myapp", "myapp binary\n"},
		{"myapp", "v1.0.0", "myapp.sha256", "checksum line\n"},
		{"myapp", "v1.1.0", "myapp", "myapp binary\n"},
		{"app", "v1.2.0", "app", "gitlab app\n"},
	} {
		_, r, err := svc.OpenFile(ctx, admin, depot.FileRef{Owner: "acme", Type: depot.TypeGeneric, Package: c.pkg, Version: c.version, File: c.file})
		if err != nil {
			t.Errorf("published %s@%s/%s: %v", c.pkg, c.version, c.file, err)
			continue
		}
		var b bytes.Buffer
		b.ReadFrom(r)
		r.Close()
		if b.String() != c.want {
			t.Errorf("published %s@%s/%s = %q, want %q", c.pkg, c.version, c.file, b.String(), c.want)
		}
	}
}
