package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"
)

// runCLI runs the depot command line in-process and returns its exit code,
// stdout and stderr, as the binary would produce them.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	err := NewApp(&stdout, &stderr).Run(context.Background(), append([]string{"depot"}, args...))
	return exitCode(&stderr, err), stdout.String(), stderr.String()
}

func TestCLIBadSettingsExitTwo(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		env     map[string]string
		args    []string
		setting string
	}{
		{"max upload size flag", nil, []string{"serve", "--data-dir", dir, "--max-upload-size", "lots"}, "--max-upload-size"},
		{"max upload size env", map[string]string{"DEPOT_MAX_UPLOAD_SIZE": "-3"}, []string{"serve", "--data-dir", dir}, "DEPOT_MAX_UPLOAD_SIZE"},
		{"database url", nil, []string{"serve", "--data-dir", dir, "--database-url", "mysql://x"}, "--database-url"},
		{"database url env on admin", map[string]string{"DEPOT_DATABASE_URL": "nonsense"}, []string{"admin", "user", "list", "--data-dir", dir}, "DEPOT_DATABASE_URL"},
		{"storage url", nil, []string{"serve", "--data-dir", dir, "--storage-url", "ftp://x"}, "--storage-url"},
		{"postgres url without host", nil, []string{"serve", "--data-dir", dir, "--database-url", "postgres:///db"}, "--database-url"},
		{"s3 url without bucket", nil, []string{"serve", "--data-dir", dir, "--storage-url", "s3://?endpoint=http://127.0.0.1:1"}, "--storage-url"},
		{"redirect without s3", nil, []string{"serve", "--data-dir", dir, "--storage-redirect"}, "--storage-redirect"},
		{"half s3 credentials", map[string]string{"DEPOT_S3_ACCESS_KEY_ID": "k"}, []string{"serve", "--data-dir", dir}, "--s3-secret-access-key"},
		{"base url", nil, []string{"serve", "--data-dir", dir, "--base-url", "not a url"}, "--base-url"},
		{"addr", map[string]string{"DEPOT_ADDR": "nocolon"}, []string{"serve", "--data-dir", dir}, "DEPOT_ADDR"},
		{"unknown flag", nil, []string{"serve", "--no-such-flag"}, "no-such-flag"},
		{"metrics token without metrics", map[string]string{"DEPOT_METRICS_TOKEN": "t"}, []string{"serve", "--data-dir", dir}, "DEPOT_METRICS_TOKEN"},
		{"header timeout", nil, []string{"serve", "--data-dir", dir, "--read-header-timeout", "0s"}, "--read-header-timeout"},
		{"idle timeout env", map[string]string{"DEPOT_IDLE_TIMEOUT": "-1s"}, []string{"serve", "--data-dir", dir}, "DEPOT_IDLE_TIMEOUT"},
		{"inline max over 64KiB", nil, []string{"serve", "--data-dir", dir, "--inline-max", "1MiB"}, "--inline-max"},
		{"inline max env", map[string]string{"DEPOT_INLINE_MAX": "small"}, []string{"serve", "--data-dir", dir}, "DEPOT_INLINE_MAX"},
		{"max header bytes", nil, []string{"serve", "--data-dir", dir, "--max-header-bytes", "12"}, "--max-header-bytes"},
		{"max uploads per client", nil, []string{"serve", "--data-dir", dir, "--max-uploads-per-client", "-1"}, "--max-uploads-per-client"},
		{"max uploads env", map[string]string{"DEPOT_MAX_UPLOADS": "-5"}, []string{"serve", "--data-dir", dir}, "DEPOT_MAX_UPLOADS"},
		{"bad role", nil, []string{"admin", "org", "add-member", "--data-dir", dir, "--org", "o", "--username", "u", "--role", "owner"}, "--role"},
		{"limit count flag", nil, []string{"serve", "--data-dir", dir, "--limit-total-owner-count", "-2"}, "--limit-total-owner-count"},
		{"limit size env", map[string]string{"DEPOT_LIMIT_TOTAL_OWNER_SIZE": "lots"}, []string{"serve", "--data-dir", dir}, "DEPOT_LIMIT_TOTAL_OWNER_SIZE"},
		{"limit file size flag", nil, []string{"serve", "--data-dir", dir, "--limit-size-generic", "-5MiB"}, "--limit-size-generic"},
		{"quota max versions", nil, []string{"admin", "quota", "set", "--data-dir", dir, "--owner", "o", "--max-versions", "ten"}, "--max-versions"},
		{"quota max size", nil, []string{"admin", "quota", "set", "--data-dir", dir, "--owner", "o", "--max-size", "-2"}, "--max-size"},
		{"cleanup interval", nil, []string{"serve", "--data-dir", dir, "--cleanup-interval", "-1h"}, "--cleanup-interval"},
		{"cleanup lease env", map[string]string{"DEPOT_CLEANUP_LEASE": "0s"}, []string{"serve", "--data-dir", dir}, "DEPOT_CLEANUP_LEASE"},
		{"cleanup poll", nil, []string{"serve", "--data-dir", dir, "--cleanup-poll", "-5s"}, "--cleanup-poll"},
		{"bad scope", nil, []string{"admin", "token", "create", "--data-dir", dir, "--username", "u", "--name", "n", "--scopes", "write:everything"}, "--scopes"},
		{"bad webhook host list", map[string]string{"DEPOT_WEBHOOK_ALLOWED_HOSTS": "[x"}, []string{"serve", "--data-dir", dir}, "DEPOT_WEBHOOK_ALLOWED_HOSTS"},
		{"zero webhook timeout", nil, []string{"serve", "--data-dir", dir, "--webhook-timeout", "0s"}, "--webhook-timeout"},
		{"hook without owner", nil, []string{"admin", "hook", "list", "--data-dir", dir}, "--owner"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.env, c.args...)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr %q", code, stderr)
			}
			if !strings.Contains(stderr, c.setting) {
				t.Errorf("stderr %q does not name %s", stderr, c.setting)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
				t.Errorf("error is %d lines, want one: %q", n+1, stderr)
			}
		})
	}
}

