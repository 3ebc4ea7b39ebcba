package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/client"
)

// cutProxy is a TCP proxy on loopback in front of a server whose i-th
// accepted connection (once started) is handed to pipe with the limit cuts[i] (-1 for
// later connections: they pass whole); pipe counts its cuts with cutOne.
type cutProxy struct {
	ln     net.Listener
	target string
	cuts   []int64

	mu    sync.Mutex
	conns int
	cut   int // connections cut so far
	wg    sync.WaitGroup
}

// newCutProxy listens; start begins accepting.
func newCutProxy(t *testing.T, target string, cuts []int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &cutProxy{ln: ln, target: target, cuts: cuts}
}

func (p *cutProxy) start(t *testing.T, pipe func(c net.Conn, limit int64)) {
	p.wg.Add(1)
	go p.serve(pipe)
	t.Cleanup(func() {
		p.ln.Close()
		p.wg.Wait()
	})
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) cutCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *cutProxy) cutOne() {
	p.mu.Lock()
	p.cut++
	p.mu.Unlock()
}

func (p *cutProxy) serve(pipe func(c net.Conn, limit int64)) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		limit := int64(-1)
		if p.conns < len(p.cuts) {
			limit = p.cuts[p.conns]
		}
		p.conns++
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			pipe(c, limit)
		}()
	}
}

// faultProxy is a cutProxy that breaks downloads: a connection is cut
// after its limit of bytes from the server, and with flipAt > 0 the byte
// at that offset of every connection's server stream is inverted.
type faultProxy struct {
	*cutProxy
	flipAt int64
}

func startFaultProxy(t *testing.T, target string, cuts []int64, flipAt int64) *faultProxy {
	t.Helper()
	p := &faultProxy{cutProxy: newCutProxy(t, target, cuts), flipAt: flipAt}
	p.start(t, p.pipe)
	return p
}

func (p *faultProxy) pipe(c net.Conn, limit int64) {
	defer c.Close()
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	// Both directions end within the test's life: closing either side
	// ends the other copy.
	deadline := time.Now().Add(2 * time.Minute)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	go func() {
		io.Copy(s, c)
		s.Close()
	}()
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, err := s.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if p.flipAt > 0 && p.flipAt >= off && p.flipAt < off+int64(n) {
				chunk[p.flipAt-off] ^= 0xff
			}
			if limit >= 0 && off+int64(n) >= limit {
				c.Write(chunk[:limit-off])
				p.cutOne()
				return // closes both: the client sees the body end early
			}
			if _, werr := c.Write(chunk); werr != nil {
				return
			}
			off += int64(n)
		}
		if err != nil {
			return
		}
	}
}

// mustPush pushes dir/name with the CLI.
func mustPush(t *testing.T, env map[string]string, ref, path string) {
	t.Helper()
	if code, _, stderr := runCLI(t, env, "push", ref, path, "--quiet"); code != 0 {
		t.Fatalf("push %s: exit %d: %s", path, code, stderr)
	}
}

func proxied(e *clientEnv, p *faultProxy) map[string]string {
	env := map[string]string{}
	for k, v := range e.env {
		env[k] = v
	}
	env["DEPOT_URL"] = p.url()
	return env
}

