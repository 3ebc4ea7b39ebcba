//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/testenv"
)

// TestReplicas runs two depot processes on one PostgreSQL database and one
// S3 bucket, as a production deployment behind a load balancer does, and
// checks that they act as one registry, also when one of them dies mid-upload.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("the replica test builds and runs the binary; it runs outside -short")
	}
	s3 := testenv.S3Server(t)
	dbURL := testenv.PostgresURL(t)
	storageURL := s3.StorageURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	tmp := t.TempDir()
	bin := buildBinary(t, ctx, tmp)
	env := []string{
		"DEPOT_DATABASE_URL=" + dbURL,
		"DEPOT_STORAGE_URL=" + storageURL,
		"DEPOT_S3_ACCESS_KEY_ID=" + s3.AccessKey,
		"DEPOT_S3_SECRET_ACCESS_KEY=" + s3.SecretKey,
	}
	admin := func(args ...string) string {
		t.Helper()
		return runBinaryEnv(t, ctx, bin, env, append([]string{"admin"}, args...)...)
	}
	admin("user", "create", "--username", "rep", "--password", "replica-password", "--email", "rep@example.com")
	token := strings.TrimSpace(admin("token", "create", "--username", "rep", "--name", "ci", "--scopes", "write:package"))

	var replicas [2]*childServer
	for i := range replicas {
		replicas[i] = startServer(t, ctx, bin, filepath.Join(tmp, fmt.Sprintf("replica%d.log", i)), env, "--data-dir", filepath.Join(tmp, fmt.Sprintf("data%d", i)),
			// Long enough that only the database's notification can end a
			// revoked token's time in the cache within the test.
			"--token-cache-ttl", "10m")
	}
	a, b := replicas[0], replicas[1]
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	do := func(srv *childServer, method, path string, body io.Reader) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "http://"+srv.addr+"/api/packages/rep/generic/"+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s on %s: %v", method, path, srv.addr, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	t.Run("upload through one, download through the other", func(t *testing.T) {
		content := bytes.Repeat([]byte("replicated "), 100_000)
		if code, msg := do(a, http.MethodPut, "app/1.0.0/app.bin", bytes.NewReader(content)); code != http.StatusCreated {
			t.Fatalf("PUT via A: %d %s", code, msg)
		}
		if code, got := do(b, http.MethodGet, "app/1.0.0/app.bin", nil); code != http.StatusOK || !bytes.Equal(got, content) {
			t.Fatalf("GET via B: %d, %d bytes; want 200 with the %d bytes put through A", code, len(got), len(content))
		}
	})

	t.Run("resumable upload started on one, continued and finished on the other", func(t *testing.T) {
		content := bytes.Repeat([]byte("resumed across replicas "), 700_000) // 16.8 MB: several staged chunks
		send := func(srv *childServer, method, target string, body []byte, hdr ...string) *http.Response {
			t.Helper()
			req, err := http.NewRequestWithContext(ctx, method, "http://"+srv.addr+target, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "token "+token)
			req.Header.Set("Upload-Draft-Interop-Version", "8")
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s on %s: %v", method, target, srv.addr, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		path := "/api/packages/rep/generic/resumed/1.0/big.bin"
		first, middle := 9<<20, 13<<20
		resp := send(a, http.MethodPut, path, content[:first], "Upload-Complete", "?0", "Upload-Length", fmt.Sprint(len(content)))
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusCreated || loc == "" {
			t.Fatalf("create via A: %d, Location %q", resp.StatusCode, loc)
		}
		if resp := send(b, http.MethodHead, loc, nil); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != fmt.Sprint(first) {
			t.Fatalf("HEAD via B: %d, offset %q; want 204 and %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), first)
		}
		partial := []string{"Content-Type", "application/partial-upload"}
		if resp := send(b, http.MethodPatch, loc, content[first:middle], append(partial, "Upload-Offset", fmt.Sprint(first), "Upload-Complete", "?0")...); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH via B: %d", resp.StatusCode)
		}
		// A's view of the offset is B's.
		if resp := send(a, http.MethodPatch, loc, content[first:], append(partial, "Upload-Offset", fmt.Sprint(first), "Upload-Complete", "?1")...); resp.StatusCode != http.StatusConflict || resp.Header.Get("Upload-Offset") != fmt.Sprint(middle) {
			t.Fatalf("stale PATCH via A: %d, offset %q; want 409 and %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), middle)
		}
		if code, _ := do(a, http.MethodGet, "resumed/1.0/big.bin", nil); code != http.StatusNotFound {
			t.Fatalf("GET before completion: %d, want 404", code)
		}
		if resp := send(a, http.MethodPatch, loc, content[middle:], append(partial, "Upload-Offset", fmt.Sprint(middle), "Upload-Complete", "?1")...); resp.StatusCode != http.StatusCreated {
			t.Fatalf("final PATCH via A: %d", resp.StatusCode)
		}
		if code, got := do(b, http.MethodGet, "resumed/1.0/big.bin", nil); code != http.StatusOK || !bytes.Equal(got, content) {
			t.Fatalf("GET via B: %d, %d bytes; want the %d bytes", code, len(got), len(content))
		}
	})

	t.Run("20 concurrent uploads of one path over both: exactly one 201", func(t *testing.T) {
		codes := make([]int, 20)
		var wg sync.WaitGroup
		for i := range codes {
			srv := replicas[i%2]
			wg.Go(func() {
				codes[i], _ = do(srv, http.MethodPut, "race/1.0/race.bin", strings.NewReader(fmt.Sprintf("attempt %d", i)))
			})
		}
		wg.Wait()
		created, conflicts := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			}
		}
		if created != 1 || conflicts != 19 {
			t.Errorf("statuses %v: %d created and %d conflicts, want 1 and 19", codes, created, conflicts)
		}
		for _, srv := range replicas {
			if code, got := do(srv, http.MethodGet, "race/1.0/race.bin", nil); code != http.StatusOK || !strings.HasPrefix(string(got), "attempt ") {
				t.Errorf("GET via %s: %d %q", srv.addr, code, got)
			}
		}
	})

	t.Run("delete through one, 404 through the other", func(t *testing.T) {
		if code, msg := do(a, http.MethodDelete, "app/1.0.0/app.bin", nil); code != http.StatusNoContent {
			t.Fatalf("DELETE via A: %d %s", code, msg)
		}
		if code, _ := do(b, http.MethodGet, "app/1.0.0/app.bin", nil); code != http.StatusNotFound {
			t.Errorf("GET via B after delete via A: %d, want 404", code)
		}
	})

	t.Run("a token revoked by the admin CLI stops working on both at once", func(t *testing.T) {
		revoked := strings.TrimSpace(admin("token", "create", "--username", "rep", "--name", "soon-revoked", "--scopes", "read:package"))
		get := func(srv *childServer) int {
			t.Helper()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.addr+"/api/packages/rep/generic/race/1.0/race.bin", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("rep", revoked)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET on %s: %v", srv.addr, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for _, srv := range replicas {
			if code := get(srv); code != http.StatusOK {
				t.Fatalf("GET with the new token via %s: %d, want 200", srv.addr, code)
			}
		}
		admin("token", "revoke", "--username", "rep", "--name", "soon-revoked")
		for _, srv := range replicas {
			deadline := time.Now().Add(3 * time.Second)
			code := get(srv)
			for ; code != http.StatusUnauthorized && time.Now().Before(deadline); code = get(srv) {
				time.Sleep(50 * time.Millisecond)
			}
			if code != http.StatusUnauthorized {
				t.Errorf("GET with the revoked token via %s 3 s after revoking: %d, want 401 (token cache TTL is 10 min)", srv.addr, code)
			}
		}
	})

	t.Run("a replica killed mid-upload", func(t *testing.T) {
		// Stream into A until some megabytes went through, then kill it.
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+a.addr+"/api/packages/rep/generic/crash/1.0/big.bin", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 256 << 20
		req.Header.Set("Authorization", "token "+token)
		done := make(chan error, 1)
		go func() {
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("upload finished with %s", resp.Status)
			}
			done <- err
		}()
		chunk := bytes.Repeat([]byte{'x'}, 1<<20)
		for range 32 {
			if _, err := pw.Write(chunk); err != nil {
				t.Fatalf("upload stopped early: %v", err)
			}
		}
		a.kill(t)
		pw.CloseWithError(io.ErrUnexpectedEOF)
		select {
		case err := <-done:
			if err == nil || strings.Contains(err.Error(), "upload finished") {
				t.Fatalf("the upload to the killed replica: %v, want a broken connection", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the upload to the killed replica did not end")
		}

		// B serves on: nothing half-written is visible, the path is free,
		// and existing files download.
		if code, _ := do(b, http.MethodGet, "crash/1.0/big.bin", nil); code != http.StatusNotFound {
			t.Errorf("GET of the interrupted upload via B: %d, want 404", code)
		}
		if code, msg := do(b, http.MethodPut, "crash/1.0/big.bin", strings.NewReader("complete")); code != http.StatusCreated {
			t.Errorf("PUT of the same path via B: %d %s, want 201", code, msg)
		}
		if code, got := do(b, http.MethodGet, "crash/1.0/big.bin", nil); code != http.StatusOK || string(got) != "complete" {
			t.Errorf("GET via B: %d %q", code, got)
		}
		if code, _ := do(b, http.MethodGet, "race/1.0/race.bin", nil); code != http.StatusOK {
			t.Errorf("GET of an older file via B: %d", code)
		}
		// What the crash left in the bucket is found by gc.
		out := admin("gc", "--temp-age", "1m")
		if !strings.Contains(out, "temporary uploads:") || strings.Contains(out, "temporary uploads: 0") {
			t.Errorf("gc after the crash printed %q, want the interrupted upload among the temporary uploads", out)
		}
	})
}
