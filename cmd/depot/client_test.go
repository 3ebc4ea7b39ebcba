package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/client"
	"github.com/depot-registry/depot/internal/client/display"
	"github.com/depot-registry/depot/internal/depot"
)

// clientEnv is a running server with a user and a write token, and the
// environment a client command of the test runs with (its own config
// directory, no saved login).
type clientEnv struct {
	m     *Main
	url   string
	token string
	env   map[string]string
}

func mustClientEnv(t *testing.T, user string) *clientEnv {
	t.Helper()
	return mustClientEnvConfig(t, user, Config{})
}

func mustClientEnvConfig(t *testing.T, user string, c Config) *clientEnv {
	t.Helper()
	m := MustRunMain(t, c)
	token := mustUserToken(t, m, user)
	e := &clientEnv{m: m, url: "http://" + m.Addr(), token: token}
	e.env = map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "DEPOT_URL": e.url, "DEPOT_TOKEN": token}
	return e
}

// mustFile writes size bytes (seeded by name) to dir/name and returns them.
func mustFile(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	var seed [32]byte
	copy(seed[:], name)
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// runJSON runs a client command with --json and decodes its summary.
func runJSON(t *testing.T, env map[string]string, args ...string) (int, display.Summary, string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, env, append(args, "--json")...)
	var s display.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("depot %s: stdout is not one JSON document: %v\n%s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	if s.ExitCode != code {
		t.Errorf("JSON exit_code %d, process %d", s.ExitCode, code)
	}
	return code, s, stderr
}

func byName(files []client.FileResult) map[string]client.FileResult {
	out := map[string]client.FileResult{}
	for _, f := range files {
		out[f.Name] = f
	}
	return out
}

