//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// TestHeaderTimeouts: a client that sends part of its headers is cut off
// after --read-header-timeout, and an idle keep-alive connection after
// --idle-timeout.
func TestHeaderTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	m := MustRunMain(t, Config{ReadHeaderTimeout: timeout, IdleTimeout: timeout})
	closedAfter := func(c net.Conn) time.Duration {
		t.Helper()
		start := time.Now()
		c.SetReadDeadline(start.Add(5 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server kept the connection open for 5 s")
		}
		return time.Since(start)
	}

	send := func(text string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, text); err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := send("GET /healthz HTTP/1.1\r\nHost: depot\r\n")
	if d := closedAfter(c); d < timeout-50*time.Millisecond || d > 3*time.Second {
		t.Errorf("unfinished headers: connection closed after %v, want about %v", d, timeout)
	}

	c2 := send("GET /healthz HTTP/1.1\r\nHost: depot\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /healthz: %s, close %v; want 200 on a kept-alive connection", resp.Status, resp.Close)
	}
	if d := closedAfter(c2); d < timeout-50*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle connection closed after %v, want about %v", d, timeout)
	}
}

// TestMaxHeaderBytes: a header block beyond --max-header-bytes is answered
// 431 by Go's server; one within it is served.
func TestMaxHeaderBytes(t *testing.T) {
	m := MustRunMain(t, Config{MaxHeaderBytes: 8 << 10})
	get := func(headerLen int) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Padding", strings.Repeat("p", headerLen))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := get(4 << 10); code != http.StatusOK {
		t.Errorf("4 KiB of headers: %d, want 200", code)
	}
	// Go allows 4096 bytes beyond MaxHeaderBytes.
	if code := get(16 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers: %d, want 431", code)
	}
}

// slowUpload is an upload whose body is still being sent.
type slowUpload struct {
	pw   *io.PipeWriter
	done chan int
}

// finish sends the rest of the body and returns the status.
func (u *slowUpload) finish(t *testing.T) int {
	t.Helper()
	u.pw.Write([]byte("end"))
	u.pw.Close()
	select {
	case code := <-u.done:
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("the upload did not finish")
		return 0
	}
}

// TestUploadLimits: with --max-uploads-per-client 2 and --max-uploads 3, a
// third upload in progress from one address is 429 and a fourth from any
// address 503, both with Retry-After and a body in each dialect's style;
// downloads are not counted; once uploads finish, slots free up. Clients
// take addresses 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback on Linux).
func TestUploadLimits(t *testing.T) {
	m := MustRunMain(t, Config{MaxUploadsPerClient: 2, MaxUploads: 3})
	ctx := t.Context()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: "lim", Email: "lim@example.com", Password: "limit-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Service.CreateProject(ctx, "lim", "tools", ""); err != nil {
		t.Fatal(err)
	}
	tok, _, err := m.Service.CreateToken(ctx, "lim", "ci", depot.Scopes{depot.ScopeAll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*http.Client{}
	from := func(ip string) *http.Client {
		if c, ok := clients[ip]; ok {
			return c
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		// With Expect: 100-continue the body goes only once the handler
		// reads it, so a started upload has passed the limiter.
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, ExpectContinueTimeout: 10 * time.Second}}
		t.Cleanup(c.CloseIdleConnections)
		clients[ip] = c
		return c
	}
	request := func(method, path string, body io.Reader, size int64) *http.Request {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+m.Addr()+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		if strings.HasPrefix(path, "/api/v4/") {
			req.Header.Set("PRIVATE-TOKEN", tok)
		} else {
			req.Header.Set("Authorization", "token "+tok)
		}
		return req
	}
	n := 0
	put := func(ip, path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		n++
		req := request(http.MethodPut, fmt.Sprintf(path, n), strings.NewReader("small"), 5)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := from(ip).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const giteaPath, gitlabPath = "/api/packages/lim/generic/p/1.0/f%d.bin", "/api/v4/projects/lim%%2Ftools/packages/generic/p/1.0/g%d.bin"
	// start begins an upload from ip and returns once the server reads its
	// body, so it is counted.
	start := func(ip string) *slowUpload {
		t.Helper()
		pr, pw := io.Pipe()
		n++
		req := request(http.MethodPut, fmt.Sprintf(giteaPath, n), pr, 1<<20)
		req.Header.Set("Expect", "100-continue")
		u := &slowUpload{pw: pw, done: make(chan int, 1)}
		go func() {
			resp, err := from(ip).Do(req)
			if err != nil {
				u.done <- 0
				return
			}
			resp.Body.Close()
			u.done <- resp.StatusCode
		}()
		if _, err := pw.Write(make([]byte, 1<<20-3)); err != nil {
			t.Fatal(err)
		}
		return u
	}
	a1, a2 := start("127.0.0.1"), start("127.0.0.1")

	resp, body := put("127.0.0.1", giteaPath)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "too many uploads") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("third upload from one address (Gitea): %s %q Retry-After %q, want 429, Retry-After 2, a plain text body", resp.Status, body, resp.Header.Get("Retry-After"))
	}
	resp, body = put("127.0.0.1", giteaPath, "Accept", "application/json")
	var msg struct{ Message string }
	if resp.StatusCode != http.StatusTooManyRequests || json.Unmarshal([]byte(body), &msg) != nil || !strings.Contains(msg.Message, "too many uploads") {
		t.Errorf("third upload from one address (Gitea, JSON): %s %q", resp.Status, body)
	}
	resp, body = put("127.0.0.1", gitlabPath)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &msg) != nil ||
		!strings.HasPrefix(msg.Message, "429 Too Many Requests - ") {
		t.Errorf("third upload from one address (GitLab): %s %q, want 429 {\"message\": \"429 Too Many Requests - ...\"}", resp.Status, body)
	}
	// Downloads are not uploads.
	if resp, err := from("127.0.0.1").Do(request(http.MethodGet, "/api/packages/lim/generic/p/1.0/none.bin", nil, 0)); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET while uploads are at the bound: %s, want 404", resp.Status)
	}

	b1 := start("127.0.0.2") // the third in all
	resp, body = put("127.0.0.3", giteaPath)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "too many uploads") {
		t.Errorf("fourth upload in all (Gitea): %s %q Retry-After %q, want 503 with Retry-After 2", resp.Status, body, resp.Header.Get("Retry-After"))
	}
	resp, body = put("127.0.0.3", gitlabPath)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &msg) != nil ||
		!strings.HasPrefix(msg.Message, "503 Service Unavailable - ") {
		t.Errorf("fourth upload in all (GitLab): %s %q, want 503 {\"message\": \"503 Service Unavailable - ...\"}", resp.Status, body)
	}

	for _, u := range []*slowUpload{a1, a2, b1} {
		if code := u.finish(t); code != http.StatusCreated {
			t.Errorf("an upload in progress finished with %d, want 201", code)
		}
	}
	if resp, body := put("127.0.0.1", giteaPath); resp.StatusCode != http.StatusCreated {
		t.Errorf("upload once the others finished (Gitea): %s %q, want 201", resp.Status, body)
	}
	if resp, body := put("127.0.0.3", gitlabPath); resp.StatusCode != http.StatusCreated {
		t.Errorf("upload once the others finished (GitLab): %s %q, want 201", resp.Status, body)
	}
}