func TestClientResumedDownload(t *testing.T) {
	e := mustClientEnv(t, "dana")
	src := t.TempDir()
	const size = 4 << 20
	want := mustFile(t, src, "big.bin", size)
	mustPush(t, e.env, "dana/big@1.0.0", filepath.Join(src, "big.bin"))
	target := strings.TrimPrefix(e.url, "http://")

	t.Run("within one run", func(t *testing.T) {
		// Three connections cut at different points (counting the
		// listing and the headers they carry); the fourth passes.
		p := startFaultProxy(t, target, []int64{1 << 20, 1<<20 + 12345, 1 << 20}, 0)
		dst := t.TempDir()
		code, s, stderr := runJSON(t, proxied(e, p), "pull", "dana/big@1.0.0", "-o", dst)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		f := s.Files[0]
		if f.Status != client.Downloaded || f.SHA256 != sha256hex(want) || p.cutCount() != 3 || f.Attempts != 4 || f.ResumedAt < 3<<20-4096 {
			t.Fatalf("result %+v", f)
		}
		mustSameFile(t, filepath.Join(dst, "big.bin"), want)
	})

	t.Run("across runs from the part file", func(t *testing.T) {
		dst := t.TempDir()
		// Every connection of the first run is cut after 1.5 MiB (headers
		// included): with one try, it fails and leaves big.bin.part.
		cuts := []int64{3 << 19, 3 << 19, 3 << 19, 3 << 19, 3 << 19, 3 << 19}
		p := startFaultProxy(t, target, cuts, 0)
		code, s, _ := runJSON(t, proxied(e, p), "pull", "dana/big@1.0.0", "-o", dst, "--retries", "1")
		if code != exitFailure || s.Files[0].Status != client.Failed {
			t.Fatalf("cut run: exit %d, %+v; want %d", code, s.Files, exitFailure)
		}
		fi, err := os.Stat(filepath.Join(dst, "big.bin.part"))
		if err != nil || fi.Size() == 0 || fi.Size() >= size {
			t.Fatalf("part file: %v, %v", fi, err)
		}
		if _, err := os.Stat(filepath.Join(dst, "big.bin")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("final file exists after a failed download: %v", err)
		}
		partSize := fi.Size()
		// The next run, straight to the server, continues from the part.
		code, s, stderr := runJSON(t, e.env, "pull", "dana/big@1.0.0", "-o", dst)
		if code != 0 {
			t.Fatalf("resumed run: exit %d: %s", code, stderr)
		}
		if f := s.Files[0]; f.ResumedAt != partSize || f.SHA256 != sha256hex(want) || f.Status != client.Downloaded {
			t.Fatalf("resumed result %+v, want resumed_at %d", f, partSize)
		}
		mustSameFile(t, filepath.Join(dst, "big.bin"), want)
		if left, _ := filepath.Glob(filepath.Join(dst, "*.part*")); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("a part of other content starts over", func(t *testing.T) {
		dst := t.TempDir()
		// A part whose validator the server no longer has: If-Range fails,
		// the server sends the whole file, the client starts over.
		os.WriteFile(filepath.Join(dst, "big.bin.part"), bytes.Repeat([]byte("x"), 1000), 0o644)
		os.WriteFile(filepath.Join(dst, "big.bin.part.etag"), []byte(`"old-validator"`+"\n"), 0o644)
		code, s, stderr := runJSON(t, e.env, "pull", "dana/big@1.0.0", "-o", dst)
		if code != 0 || s.Files[0].SHA256 != sha256hex(want) {
			t.Fatalf("exit %d, %+v: %s", code, s.Files, stderr)
		}
		mustSameFile(t, filepath.Join(dst, "big.bin"), want)
		// A part of an earlier upload of the name (its sha256 validator is
		// not the listing's): started over without asking.
		os.WriteFile(filepath.Join(dst, "big.bin.part"), want[:1000], 0o644)
		os.WriteFile(filepath.Join(dst, "big.bin.part.etag"), []byte(`"`+strings.Repeat("0", 64)+`"`), 0o644)
		os.Remove(filepath.Join(dst, "big.bin"))
		code, s, _ = runJSON(t, e.env, "pull", "dana/big@1.0.0", "-o", dst)
		if code != 0 || s.Files[0].ResumedAt != 0 {
			t.Fatalf("exit %d, %+v", code, s.Files)
		}
		mustSameFile(t, filepath.Join(dst, "big.bin"), want)
	})

	t.Run("a corrupted download fails verification", func(t *testing.T) {
		dst := t.TempDir()
		p := startFaultProxy(t, target, nil, 2<<20)
		code, s, stderr := runJSON(t, proxied(e, p), "pull", "dana/big@1.0.0", "-o", dst)
		if code != exitVerify || s.Files[0].Status != client.Failed || !strings.Contains(s.Files[0].Error, "sha256") {
			t.Fatalf("exit %d, %+v: %s; want %d", code, s.Files, stderr, exitVerify)
		}
		if left, _ := filepath.Glob(filepath.Join(dst, "*")); len(left) > 0 {
			t.Errorf("files left after a failed verification: %v", left)
		}
	})
}

func mustSameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d uploaded", path, len(got), len(want))
	}
}

// TestClientPushAnswerLost: the server stores an upload but its answer is
// lost (the connection is cut at the answer's first byte); the retried PUT
// meets the stored file (409), whose sha256 is the file's: done, exit 0.
func TestClientPushAnswerLost(t *testing.T) {
	e := mustClientEnv(t, "fred")
	src := t.TempDir()
	want := mustFile(t, src, "out.bin", 1<<20)
	p := startFaultProxy(t, strings.TrimPrefix(e.url, "http://"), []int64{1}, 0)
	code, s, stderr := runJSON(t, proxied(e, p), "push", "fred/out@1.0.0", filepath.Join(src, "out.bin"))
	if code != 0 || p.cutCount() != 1 {
		t.Fatalf("exit %d, %d cuts: %s", code, p.cutCount(), stderr)
	}
	if f := s.Files[0]; f.Status != client.Exists || f.Attempts != 2 || f.SHA256 != sha256hex(want) {
		t.Fatalf("result %+v; want exists after 2 attempts", f)
	}
}

// TestClientStorageRedirect pulls through --storage-redirect: the download
// follows the 307 to the object store (no depot credentials sent there) and
// is verified against depot's sha256; a part file is continued or, where the
// store's ETag is not depot's, started over, and ends with the exact bytes.
func TestClientStorageRedirect(t *testing.T) {
	c := scaleOutConfig(t)
	c.DatabaseURL = ""
	c.StorageRedirect = true
	e := mustClientEnvConfig(t, "gina", c)
	src := t.TempDir()
	want := mustFile(t, src, "obj.bin", 2<<20)
	mustPush(t, e.env, "gina/obj@1.0.0", filepath.Join(src, "obj.bin"))
	dst := t.TempDir()
	code, s, stderr := runJSON(t, e.env, "pull", "gina/obj@1.0.0", "-o", dst)
	if code != 0 || s.Files[0].Status != client.Downloaded || s.Files[0].SHA256 != sha256hex(want) {
		t.Fatalf("exit %d, %+v: %s", code, s.Files, stderr)
	}
	mustSameFile(t, filepath.Join(dst, "obj.bin"), want)
	os.Remove(filepath.Join(dst, "obj.bin"))
	os.WriteFile(filepath.Join(dst, "obj.bin.part"), want[:1<<20], 0o644)
	os.WriteFile(filepath.Join(dst, "obj.bin.part.etag"), []byte(`"`+sha256hex(want)+`"`), 0o644)
	code, s, stderr = runJSON(t, e.env, "pull", "gina/obj@1.0.0", "-o", dst)
	if code != 0 || s.Files[0].SHA256 != sha256hex(want) {
		t.Fatalf("resumed: exit %d, %+v: %s", code, s.Files, stderr)
	}
	t.Logf("resumed at %d through the object store", s.Files[0].ResumedAt)
	mustSameFile(t, filepath.Join(dst, "obj.bin"), want)
}