func TestClientRoundTrip(t *testing.T) {
	e := mustClientEnv(t, "alice")
	src := t.TempDir()
	files := map[string][]byte{
		"app.tar.gz": mustFile(t, src, "app.tar.gz", 300<<10),
		"app.sig":    mustFile(t, src, "app.sig", 100),
		"empty.txt":  mustFile(t, src, "empty.txt", 0),
	}
	paths := []string{filepath.Join(src, "app.tar.gz"), filepath.Join(src, "app.sig"), filepath.Join(src, "empty.txt")}

	t.Run("push", func(t *testing.T) {
		for _, v := range []string{"1.2.0", "1.10.0", "2.0.0-rc.1"} {
			code, s, stderr := runJSON(t, e.env, append([]string{"push", "alice/app@" + v}, paths...)...)
			if code != 0 {
				t.Fatalf("push %s: exit %d: %s", v, code, stderr)
			}
			if s.Command != "push" || s.Owner != "alice" || s.Package != "app" || s.Version != v || len(s.Files) != 3 {
				t.Fatalf("summary %+v", s)
			}
			for name, f := range byName(s.Files) {
				if f.Status != client.Uploaded || f.SHA256 != sha256hex(files[name]) || f.Size != int64(len(files[name])) {
					t.Errorf("%s: %+v", name, f)
				}
			}
		}
	})
	t.Run("push again is done", func(t *testing.T) {
		code, s, stderr := runJSON(t, e.env, append([]string{"push", "alice/app@1.2.0"}, paths...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, f := range s.Files {
			if f.Status != client.Exists {
				t.Errorf("%s: status %s, want exists", f.Name, f.Status)
			}
		}
	})
	t.Run("push of other content is a conflict", func(t *testing.T) {
		other := t.TempDir()
		os.WriteFile(filepath.Join(other, "app.sig"), []byte("other bytes"), 0o644)
		code, s, _ := runJSON(t, e.env, "push", "alice/app@1.2.0", filepath.Join(other, "app.sig"))
		if code != exitConflict || s.Files[0].Status != client.Failed || !strings.Contains(s.Files[0].Error, "other content") {
			t.Fatalf("exit %d, %+v; want %d", code, s, exitConflict)
		}
	})
	t.Run("ls", func(t *testing.T) {
		code, out, stderr := runCLI(t, e.env, "ls", "alice/app@1.2.0", "--json")
		var fs []client.RemoteFile
		if code != 0 || json.Unmarshal([]byte(out), &fs) != nil || len(fs) != 3 {
			t.Fatalf("exit %d, %q, %s", code, out, stderr)
		}
		for _, f := range fs {
			if f.SHA256 != sha256hex(files[f.Name]) {
				t.Errorf("%s: sha256 %s", f.Name, f.SHA256)
			}
		}
		code, out, _ = runCLI(t, e.env, "ls", "alice/app", "--json")
		var vs []client.PackageVersion
		if code != 0 || json.Unmarshal([]byte(out), &vs) != nil || len(vs) != 3 || vs[0].Version != "2.0.0-rc.1" {
			t.Fatalf("versions: exit %d, %s", code, out)
		}
		code, out, _ = runCLI(t, e.env, "ls", "alice")
		if code != 0 || !strings.Contains(out, "PACKAGE") || strings.Count(out, "app ") != 3 {
			t.Fatalf("owner table: exit %d\n%s", code, out)
		}
	})
	dst := t.TempDir()
	t.Run("pull a range", func(t *testing.T) {
		code, s, stderr := runJSON(t, e.env, "pull", "alice/app@^1.2", "-o", dst)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if s.Version != "1.10.0" || s.Requested != "^1.2" || len(s.Files) != 3 {
			t.Fatalf("summary %+v", s)
		}
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dst, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v; want %d", name, len(got), err, len(want))
			}
			if f := byName(s.Files)[name]; f.Status != client.Downloaded || f.SHA256 != sha256hex(want) {
				t.Errorf("%s: %+v", name, f)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(dst, "*.part*")); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	t.Run("pull again skips matching files", func(t *testing.T) {
		code, s, _ := runJSON(t, e.env, "pull", "alice/app@1.10.0", "app.sig", "APP.SIG", "-o", dst)
		if code != 0 || len(s.Files) != 1 || s.Files[0].Status != client.Skipped {
			t.Fatalf("exit %d, %+v", code, s)
		}
		// A local file with other bytes is replaced.
		os.WriteFile(filepath.Join(dst, "app.sig"), []byte("stale"), 0o644)
		code, s, _ = runJSON(t, e.env, "pull", "alice/app@1.10.0", "app.sig", "-o", dst)
		got, _ := os.ReadFile(filepath.Join(dst, "app.sig"))
		if code != 0 || s.Files[0].Status != client.Downloaded || !bytes.Equal(got, files["app.sig"]) {
			t.Fatalf("exit %d, %+v", code, s)
		}
	})
	t.Run("pull latest", func(t *testing.T) {
		code, s, _ := runJSON(t, e.env, "pull", "alice/app", "app.sig", "-o", t.TempDir())
		if code != 0 || s.Version != "1.10.0" {
			t.Fatalf("exit %d, version %q; want 1.10.0 (prereleases excluded)", code, s.Version)
		}
		code, s, _ = runJSON(t, e.env, "pull", "alice/app@>=2.0.0-rc.0", "app.sig", "-o", t.TempDir())
		if code != 0 || s.Version != "2.0.0-rc.1" {
			t.Fatalf("exit %d, version %q; want the prerelease the range names", code, s.Version)
		}
	})
	t.Run("plain output names every file", func(t *testing.T) {
		code, out, _ := runCLI(t, e.env, "pull", "alice/app@1.2.0", "-o", t.TempDir())
		if code != 0 || strings.Count(out, "downloaded") != 3 || strings.Contains(out, "\x1b") {
			t.Fatalf("exit %d:\n%q", code, out)
		}
	})
	t.Run("rm", func(t *testing.T) {
		if code, _, stderr := runCLI(t, e.env, "rm", "alice/app@1.2.0/app.sig"); code != 0 {
			t.Fatalf("rm file: exit %d: %s", code, stderr)
		}
		code, out, _ := runCLI(t, e.env, "ls", "alice/app@1.2.0", "--json")
		if code != 0 || strings.Contains(out, "app.sig") {
			t.Fatalf("after rm: exit %d, %s", code, out)
		}
		if code, _, stderr := runCLI(t, e.env, "rm", "alice/app@1.2.0"); code != 0 {
			t.Fatalf("rm version: exit %d: %s", code, stderr)
		}
		if code, _, _ := runCLI(t, e.env, "rm", "alice/app@1.2.0"); code != exitNotFound {
			t.Fatalf("rm again: exit %d, want %d", code, exitNotFound)
		}
		if code, s, _ := runJSON(t, e.env, "pull", "alice/app@1.2.0", "-o", t.TempDir()); code != exitNotFound || s.Error == "" {
			t.Fatalf("pull removed version: exit %d, %+v", code, s)
		}
	})
}

func TestClientExitCodes(t *testing.T) {
	e := mustClientEnv(t, "bob")
	src := t.TempDir()
	mustFile(t, src, "f.bin", 10)
	f := filepath.Join(src, "f.bin")
	if code, _, stderr := runCLI(t, e.env, "push", "bob/p@1.0.0", f, "--quiet"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	readTok, _, err := e.m.Service.CreateToken(t.Context(), "bob", "read", depot.Scopes{depot.ScopeReadPackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	readOnly := map[string]string{"XDG_CONFIG_HOME": e.env["XDG_CONFIG_HOME"], "DEPOT_URL": e.url, "DEPOT_TOKEN": readTok}
	bad := map[string]string{"XDG_CONFIG_HOME": e.env["XDG_CONFIG_HOME"], "DEPOT_URL": e.url, "DEPOT_TOKEN": "not-a-token"}
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"401 bad token", bad, []string{"push", "bob/p@2.0.0", f}, exitAuth},
		{"401 bad token on pull", bad, []string{"pull", "bob/p@1.0.0", "-o", t.TempDir()}, exitAuth},
		{"403 read-only token", readOnly, []string{"push", "bob/p@2.0.0", f}, exitAuth},
		{"403 read-only token on rm", readOnly, []string{"rm", "bob/p@1.0.0"}, exitAuth},
		{"404 another owner", e.env, []string{"rm", "someone/p@1.0.0"}, exitNotFound},
		{"404 missing version", e.env, []string{"pull", "bob/p@9.9.9", "-o", t.TempDir()}, exitNotFound},
		{"404 no version in range", e.env, []string{"pull", "bob/p@^3", "-o", t.TempDir()}, exitNotFound},
		{"404 missing file", e.env, []string{"pull", "bob/p@1.0.0", "nope.bin", "-o", t.TempDir()}, exitNotFound},
		{"404 missing package", e.env, []string{"ls", "bob/nothing"}, exitNotFound},
		{"same content again is done", e.env, []string{"push", "bob/p@1.0.0", f, "--quiet"}, exitOK},
		{"usage: no version", e.env, []string{"push", "bob/p", f}, exitUsage},
		{"usage: no files", e.env, []string{"push", "bob/p@1"}, exitUsage},
		{"usage: bad reference", e.env, []string{"ls", "bob/p@"}, exitUsage},
		{"usage: invalid name on the server", e.env, []string{"push", "bob/bad name@1", f}, exitUsage},
		{"usage: no server", map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "DEPOT_URL": "", "DEPOT_TOKEN": ""}, []string{"ls", "bob"}, exitUsage},
		{"connection refused after retries", map[string]string{"DEPOT_URL": "http://" + freeAddr(t)}, []string{"ls", "bob"}, exitFailure},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.env, c.args...)
			if code != c.want {
				t.Fatalf("exit %d, want %d; stderr %s", code, c.want, stderr)
			}
		})
	}
	t.Run("409 other content", func(t *testing.T) {
		os.WriteFile(f, []byte("different"), 0o644)
		code, _, stderr := runCLI(t, e.env, "push", "bob/p@1.0.0", f)
		if code != exitConflict || !strings.Contains(stderr, "other content") {
			t.Fatalf("exit %d, want %d; stderr %s", code, exitConflict, stderr)
		}
	})
}

