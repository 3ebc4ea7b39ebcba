//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/testenv"
)

// Crash under load: how hard and how long.
const (
	crashWorkers = 32 // uploads in flight at once
	crashCycles  = 3  // kill -9 and restart this many times
)

// crashContent returns the bytes of upload i: sizes from 1 KiB to 64 KiB,
// every tenth 1 MiB (so some uploads are mid-body when the kill comes),
// seeded by i so they can be made again to check what was stored.
func crashContent(i int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 13))
	size := 1<<10 + rng.IntN(63<<10)
	if i%10 == 0 {
		size = 1 << 20
	}
	var seed [32]byte
	copy(seed[:], fmt.Sprint(i))
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func crashPath(i int) string {
	return fmt.Sprintf("load/v%d/f%05d.bin", i/1000, i)
}

// crashUnderLoad runs the real binary on one stack, kill -9's it
// crashCycles times while crashWorkers clients upload, restarts it each
// time on the same data, and then checks: every upload answered 201 is
// there byte for byte; every other attempted path is absent or complete,
// never partial; the restart left no temporary upload on local storage
// (checkTemp); `admin gc` reports only blobs no acknowledged file uses,
// removes them with --apply, and then finds nothing.
// Uploads run for loadFor before each kill.
func crashUnderLoad(t *testing.T, env []string, dataDir string, loadFor time.Duration, checkTemp func(t *testing.T)) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := buildBinary(t, ctx, tmp)
	admin := func(args ...string) string {
		t.Helper()
		return runBinaryEnv(t, ctx, bin, env, append(append([]string{"admin"}, args...), "--data-dir", dataDir)...)
	}
	admin("user", "create", "--username", "crash", "--password", "crash-password", "--email", "crash@example.com")
	token := strings.TrimSpace(admin("token", "create", "--username", "crash", "--name", "ci", "--scopes", "write:package"))

	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	request := func(srv *childServer, method string, i int, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+srv.addr+"/api/packages/crash/generic/"+crashPath(i), bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "token "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	var (
		mu      sync.Mutex
		next    int
		acked   = map[int]bool{} // answered 201
		pending = map[int]bool{} // sent, no answer: absent or complete
	)
	args := []string{"--data-dir", dataDir}
	start := time.Now()
	for cycle := range crashCycles {
		srv := startServer(t, ctx, bin, filepath.Join(tmp, fmt.Sprintf("serve%d.log", cycle)), env, args...)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range crashWorkers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					i := next
					next++
					pending[i] = true
					mu.Unlock()
					code, msg, err := request(srv, http.MethodPut, i, crashContent(i))
					mu.Lock()
					switch {
					case err != nil:
						// Killed mid-request: stays pending.
					case code == http.StatusCreated:
						delete(pending, i)
						acked[i] = true
					default:
						t.Errorf("PUT %s: %d %s", crashPath(i), code, msg)
						delete(pending, i)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
		time.Sleep(loadFor)
		srv.kill(t)
		close(stop)
		wg.Wait()
		mu.Lock()
		t.Logf("cycle %d: %d acknowledged so far, %d without an answer", cycle, len(acked), len(pending))
		mu.Unlock()
	}
	if len(acked) == 0 || len(pending) == 0 {
		t.Fatalf("%d acknowledged and %d interrupted uploads: the load did not overlap the kills", len(acked), len(pending))
	}

	srv := startServer(t, ctx, bin, filepath.Join(tmp, "final.log"), env, args...)
	checkTemp(t)
	checkStored := func() {
		t.Helper()
		for i := range next {
			code, got, err := request(srv, http.MethodGet, i, nil)
			if err != nil {
				t.Fatalf("GET %s: %v", crashPath(i), err)
			}
			want := crashContent(i)
			switch {
			case acked[i] && (code != http.StatusOK || !bytes.Equal(got, want)):
				t.Errorf("acknowledged %s: %d, %d bytes; want 200 and its %d bytes", crashPath(i), code, len(got), len(want))
			case !acked[i] && code == http.StatusOK && !bytes.Equal(got, want):
				t.Errorf("interrupted %s is visible with %d bytes that are not its %d", crashPath(i), len(got), len(want))
			case !acked[i] && code != http.StatusOK && code != http.StatusNotFound:
				t.Errorf("interrupted %s: %d, want 404 or the whole file", crashPath(i), code)
			}
		}
	}
	checkStored()

	ackedDigests := map[string]bool{}
	for i := range acked {
		sum := sha256.Sum256(crashContent(i))
		ackedDigests[hex.EncodeToString(sum[:])] = true
	}
	gc := func(extra ...string) string {
		t.Helper()
		return runBinaryEnv(t, ctx, bin, env, append([]string{"admin", "gc", "--data-dir", dataDir}, extra...)...)
	}
	out := gc()
	orphans := regexp.MustCompile(`sha256:([0-9a-f]{64})`).FindAllStringSubmatch(out, -1)
	for _, o := range orphans {
		if ackedDigests[o[1]] {
			t.Errorf("gc reports the blob of an acknowledged file as unreferenced: %s", o[1])
		}
	}
	out = gc("--apply")
	if want := fmt.Sprintf("removed %d unreferenced blobs", len(orphans)); !strings.Contains(out, want) {
		t.Errorf("gc --apply printed %q, want %q", out, want)
	}
	if out := gc(); !strings.Contains(out, "unreferenced blobs: 0 (0 bytes)") {
		t.Errorf("gc after --apply:\n%s\nwant no unreferenced blob", out)
	}
	checkStored()
	t.Logf("%d uploads attempted, %d acknowledged, %d interrupted, %d blobs unreferenced after the kills; %v in all",
		next, len(acked), len(pending), len(orphans), time.Since(start).Round(time.Millisecond))
}

// TestCrashUnderLoadSQLite runs crashUnderLoad on SQLite and a local blob
// directory, where the restart removes the temporary uploads of the killed
// process at once.
func TestCrashUnderLoadSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds and runs the binary; it runs outside -short")
	}
	data := t.TempDir()
	crashUnderLoad(t, nil, data, time.Second, func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(data, "blobs", "tmp"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Errorf("%d temporary uploads left after the restart, want none: the killed process's are orphans", len(entries))
		}
	})
}

// TestCrashUnderLoadPostgresS3 runs crashUnderLoad on PostgreSQL and MinIO.
// Staging objects of the killed process stay until `admin gc` finds them
// older than --temp-age: a replica cannot tell whether another live
// replica owns one.
func TestCrashUnderLoadPostgresS3(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds and runs the binary; it runs outside -short")
	}
	s3 := testenv.S3Server(t)
	env := []string{
		"DEPOT_DATABASE_URL=" + testenv.PostgresURL(t),
		"DEPOT_STORAGE_URL=" + s3.StorageURL(t),
		"DEPOT_S3_ACCESS_KEY_ID=" + s3.AccessKey,
		"DEPOT_S3_SECRET_ACCESS_KEY=" + s3.SecretKey,
	}
	crashUnderLoad(t, env, t.TempDir(), 2*time.Second, func(*testing.T) {})
}
