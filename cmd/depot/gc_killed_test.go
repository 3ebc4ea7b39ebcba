//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// killedBatchFiles is how many uploads the child records in one batch.
const killedBatchFiles = 8

func killedBatchContent(i int) []byte { return fmt.Appendf(nil, "killed batch file %d", i) }

// TestKilledBatchChild is the process TestGCKilledBatch kills: over the
// SQLite store and the blob directory in $DEPOT_TEST_KILLED_BATCH_DIR it
// records one file, leaves an upload half written, then submits
// killedBatchFiles uploads at once and kills itself with SIGKILL once all
// their blobs are renamed into place, before the batch's transaction
// commits (group commit runs every blob commit of a batch, then COMMIT).
func TestKilledBatchChild(t *testing.T) {
	dir := os.Getenv("DEPOT_TEST_KILLED_BATCH_DIR")
	if dir == "" {
		t.Skip("run by TestGCKilledBatch")
	}
	ctx := context.Background()
	c := Config{DataDir: dir}
	c.DatabaseURL = "sqlite://" + dir + "/depot.db"
	c.StorageURL = "file://" + dir + "/blobs"
	store, err := openStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := openBlobs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(c, store, blobs, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, depot.NewUser{Username: "kb", Email: "kb@example.com", Password: "killed-batch"})
	if err != nil {
		t.Fatal(err)
	}
	actor := &depot.Actor{User: u}
	ref := depot.FileRef{Owner: "kb", Type: depot.TypeGeneric, Package: "kb", Version: "1.0", File: "kept.txt"}
	if _, err := svc.UploadFile(ctx, actor, ref, 4, strings.NewReader("kept")); err != nil {
		t.Fatal(err)
	}
	half, err := blobs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := half.Write([]byte("half written")); err != nil {
		t.Fatal(err)
	}

	var committed atomic.Int32
	var wg sync.WaitGroup
	for i := range killedBatchFiles {
		content := killedBatchContent(i)
		up, err := blobs.NewUpload(ctx, int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		blob, err := depot.CopyDigest(up, bytes.NewReader(content), int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			// Queue behind the first, which holds the writer below, so
			// the rest commit as one batch.
			time.Sleep(10 * time.Millisecond)
		}
		wg.Go(func() {
			_, err := store.CreateFile(ctx, depot.NewFile{OwnerID: u.ID, Type: depot.TypeGeneric, Package: "kb", Version: "1.0",
				File: fmt.Sprintf("f%d.txt", i), Blob: blob, CreatorID: u.ID, CreatedAt: time.Now()}, func(ctx context.Context) error {
				if i == 0 {
					time.Sleep(300 * time.Millisecond)
				}
				err := up.Commit(ctx, blob.SHA256)
				if committed.Add(1) == killedBatchFiles {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Fatal("the child was not killed")
}

// TestGCKilledBatch kills a process in the middle of a group commit (its
// blobs renamed into place, its transaction never committed) and checks
// that `admin gc` reports exactly the blobs of the files that were not
// recorded and removes them with --apply; that the restart removed the
// half-written upload of the dead process at once (it is seconds old); and
// that afterwards the recorded file downloads, the lost paths take uploads
// again and gc finds nothing more.
func TestGCKilledBatch(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledBatchChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "DEPOT_TEST_KILLED_BATCH_DIR="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL:\n%s", err, out.String())
	}

	// The half-written upload is there; the restart removes it at once,
	// although it is seconds old: its process is gone.
	if temps, err := os.ReadDir(dir + "/blobs/tmp"); err != nil || len(temps) != 1 {
		t.Fatalf("temporary files after the kill: %v %v, want the half-written upload", temps, err)
	}
	c := Config{DataDir: dir}
	m := MustRunMain(t, c)
	if temps, err := m.Blobs.TempUploads(); err != nil || len(temps) != 0 {
		t.Errorf("temporary files after the restart: %q %v, want none", temps, err)
	}
	owner, err := m.Store.OwnerByName(ctx, "kb")
	if err != nil {
		t.Fatal(err)
	}
	var lost []string // digests of the files the batch did not record
	for i := range killedBatchFiles {
		_, err := m.Store.FileByName(ctx, owner.ID, depot.TypeGeneric, "kb", "1.0", fmt.Sprintf("f%d.txt", i))
		sum := sha256.Sum256(killedBatchContent(i))
		digest := hex.EncodeToString(sum[:])
		if _, serr := m.Blobs.Stat(ctx, digest); serr != nil {
			t.Errorf("blob of f%d.txt: %v; every blob was renamed into place before the kill", i, serr)
		}
		switch {
		case err == nil:
		case errors.Is(err, depot.ErrNotFound):
			lost = append(lost, digest)
		default:
			t.Fatalf("look up f%d.txt: %v", i, err)
		}
	}
	if len(lost) < 2 {
		t.Fatalf("%d files lost by the kill, want a batch of several", len(lost))
	}

	gcArgs := []string{"admin", "gc", "--data-dir", dir}
	code, stdout, stderr := runCLI(t, nil, gcArgs...)
	if code != 0 {
		t.Fatalf("gc: exit %d %s", code, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("unreferenced blobs: %d (", len(lost))) {
		t.Errorf("gc dry run:\n%s\nwant exactly the %d blobs of the lost files", stdout, len(lost))
	}
	for _, d := range lost {
		if !strings.Contains(stdout, "sha256:"+d) {
			t.Errorf("gc dry run does not report %s", d)
		}
	}
	code, stdout, stderr = runCLI(t, nil, append(gcArgs, "--apply")...)
	if code != 0 {
		t.Fatalf("gc --apply: exit %d %s", code, stderr)
	}
	if want := fmt.Sprintf("removed %d unreferenced blobs and 0 temporary uploads", len(lost)); !strings.Contains(stdout, want) {
		t.Errorf("gc --apply printed %q, want %q", stdout, want)
	}
	if code, stdout, _ = runCLI(t, nil, gcArgs...); code != 0 || !strings.Contains(stdout, "unreferenced blobs: 0 (0 bytes)") || !strings.Contains(stdout, "temporary uploads: 0 ") {
		t.Errorf("gc after --apply: exit %d\n%s\nwant nothing left", code, stdout)
	}

	tok, _, err := m.Service.CreateToken(ctx, "kb", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "http://"+m.Addr()+"/api/packages/kb/generic/kb/1.0/"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, got := do(http.MethodGet, "kept.txt", nil); code != http.StatusOK || string(got) != "kept" {
		t.Errorf("GET kept.txt: %d %q", code, got)
	}
	for i := range killedBatchFiles {
		sum := sha256.Sum256(killedBatchContent(i))
		if !strings.Contains(strings.Join(lost, " "), hex.EncodeToString(sum[:])) {
			continue
		}
		name := fmt.Sprintf("f%d.txt", i)
		if code, msg := do(http.MethodPut, name, killedBatchContent(i)); code != http.StatusCreated {
			t.Errorf("PUT %s again: %d %s", name, code, msg)
		}
		if code, got := do(http.MethodGet, name, nil); code != http.StatusOK || !bytes.Equal(got, killedBatchContent(i)) {
			t.Errorf("GET %s: %d %q", name, code, got)
		}
	}
}
