//go:build unix

package fsblob

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOwnerChild is the other process of TestCleanTempDeadOwner: it opens
// the store, starts an upload, says so and waits to be killed.
func TestOwnerChild(t *testing.T) {
	dir := os.Getenv("FSBLOB_OWNER_CHILD_DIR")
	if dir == "" {
		t.Skip("run by TestCleanTempDeadOwner")
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.NewUpload(context.Background(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("half an upload")); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready " + filepath.Base(up.(*upload).f.Name()) + "\n")
	time.Sleep(time.Minute)
}

// TestCleanTempDeadOwner runs a second process that starts an upload in
// the same directory: while it lives, CleanTemp keeps its fresh temporary
// file; once it is killed with SIGKILL, CleanTemp removes that file at
// once, without waiting for the age cutoff, and its lock file with it,
// while this process's own upload in progress stays.
func TestCleanTempDeadOwner(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mine, err := s.NewUpload(context.Background(), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestOwnerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FSBLOB_OWNER_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	theirs, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		t.Fatalf("child: %q %v", line, err)
	}
	tmpNames := func() []string {
		t.Helper()
		names, err := s.TempUploads()
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	cutoff := time.Now().Add(-time.Hour)
	if n, err := s.CleanTemp(cutoff); err != nil || n != 0 {
		t.Fatalf("CleanTemp with the other process alive = %d, %v; want 0", n, err)
	}
	if !slices.Contains(tmpNames(), theirs) {
		t.Fatalf("CleanTemp removed the live process's upload %s", theirs)
	}

	cmd.Process.Kill()
	cmd.Wait()
	if n, err := s.CleanTemp(cutoff); err != nil || n != 1 {
		t.Fatalf("CleanTemp after the other process was killed = %d, %v; want 1", n, err)
	}
	if names := tmpNames(); slices.Contains(names, theirs) || !slices.Contains(names, filepath.Base(mine.(*upload).f.Name())) {
		t.Errorf("temporary files after CleanTemp: %q; want only this process's upload", names)
	}
	locks, _ := os.ReadDir(filepath.Join(dir, "owners"))
	if len(locks) != 1 || locks[0].Name() != s.owner+".lock" {
		t.Errorf("owners/ after CleanTemp: %v, want only this store's lock", locks)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if locks, _ := os.ReadDir(filepath.Join(dir, "owners")); len(locks) != 0 {
		t.Errorf("owners/ after Close: %v, want empty", locks)
	}
}
