package httpapi

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// corked reports whether TCP_CORK is set on c.
func corked(t *testing.T, c *net.TCPConn) bool {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v, gerr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v != 0
}

// corkProbe is a ResponseWriter that records whether the connection was
// corked when the body started (ReadFrom is where sendfile happens).
type corkProbe struct {
	http.ResponseWriter
	conn *net.TCPConn
	t    *testing.T
	seen *bool
}

func (p corkProbe) ReadFrom(r io.Reader) (int64, error) {
	*p.seen = corked(p.t, p.conn)
	return p.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
}

// TestServeFileCorks shows a large file sent with the connection corked,
// the cork removed once it is sent (the next answer on the same connection
// is not held back), and small files and HEAD never corked.
func TestServeFileCorks(t *testing.T) {
	dir := t.TempDir()
	content := make([]byte, 1<<20+1)
	rand.Read(content)
	path := filepath.Join(dir, "blob")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	type obs struct{ during, after bool }
	var seen []obs
	srv := &http.Server{ConnContext: ConnContext, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(*net.TCPConn)
		size := int64(len(content))
		if r.URL.Path == "/small" {
			size = 100
		}
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		var during bool
		ServeFile(corkProbe{ResponseWriter: w, conn: c, t: t, seen: &during}, r,
			&depot.File{Name: "f.bin", Blob: depot.Blob{SHA256: "x", Size: size}, CreatedAt: time.Now()}, f)
		mu.Lock()
		seen = append(seen, obs{during: during, after: corked(t, c)})
		mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	get := func(method, path string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got := get(http.MethodGet, "/large"); !bytes.Equal(got, content) {
		t.Fatalf("large file: got %d bytes, not the %d stored", len(got), len(content))
	}
	get(http.MethodHead, "/large")
	get(http.MethodGet, "/small")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("%d requests observed, want 3", len(seen))
	}
	if !seen[0].during || seen[0].after {
		t.Errorf("large GET: corked while sending = %v, after = %v; want true, false", seen[0].during, seen[0].after)
	}
	if seen[1].after || seen[2].after {
		t.Errorf("HEAD and small GET left the connection corked: %+v", seen[1:])
	}
}
