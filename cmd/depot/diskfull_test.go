//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/testenv"
)

// mustTmpfs mounts a tmpfs of size bytes on a new directory and returns
// it; it is unmounted when the test ends (after servers started later have
// stopped). Mounting needs root: without it the test skips with a message,
// or fails under DEPOT_TEST_REQUIRE_ALL=1.
func mustTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "mounting a tmpfs to fill a disk needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// ballast fills dir's file system up to about leave free bytes with one
// file called name and returns its path, so a test reaches a full disk
// after a few writes of its own.
func ballast(t *testing.T, dir, name string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := free - leave; n > 0 {
		if _, err := f.Write(make([]byte, n)); err != nil {
			t.Fatalf("write ballast: %v", err)
		}
	}
	return p
}

// diskFullEnv is a server whose blob or database directory is a small
// tmpfs, with a user, a project and a write token.
type diskFullEnv struct {
	t     *testing.T
	m     *Main
	log   *lockedBuffer
	token string
	base  string
	// refused counts the answers of 507 the test received.
	refused int
}

func newDiskFullEnv(t *testing.T, c Config) *diskFullEnv {
	t.Helper()
	c.Metrics = true
	e := &diskFullEnv{t: t, log: &lockedBuffer{}}
	e.m = mustRunMainLog(t, c, e.log)
	ctx := t.Context()
	if _, err := e.m.Service.CreateUser(ctx, depot.NewUser{Username: "full", Email: "full@example.com", Password: "full-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Service.CreateProject(ctx, "full", "tools", ""); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.m.Service.CreateToken(ctx, "full", "ci", depot.Scopes{depot.ScopeAll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.token, e.base = tok, "http://"+e.m.Addr()
	return e
}

// do sends a request with the token (PRIVATE-TOKEN on GitLab paths) and
// returns the answer and its body.
func (e *diskFullEnv) do(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.base+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if strings.HasPrefix(path, "/api/v4/") {
		req.Header.Set("PRIVATE-TOKEN", e.token)
	} else {
		req.Header.Set("Authorization", "token "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusInsufficientStorage {
		e.refused++
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// fill uploads files of size bytes through the Gitea dialect until one is
// answered 507 (at most max uploads, with at most faults answers of 500
// before) and returns what was stored.
func (e *diskFullEnv) fill(size, maxUploads, faults int) map[string][]byte {
	e.t.Helper()
	stored := map[string][]byte{}
	got500 := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range maxUploads {
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		path := fmt.Sprintf("/api/packages/full/generic/fill/1.0/f%03d.bin", i)
		resp, msg := e.do(http.MethodPut, path, body)
		switch resp.StatusCode {
		case http.StatusCreated:
			stored[path] = body
			continue
		case http.StatusInternalServerError:
			if got500++; got500 <= faults {
				continue
			}
			e.t.Fatalf("upload %d: %s %s, the %d-th 500 before a 507", i, resp.Status, msg, got500)
		case http.StatusInsufficientStorage:
			if !strings.Contains(string(msg), "storage") || !strings.Contains(string(msg), "full") {
				e.t.Errorf("Gitea 507 body %q does not say the storage is full", msg)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				e.t.Errorf("Gitea 507 Content-Type %q, want text/plain as Gitea's package routes", ct)
			}
			if len(stored) == 0 {
				e.t.Fatalf("the first upload was refused: the disk was full before the test")
			}
			e.t.Logf("507 after %d uploads stored and %d answered 500", len(stored), got500)
			return stored
		default:
			e.t.Fatalf("upload %d: %s %s, want 201 until 507", i, resp.Status, msg)
		}
	}
	e.t.Fatalf("%d uploads of %d bytes and still no 507", maxUploads, size)
	return nil
}

// checkFull checks what every dialect answers while storage is full: 507
// with a body saying so, in each dialect's style.
func (e *diskFullEnv) checkFull(content []byte) {
	e.t.Helper()
	resp, body := e.do(http.MethodPut, "/api/packages/full/generic/fill/1.0/json.bin", content, "Accept", "application/json")
	var msg struct{ Message string }
	if resp.StatusCode != http.StatusInsufficientStorage || json.Unmarshal(body, &msg) != nil || !strings.Contains(msg.Message, "full") {
		e.t.Errorf("Gitea PUT asking for JSON: %s %s, want 507 with {\"message\": ...full...}", resp.Status, body)
	}
	resp, body = e.do(http.MethodPut, "/api/v4/projects/full%2Ftools/packages/generic/gl/1.0/gl.bin", content)
	msg.Message = ""
	if resp.StatusCode != http.StatusInsufficientStorage || json.Unmarshal(body, &msg) != nil ||
		!strings.HasPrefix(msg.Message, "507 Insufficient Storage - ") || !strings.Contains(msg.Message, "full") {
		e.t.Errorf("GitLab PUT: %s %s, want 507 with {\"message\": \"507 Insufficient Storage - ...full...\"}", resp.Status, body)
	}
}

// checkStored downloads every stored file and compares its bytes.
func (e *diskFullEnv) checkStored(stored map[string][]byte) {
	e.t.Helper()
	for path, want := range stored {
		resp, got := e.do(http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			e.t.Errorf("GET %s: %s, %d bytes; want 200 and the %d bytes stored", path, resp.Status, len(got), len(want))
		}
	}
}

// metric returns the value of a metric without labels from /metrics.
func (e *diskFullEnv) metric(name string) string {
	e.t.Helper()
	_, body := e.do(http.MethodGet, "/metrics", nil)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		e.t.Fatalf("no %s in /metrics", name)
	}
	return string(m[1])
}

// checkEpisode checks that the full disk was logged once however many
// requests it refused, and counted.
func (e *diskFullEnv) checkEpisode() {
	e.t.Helper()
	if n := strings.Count(e.log.String(), "storage full:"); n != 1 {
		e.t.Errorf("the full disk was logged %d times, want once per episode:\n%s", n, e.log.String())
	}
	if got := e.metric("depot_storage_full"); got != "1" {
		e.t.Errorf("depot_storage_full = %s while full, want 1", got)
	}
	if got := e.metric("depot_storage_full_responses_total"); got != fmt.Sprint(e.refused) {
		e.t.Errorf("depot_storage_full_responses_total = %s, want the %d answers of 507", got, e.refused)
	}
}

// deleteSome deletes n of the stored files through the API.
func (e *diskFullEnv) deleteSome(stored map[string][]byte, n int) {
	e.t.Helper()
	for path := range stored {
		if n == 0 {
			return
		}
		if resp, msg := e.do(http.MethodDelete, path, nil); resp.StatusCode != http.StatusNoContent {
			e.t.Fatalf("DELETE %s: %s %s", path, resp.Status, msg)
		}
		delete(stored, path)
		n--
	}
}

// checkRecovered checks that an upload works again and ends the episode.
// Space freed may take up to patience to show (MinIO empties its trash in
// the background); uploads are retried until then.
func (e *diskFullEnv) checkRecovered(stored map[string][]byte, patience time.Duration) {
	e.t.Helper()
	body := []byte("stored after the disk was freed")
	path := "/api/packages/full/generic/after/1.0/after.txt"
	deadline := time.Now().Add(patience)
	for {
		resp, msg := e.do(http.MethodPut, path, body)
		if resp.StatusCode == http.StatusCreated {
			break
		}
		if resp.StatusCode != http.StatusInsufficientStorage || time.Now().After(deadline) {
			e.t.Fatalf("upload after freeing space: %s %s, want 201", resp.Status, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stored[path] = body
	if resp, msg := e.do(http.MethodPut, "/api/v4/projects/full%2Ftools/packages/generic/gl/1.0/gl.bin", body); resp.StatusCode != http.StatusCreated {
		e.t.Errorf("GitLab upload after freeing space: %s %s, want 201", resp.Status, msg)
	}
	e.checkStored(stored)
	if got := e.metric("depot_storage_full"); got != "0" {
		e.t.Errorf("depot_storage_full = %s after a successful upload, want 0", got)
	}
	if !strings.Contains(e.log.String(), "storage writable again") {
		e.t.Errorf("the end of the episode was not logged:\n%s", e.log.String())
	}
}

// TestDiskFullBlobs fills a blob directory on a 16 MiB tmpfs through
// uploads: 507 in both dialects, the episode logged once and counted,
// every file stored before intact and no temporary file left; after a file
// is deleted through the API, uploads work again.
func TestDiskFullBlobs(t *testing.T) {
	blobs := mustTmpfs(t, 16<<20)
	e := newDiskFullEnv(t, Config{StorageURL: "file://" + blobs})
	stored := e.fill(1<<20, 40, 0)
	chunk := make([]byte, 1<<20)
	e.checkFull(chunk)
	e.checkStored(stored)
	e.checkEpisode()
	if temps, err := e.m.Blobs.TempUploads(); err != nil || len(temps) != 0 {
		t.Errorf("temporary uploads left after the refused uploads: %v %v", temps, err)
	}
	e.deleteSome(stored, 2) // frees space through the API
	e.checkRecovered(stored, 0)
}

// TestDiskFullDatabase fills the data directory holding the SQLite
// database (on a tmpfs, most of it taken by a ballast file) until uploads
// are refused with 507, in both dialects and the web UI (whose sign-in
// writes a session); after the ballast is removed, everything stored is
// intact and uploads work again.
func TestDiskFullDatabase(t *testing.T) {
	data := mustTmpfs(t, 24<<20)
	e := newDiskFullEnv(t, Config{DataDir: data, StorageURL: "file://" + filepath.Join(t.TempDir(), "blobs")})
	extra := ballast(t, data, "ballast", 256<<10)
	stored := e.fill(4<<10, 2000, 0)
	e.checkFull([]byte("small"))
	e.checkStored(stored)

	// The web UI's sign-in writes a session row: once the file system has
	// no byte left (a small write may still fit in the WAL's existing
	// space), a page saying the storage is full.
	rest := ballast(t, data, "ballast2", 0)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func() (int, []byte) {
		t.Helper()
		resp, err := browser.Get(e.base + "/-/signin")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
		if csrf == nil {
			t.Fatalf("no CSRF token on the sign-in page: %s", resp.Status)
		}
		resp, err = browser.PostForm(e.base+"/-/signin", url.Values{"csrf": {string(csrf[1])}, "username": {"full"}, "password": {"full-password"}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusInsufficientStorage {
			e.refused++
		}
		// Signed in: sign out so the next attempt writes a session again.
		jar, _ = cookiejar.New(nil)
		browser.Jar = jar
		return resp.StatusCode, page
	}
	code, page := signIn()
	for i := 0; i < 200 && code == http.StatusSeeOther; i++ {
		code, page = signIn()
	}
	if code != http.StatusInsufficientStorage || !bytes.Contains(page, []byte("Storage full")) {
		t.Errorf("web sign-in on a full disk: %d, want 507 with a page saying the storage is full:\n%s", code, page)
	}
	e.checkEpisode()

	for _, p := range []string{rest, extra} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	e.checkRecovered(stored, 0)
}

// startMinIO runs a MinIO server of its own on dir (the test's tmpfs) on a
// free loopback port, stopped when the test ends, and returns its endpoint
// and credentials. Without a MinIO binary ($MINIO_BIN, GOPATH/bin/minio or
// minio on PATH) the test skips, or fails under DEPOT_TEST_REQUIRE_ALL=1.
func startMinIO(t *testing.T, dir string) testenv.S3 {
	t.Helper()
	bin := os.Getenv("MINIO_BIN")
	if bin == "" {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "minio")
	}
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("minio"); err != nil {
			testenv.Unavailable(t, "no MinIO binary ($MINIO_BIN, GOPATH/bin/minio or minio on PATH) to fill an object store")
		}
	}
	s3 := testenv.S3{Endpoint: "http://" + freeAddr(t), AccessKey: "depot-full", SecretKey: "depot-full-secret"}
	cmd := exec.Command(bin, "server", "--quiet", "--address", strings.TrimPrefix(s3.Endpoint, "http://"), dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s3.AccessKey, "MINIO_ROOT_PASSWORD="+s3.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	var logBuf lockedBuffer
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { stopChild(t, cmd.Process, exited) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s3.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s3
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio on %s did not become healthy: %v\n%s", s3.Endpoint, err, logBuf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDiskFullS3 fills a MinIO server of its own, on a 64 MiB tmpfs,
// through uploads until MinIO refuses writes with XMinioStorageFull (below
// its free-drive threshold): 507 in both dialects, the files stored before
// intact; after files are deleted through the API, uploads work again.
// An upload that runs out of space mid-body is answered by MinIO with
// IncompleteBody (a 400 that also means a client's short body), which
// depot cannot tell from a fault and answers 500; as the space such an
// upload took is freed again, this can happen a few times, so up to five
// 500s are allowed before the first 507.
func TestDiskFullS3(t *testing.T) {
	dir := mustTmpfs(t, 64<<20)
	s3 := startMinIO(t, dir)
	e := newDiskFullEnv(t, Config{StorageURL: s3.StorageURL(t), S3AccessKeyID: s3.AccessKey, S3SecretAccessKey: s3.SecretKey})
	stored := e.fill(1<<20, 80, 5)
	e.checkFull(make([]byte, 1<<20))
	e.checkStored(stored)
	e.checkEpisode()
	e.deleteSome(stored, 16)
	e.checkRecovered(stored, 30*time.Second)
}
