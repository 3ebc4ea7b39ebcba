package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/client"
)

// uploadCutProxy is a cutProxy that breaks uploads: a connection is cut
// after its limit of bytes from the client. At a cut it stops forwarding
// in both directions, closes the server's side (the server sees the body
// end) and then the client's (the client sees its request fail), as a
// dropped link does.
type uploadCutProxy struct {
	*cutProxy
	sent int64 // bytes forwarded from clients to the server, under mu
}

func startUploadCutProxy(t *testing.T, target string, cuts []int64) *uploadCutProxy {
	t.Helper()
	p := &uploadCutProxy{cutProxy: newCutProxy(t, target, cuts)}
	p.start(t, p.pipe)
	return p
}

func (p *uploadCutProxy) pipe(c net.Conn, limit int64) {
	defer c.Close()
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	deadline := time.Now().Add(2 * time.Minute)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	var cut atomic.Bool
	var answered atomic.Int64 // bytes from the server so far
	done := make(chan struct{})
	go func() { // server to client, until the cut
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 && !cut.Load() {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
				answered.Add(int64(n))
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if limit >= 0 && off+int64(n) >= limit {
				s.Write(buf[:limit-off])
				p.mu.Lock()
				p.sent += limit - off
				p.mu.Unlock()
				// A link drops while the server is answering: wait
				// (holding the client back) until the server's first
				// answer on this connection, the 104 of a creation, has
				// gone through.
				for wait := time.Now().Add(5 * time.Second); answered.Load() == 0 && time.Now().Before(wait); {
					time.Sleep(time.Millisecond)
				}
				cut.Store(true)
				p.cutOne()
				s.Close()
				<-done
				// Closing a socket with unread bytes resets it, and a
				// reset may discard what the client has not read yet:
				// give its reader time to take the answers forwarded.
				time.Sleep(200 * time.Millisecond)
				return // closes the client's side
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				break
			}
			off += int64(n)
			p.mu.Lock()
			p.sent += int64(n)
			p.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	s.(*net.TCPConn).CloseWrite()
	<-done
}

// testPushCutUploads pushes a file through a proxy that cuts its first
// connections at random points after the server announced the upload
// resource: the client resumes each time (one attempt of the whole file)
// and the stored file has exactly its bytes.
func testPushCutUploads(t *testing.T, e *clientEnv, seed uint64) {
	src := t.TempDir()
	const size = 12<<20 + 4321
	want := mustFile(t, src, "cut.bin", size)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// The first cut past the request's header (so the 104 has come back)
	// and in the first third of the body; the later ones anywhere in what
	// a resumption sends (its HEAD and PATCH share a connection), each
	// short of what is left to send, so that every cut happens.
	cuts := []int64{1<<20 + rng.Int64N(size/3), 1<<10 + rng.Int64N(size/3), 1<<10 + rng.Int64N(2<<20)}
	p := startUploadCutProxy(t, strings.TrimPrefix(e.url, "http://"), cuts)
	c, err := client.New(p.url(), e.token, &client.Options{Uploader: client.ResumableUploader{}, Retry: client.RetryPolicy{Initial: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ref, err := client.ParseRef("dana/cut@1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &retryRecorder{}
	res, err := c.Push(ctx, ref, []string{filepath.Join(src, "cut.bin")}, client.TransferOptions{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Status != client.Uploaded || r.SHA256 != sha256hex(want) {
		t.Fatalf("push through cuts at %v: %+v", cuts, r)
	}
	if p.cutCount() != len(cuts) || r.Attempts != 1 {
		t.Fatalf("cuts %d of %d, attempts %d: want every cut resumed within the first attempt; retries: %q", p.cutCount(), len(cuts), r.Attempts, rec.errs())
	}
	// Every byte that reached the server before a cut was kept: the file
	// crossed the link once, plus the requests' headers.
	p.mu.Lock()
	sent := p.sent
	p.mu.Unlock()
	if sent > size+64<<10 {
		t.Fatalf("%d bytes sent for a %d-byte file through %d cuts: bytes the server received were sent again", sent, size, len(cuts))
	}
	// Read back straight from the server: the exact bytes.
	resp, err := http.Get(e.url + "/api/packages/dana/generic/cut/1.0.0/cut.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || sha256hex(got) != sha256hex(want) {
		t.Fatalf("stored %d bytes (sha256 %s), want %d (%s); %v", len(got), sha256hex(got), size, sha256hex(want), err)
	}
}

func TestPushResumesCutUploads(t *testing.T) {
	testPushCutUploads(t, mustClientEnv(t, "dana"), 1)
}

func TestPushResumesCutUploadsPostgresS3(t *testing.T) {
	testPushCutUploads(t, mustClientEnvConfig(t, "dana", scaleOutConfig(t)), 2)
}

// TestResumableUploadExpiresAndGC: an abandoned upload lives until its
// expiry; then admin gc reports it (dry run) and removes its state and its
// staged bytes (--apply).
func TestResumableUploadExpiresAndGC(t *testing.T) {
	// The server's clock is 25 hours behind: its uploads have expired by
	// the time gc (on the real clock) looks.
	e := mustClientEnvConfig(t, "dana", Config{Now: func() time.Time { return time.Now().Add(-25 * time.Hour) }})
	req, _ := http.NewRequest(http.MethodPut, e.url+"/api/packages/dana/generic/gone/1.0/x.bin", strings.NewReader(strings.Repeat("x", 5000)))
	req.SetBasicAuth(e.token, "x-oauth-basic")
	req.Header.Set("Upload-Draft-Interop-Version", "8")
	req.Header.Set("Upload-Complete", "?0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("create: %d, Location %q", resp.StatusCode, loc)
	}
	staged := filepath.Join(e.m.Config.DataDir, "blobs", "uploads", loc[strings.LastIndex(loc, "/")+1:])
	if fi, err := os.Stat(staged); err != nil || fi.Size() != 5000 {
		t.Fatalf("staged bytes: %v, %v", fi, err)
	}
	head := func() int {
		req, _ := http.NewRequest(http.MethodHead, e.url+loc, nil)
		req.SetBasicAuth(e.token, "x-oauth-basic")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := head(); got != http.StatusNoContent {
		t.Fatalf("HEAD before expiry: %d", got)
	}
	args := []string{"admin", "gc", "--database-url", e.m.Config.DatabaseURL, "--storage-url", e.m.Config.StorageURL}
	code, stdout, stderr := runCLI(t, nil, args...)
	if code != 0 || !strings.Contains(stdout, "expired resumable uploads: 1") {
		t.Fatalf("gc dry run: exit %d, %q %s", code, stdout, stderr)
	}
	if _, err := os.Stat(staged); err != nil {
		t.Fatalf("the dry run removed the staged bytes: %v", err)
	}
	code, stdout, stderr = runCLI(t, nil, append(args, "--apply")...)
	if code != 0 || !strings.Contains(stdout, "removed 1 expired resumable uploads") {
		t.Fatalf("gc --apply: exit %d, %q %s", code, stdout, stderr)
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Fatalf("staged bytes after gc: %v", err)
	}
	if got := head(); got != http.StatusNotFound {
		t.Fatalf("HEAD after gc: %d, want 404", got)
	}
}

// TestResumableDamagedStagingNotStored: staged bytes that changed after
// they were acknowledged (a stale request on another replica, a damaged
// disk) do not hash to the recorded state; completion then fails (500)
// and records no file.
func TestResumableDamagedStagingNotStored(t *testing.T) {
	e := mustClientEnv(t, "dana")
	send := func(method, target string, body string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, target, strings.NewReader(body))
		req.SetBasicAuth(e.token, "x-oauth-basic")
		req.Header.Set("Upload-Draft-Interop-Version", "8")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	file := e.url + "/api/packages/dana/generic/damaged/1.0/x.bin"
	resp := send(http.MethodPut, file, strings.Repeat("a", 4000), "Upload-Complete", "?0")
	loc := resp.Header.Get("Location")
	staged := filepath.Join(e.m.Config.DataDir, "blobs", "uploads", loc[strings.LastIndex(loc, "/")+1:])
	f, err := os.OpenFile(staged, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("b"), 1234)
	f.Close()
	resp = send(http.MethodPatch, e.url+loc, strings.Repeat("c", 1000), "Content-Type", "application/partial-upload", "Upload-Offset", "4000", "Upload-Complete", "?1")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("completion over damaged staging: %d, want 500", resp.StatusCode)
	}
	if resp := send(http.MethodGet, file, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after the refused completion: %d, want 404", resp.StatusCode)
	}
}

// retryRecorder is client.Events recording the errors retried after.
type retryRecorder struct {
	mu   sync.Mutex
	errl []string
}

func (r *retryRecorder) Start(string, int64) client.Progress { return r }
func (r *retryRecorder) SetCurrent(int64)                    {}
func (r *retryRecorder) Add(int)                             {}
func (r *retryRecorder) Done(client.FileResult)              {}
func (r *retryRecorder) Retry(_ int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errl = append(r.errl, err.Error())
}
func (r *retryRecorder) errs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errl...)
}
