package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/client"
)

// TestClientPushVerify: with --verify the client declares each file's
// sha256 and deploys by checksum content the server already holds (and
// the user may read): the second push of the same bytes sends none. A
// retried push is Exists from the server's X-Depot-Identical, and other
// content under the name is a conflict (exit 5).
func TestClientPushVerify(t *testing.T) {
	e := mustClientEnv(t, "alice")
	src := t.TempDir()
	a := mustFile(t, src, "a.bin", 200<<10)
	b := mustFile(t, src, "b.bin", 3000)
	pa, pb := filepath.Join(src, "a.bin"), filepath.Join(src, "b.bin")
	want := func(t *testing.T, s []client.FileResult, status map[string]client.Status) {
		t.Helper()
		got := byName(s)
		for name, st := range status {
			content := map[string][]byte{"a.bin": a, "b.bin": b}[name]
			if f := got[name]; f.Status != st || f.SHA256 != sha256hex(content) {
				t.Errorf("%s: %+v, want %s with its sha256", name, f, st)
			}
		}
	}
	code, s, stderr := runJSON(t, e.env, "push", "alice/app@1", pa, "--verify")
	if code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	want(t, s.Files, map[string]client.Status{"a.bin": client.Uploaded})

	code, s, stderr = runJSON(t, e.env, "push", "alice/app@2", pa, pb, "--verify")
	if code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	want(t, s.Files, map[string]client.Status{"a.bin": client.Deployed, "b.bin": client.Uploaded})
	code, out, stderr := runCLI(t, e.env, "pull", "alice/app@2", "a.bin", "-o", t.TempDir(), "--json")
	if code != 0 {
		t.Fatalf("pull of the deployed file: exit %d: %s %s", code, out, stderr)
	}

	// A retry, with and without --verify: done.
	for _, args := range [][]string{{"--verify"}, nil} {
		code, s, stderr = runJSON(t, e.env, append([]string{"push", "alice/app@2", pa, pb}, args...)...)
		if code != 0 {
			t.Fatalf("retry %v: exit %d: %s", args, code, stderr)
		}
		want(t, s.Files, map[string]client.Status{"a.bin": client.Exists, "b.bin": client.Exists})
	}
	// Other bytes under the name.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "a.bin"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, s, _ = runJSON(t, e.env, "push", "alice/app@2", filepath.Join(other, "a.bin"), "--verify")
	if code != exitConflict || !strings.Contains(s.Files[0].Error, "other content") || !strings.Contains(s.Files[0].Error, sha256hex(a)) {
		t.Fatalf("conflict: exit %d, %+v", code, s)
	}
}
