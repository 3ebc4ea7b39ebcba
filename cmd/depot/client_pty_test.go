//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/depot-registry/depot/internal/client/display"
)

// runInPTY runs the binary with its standard streams on a new
// pseudo-terminal and returns the exit code and everything it wrote there.
func runInPTY(t *testing.T, ctx context.Context, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 140})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, tty)
		copied <- err
	}()
	err = cmd.Wait()
	select {
	case cerr := <-copied:
		// Linux answers EIO on the terminal's side once the child's side
		// is closed: the end of its output.
		if cerr != nil && !errors.Is(cerr, syscall.EIO) {
			t.Fatalf("reading the terminal: %v", cerr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not close after the command exited")
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

func TestClientProgressInTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx := t.Context()
	bin := buildBinary(t, ctx, t.TempDir())
	e := mustClientEnv(t, "erin")
	env := []string{"XDG_CONFIG_HOME=" + e.env["XDG_CONFIG_HOME"], "DEPOT_URL=" + e.url, "DEPOT_TOKEN=" + e.token}
	src := t.TempDir()
	mustFile(t, src, "first-file.bin", 6<<20)
	mustFile(t, src, "second-file.bin", 3<<20)

	t.Run("bars on a terminal", func(t *testing.T) {
		code, out := runInPTY(t, ctx, bin, env, "push", "erin/app@1.0.0", filepath.Join(src, "first-file.bin"), filepath.Join(src, "second-file.bin"))
		if code != 0 {
			t.Fatalf("push: exit %d:\n%q", code, out)
		}
		for _, want := range []string{"first-file.bin", "second-file.bin", "100%", "6.0 MiB / 6.0 MiB", "uploaded", "[====="} {
			if !strings.Contains(out, want) {
				t.Errorf("terminal output lacks %q:\n%q", want, out)
			}
		}
		code, out = runInPTY(t, ctx, bin, env, "pull", "erin/app@^1", "-o", t.TempDir())
		if code != 0 || !strings.Contains(out, "first-file.bin") || !strings.Contains(out, "100%") || !strings.Contains(out, "downloaded") {
			t.Fatalf("pull: exit %d:\n%q", code, out)
		}
	})
	t.Run("listings and errors on a terminal", func(t *testing.T) {
		code, out := runInPTY(t, ctx, bin, env, "ls", "erin/app@1.0.0")
		if code != 0 || !strings.Contains(out, "first-file.bin") || !strings.Contains(out, "SHA256") || strings.Contains(out, "\x1b") {
			t.Fatalf("ls: exit %d:\n%q", code, out)
		}
		code, out = runInPTY(t, ctx, bin, env, "pull", "erin/app@^7", "-o", t.TempDir())
		if code != exitNotFound || !strings.Contains(out, "^7") {
			t.Fatalf("pull of no match: exit %d:\n%q", code, out)
		}
	})
	t.Run("json on a terminal has no escape codes", func(t *testing.T) {
		code, out := runInPTY(t, ctx, bin, env, "pull", "erin/app@1.0.0", "-o", t.TempDir(), "--json")
		if code != 0 {
			t.Fatalf("exit %d:\n%q", code, out)
		}
		if strings.Contains(out, "\x1b") || strings.Contains(out, "[===") {
			t.Errorf("JSON output holds escape codes or bars:\n%q", out)
		}
		var s display.Summary
		if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Files) != 2 || s.Version != "1.0.0" {
			t.Fatalf("not the summary: %v\n%q", err, out)
		}
	})
	t.Run("quiet prints nothing", func(t *testing.T) {
		code, out := runInPTY(t, ctx, bin, env, "pull", "erin/app@1.0.0", "-o", t.TempDir(), "--quiet")
		if code != 0 || out != "" {
			t.Fatalf("exit %d:\n%q", code, out)
		}
	})
	t.Run("token on standard input", func(t *testing.T) {
		cfg := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, "login", e.url, "--token-stdin")
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+cfg, "DEPOT_TOKEN=")
		cmd.Stdin = strings.NewReader(e.token + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("login: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(cfg, "depot", "config.json"))
		if err != nil || !strings.Contains(string(b), e.token) {
			t.Fatalf("config: %v\n%s", err, b)
		}
	})
}