func TestCLIAdminFlow(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "s3cret-pass", "--email", "alice@example.com", "--admin")
	mustCLI("admin", "user", "create", "--username", "bob", "--password", "s3cret-pass", "--email", "bob@example.com")
	if out := mustCLI("admin", "user", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Fatalf("user list %q lacks users", out)
	}
	mustCLI("admin", "org", "create", "--name", "acme", "--owner", "alice", "--visibility", "private")
	mustCLI("admin", "org", "add-member", "--org", "acme", "--username", "bob", "--role", "write")
	token := strings.TrimSpace(mustCLI("admin", "token", "create", "--username", "bob", "--name", "ci", "--scopes", "write:package"))
	if len(token) != 40 || strings.ContainsAny(token, " \n") {
		t.Fatalf("token create printed %q, want only a 40-character token", token)
	}
	if out := mustCLI("admin", "token", "list", "--username", "bob"); !strings.Contains(out, "ci") || strings.Contains(out, token) {
		t.Fatalf("token list %q must name the token and never show its secret", out)
	}
	// Errors: duplicate user, unknown user.
	if code, _, errOut := runCLI(t, env, "admin", "user", "create", "--username", "ALICE", "--password", "s3cret-pass", "--email", "a@example.com"); code != 1 || !strings.Contains(errOut, "taken") {
		t.Errorf("duplicate user: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, env, "admin", "token", "create", "--username", "nobody", "--name", "x", "--scopes", "all"); code != 1 {
		t.Errorf("token for unknown user: exit %d, want 1", code)
	}

	// The token works against a server on the same data directory, and
	// stops working once revoked, while the server runs: the server sees a
	// revocation by another process when its cached entry expires, within
	// --token-cache-ttl.
	const ttl = 300 * time.Millisecond
	m := MustRunMain(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"), TokenCacheTTL: ttl})
	put := func() int {
		req, _ := http.NewRequest(http.MethodPut, "http://"+m.Addr()+"/api/packages/acme/generic/tool/1.0/tool.bin", strings.NewReader("bytes"))
		req.SetBasicAuth("bob", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := put(); s != http.StatusCreated {
		t.Fatalf("upload with CLI token: %d, want 201", s)
	}
	mustCLI("admin", "token", "revoke", "--username", "bob", "--name", "ci")
	time.Sleep(ttl)
	if s := put(); s != http.StatusUnauthorized {
		t.Fatalf("upload with revoked token, %v after revoking: %d, want 401", ttl, s)
	}
	if code, _, _ := runCLI(t, env, "admin", "token", "revoke", "--username", "bob", "--name", "ci"); code != 1 {
		t.Errorf("revoking twice: exit %d, want 1", code)
	}
}

func TestCLIVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || strings.TrimSpace(out) != "depot "+version {
		t.Fatalf("version: exit %d, output %q", code, out)
	}
}

func TestCLIProjects(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "s3cret-pass", "--email", "alice@example.com")
	mustCLI("admin", "org", "create", "--name", "acme", "--owner", "alice", "--visibility", "private")
	first := strings.TrimSpace(mustCLI("admin", "project", "create", "--owner", "acme", "--name", "tool-src"))
	second := strings.TrimSpace(mustCLI("admin", "project", "create", "--owner", "alice", "--name", "tool-src", "--visibility", "public"))
	for _, id := range []string{first, second} {
		if n, err := strconv.Atoi(id); err != nil || n <= 0 {
			t.Fatalf("project create printed %q, want only a numeric id", id)
		}
	}
	if first == second {
		t.Errorf("two projects got the same id %s", first)
	}
	out := mustCLI("admin", "project", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("project list = %q, want a header and two projects", out)
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[0] != first || f[1] != "acme" || f[2] != "tool-src" || f[3] != "(owner's)" {
		t.Errorf("first project line = %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 4 || f[0] != second || f[1] != "alice" || f[3] != "public" {
		t.Errorf("second project line = %q", lines[2])
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"taken name", []string{"--owner", "ACME", "--name", "TOOL-SRC"}, 1},
		{"missing owner", []string{"--owner", "nobody", "--name", "x"}, 1},
		{"bad name", []string{"--owner", "acme", "--name", "x.git"}, 1},
		{"bad visibility", []string{"--owner", "acme", "--name", "y", "--visibility", "limited"}, 2},
	} {
		if code, _, errOut := runCLI(t, env, append([]string{"admin", "project", "create"}, c.args...)...); code != c.code {
			t.Errorf("%s: exit %d, want %d; stderr %q", c.name, code, c.code, errOut)
		}
	}
}

// TestCLICommandsListedOnce checks that no command has two subcommands of
// one name (admin --help once listed migrate twice), in the tree and in
// the help text itself.
func TestCLICommandsListedOnce(t *testing.T) {
	var walk func(path string, cmd *cli.Command)
	walk = func(path string, cmd *cli.Command) {
		seen := map[string]bool{}
		for _, sub := range cmd.Commands {
			for _, name := range append([]string{sub.Name}, sub.Aliases...) {
				if seen[name] {
					t.Errorf("%s has two subcommands named %q", path, name)
				}
				seen[name] = true
			}
			walk(path+" "+sub.Name, sub)
		}
	}
	walk("depot", NewApp(io.Discard, io.Discard))

	code, stdout, stderr := runCLI(t, nil, "admin", "--help")
	if code != 0 {
		t.Fatalf("admin --help: exit %d, stderr %q", code, stderr)
	}
	for _, name := range []string{"migrate", "gc", "user", "token"} {
		n := 0
		for _, line := range strings.Split(stdout, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == name {
				n++
			}
		}
		if n != 1 {
			t.Errorf("admin --help lists %q %d times, want once:\n%s", name, n, stdout)
		}
	}
}