func TestClientLogin(t *testing.T) {
	e := mustClientEnv(t, "carol")
	cfg := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": cfg, "DEPOT_URL": "", "DEPOT_TOKEN": ""}
	if code, _, stderr := runCLI(t, env, "login", e.url, "--token", "wrong"); code != exitAuth {
		t.Fatalf("login with a bad token: exit %d, want %d: %s", code, exitAuth, stderr)
	}
	path := filepath.Join(cfg, "depot", "config.json")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a refused token was saved")
	}
	code, out, stderr := runCLI(t, env, "login", e.url+"/", "--token", e.token)
	if code != 0 || !strings.Contains(out, path) {
		t.Fatalf("login: exit %d, %q: %s", code, out, stderr)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, mode %v; want 0600", err, fi.Mode())
	}
	c, err := client.LoadConfig(path)
	if err != nil || c.URL != e.url || c.Token != e.token {
		t.Fatalf("saved %+v, %v", c, err)
	}
	// The saved login serves the commands; DEPOT_TOKEN overrides it.
	src := t.TempDir()
	mustFile(t, src, "x", 5)
	if code, _, stderr := runCLI(t, env, "push", "carol/x@1", filepath.Join(src, "x")); code != 0 {
		t.Fatalf("push with the saved login: exit %d: %s", code, stderr)
	}
	env["DEPOT_TOKEN"] = "overridden"
	if code, _, _ := runCLI(t, env, "push", "carol/x@2", filepath.Join(src, "x")); code != exitAuth {
		t.Fatalf("push with DEPOT_TOKEN overriding: exit %d, want %d", code, exitAuth)
	}
}
