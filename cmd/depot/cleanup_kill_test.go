//go:build linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/sqlite"
)

// TestCleanupKilledMidPass kills `depot serve` (SIGKILL) while its
// scheduled cleanup pass deletes, then starts it again: the dead pass
// blocks the next until its lease runs out, the next pass deletes the
// rest, and the registry ends exactly as an uninterrupted pass leaves it:
// the kept versions with their blobs, no other version, no blob without
// a file.
func TestCleanupKilledMidPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; it runs outside -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := buildBinary(t, ctx, tmp)
	data := filepath.Join(tmp, "data")
	dbPath, blobDir := filepath.Join(data, "depot.db"), filepath.Join(data, "blobs")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}

	const versions = 800
	open := func() (*sqlite.Store, *depot.Service, *fsblob.Store) {
		t.Helper()
		st, err := sqlite.Open(ctx, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := fsblob.New(blobDir)
		if err != nil {
			t.Fatal(err)
		}
		return st, depot.NewService(st, bs, plainPasswords{}, &depot.Options{Logger: slog.New(slog.DiscardHandler)}), bs
	}
	st, svc, _ := open()
	u, err := svc.CreateUser(ctx, depot.NewUser{Username: "kil", Email: "k@example.com", Password: "kill-password"})
	if err != nil {
		t.Fatal(err)
	}
	a := &depot.Actor{User: u}
	for i := range versions {
		body := fmt.Sprintf("version %d", i)
		if _, err := svc.UploadFile(ctx, a, depot.FileRef{Owner: "kil", Type: depot.TypeGeneric, Package: "app", Version: fmt.Sprintf("1.0.%d", i), File: "f"}, int64(len(body)), strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateCleanupRule(ctx, a, "kil", depot.CleanupRule{Enabled: true, KeepCount: 2}); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	st.Close()

	env := []string{"DEPOT_DATA_DIR=" + data}
	first := startServer(t, ctx, bin, filepath.Join(tmp, "first.log"), env, "--cleanup-interval", "1h", "--cleanup-lease", "3s")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(first.log(), "cleanup pass started") {
		if time.Now().After(deadline) {
			t.Fatalf("no pass started:\n%s", first.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	first.kill(t)

	st, svc, bs := open()
	count := func() (vs, blobs int) {
		t.Helper()
		page, err := svc.ListVersions(ctx, a, depot.PackageQuery{Owner: "kil", Type: depot.TypeGeneric, Name: "app", ExactName: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.Walk(ctx, func(string) error { blobs++; return nil }); err != nil {
			t.Fatal(err)
		}
		var inline int // small blobs are kept in the database
		if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM blob_contents`).Scan(&inline); err != nil {
			t.Fatal(err)
		}
		return len(page.Versions), blobs + inline
	}
	left, _ := count()
	ps, _ := svc.CleanupPasses(ctx, 10)
	if strings.Contains(first.log(), "cleanup pass finished") || left <= 2 {
		t.Skipf("the pass finished before the kill (%d versions left); nothing to test on this machine", left)
	}
	if len(ps) != 1 || ps[0].FinishedAt != nil {
		t.Fatalf("passes after the kill: %+v", ps)
	}
	t.Logf("killed with %d of %d versions left", left, versions)
	svc.Close()
	st.Close()

	second := startServer(t, ctx, bin, filepath.Join(tmp, "second.log"), env, "--cleanup-interval", "2s", "--cleanup-poll", "100ms", "--cleanup-lease", "3s")
	deadline = time.Now().Add(90 * time.Second)
	for !strings.Contains(second.log(), "cleanup pass finished") {
		if time.Now().After(deadline) {
			t.Fatalf("no pass finished after the restart:\n%s", second.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	second.kill(t)
	st, svc, bs = open()
	defer st.Close()
	defer svc.Close()
	if vs, blobs := count(); vs != 2 || blobs != 2 {
		t.Errorf("after the second pass: %d versions, %d blobs; want 2 and 2", vs, blobs)
	}
	ps, _ = svc.CleanupPasses(ctx, 10)
	if len(ps) < 2 || ps[len(ps)-1].FinishedAt != nil || ps[0].FinishedAt == nil && ps[1].FinishedAt == nil {
		t.Errorf("passes: the killed one should stay unfinished, a later one finished: %+v", ps)
	}
	if ps[len(ps)-2].StartedAt.Before(ps[len(ps)-1].LeaseUntil) {
		t.Errorf("the next pass started at %v, before the dead pass's lease ran out at %v", ps[len(ps)-2].StartedAt, ps[len(ps)-1].LeaseUntil)
	}
	for _, v := range []string{"1.0.798", "1.0.799"} {
		if _, err := st.FileByName(ctx, u.ID, depot.TypeGeneric, "app", v, "f"); err != nil {
			t.Errorf("kept version %s: %v", v, err)
		}
	}
}

// plainPasswords stores passwords as they are (the test needs no KDF).
type plainPasswords struct{}

func (plainPasswords) Hash(p string) (string, error) { return p, nil }
func (plainPasswords) Verify(hash, p string) error {
	if hash != p {
		return depot.ErrUnauthenticated
	}
	return nil
}
