//go:build linux

// The memory check reads the server's /proc/<pid>/status, so it exists on
// Linux only.

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	memFileSize  = 2 << 30   // bytes uploaded and downloaded
	memPeakLimit = 100 << 20 // the spec's bound on the server's peak RSS
	memMinFree   = 5 << 30   // disk space the test needs in its temp dir
)

// TestMemoryLargeFile checks the spec's memory bound: uploading and
// downloading a 2 GiB file keeps the server's peak RSS under 100 MiB. It
// builds the real binary (without -race, so the figure is a production
// binary's), runs `depot serve` as a child process and reads the child's
// VmHWM.
func TestMemoryLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("memory check runs outside -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	tmp := t.TempDir()
	memCheckFreeSpace(t, tmp, memMinFree)
	bin := buildBinary(t, ctx, tmp)
	dataDir := filepath.Join(tmp, "data")

	runBinary(t, ctx, bin, "admin", "user", "create", "--data-dir", dataDir,
		"--username", "memuser", "--password", "memory-check-password", "--email", "memuser@example.com", "--admin")
	token := strings.TrimSpace(runBinary(t, ctx, bin, "admin", "token", "create", "--data-dir", dataDir,
		"--username", "memuser", "--name", "memory", "--scopes", "write:package"))
	if token == "" || strings.ContainsAny(token, " \n") {
		t.Fatalf("token create printed %q, want one token", token)
	}

	srv := startServer(t, ctx, bin, filepath.Join(tmp, "server.log"), nil, "--data-dir", dataDir)
	idle := memReadStatus(t, srv.pid)
	sampler := memStartSampler(srv.pid, 50*time.Millisecond)

	url := "http://" + srv.addr + "/api/packages/memuser/generic/big/1.0.0/big.bin"
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)

	// Upload: a known length (so not chunked), hashed as it is sent.
	upHash := sha256.New()
	body := io.TeeReader(newMemPayload(memFileSize), upHash)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = memFileSize
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("upload: %v (server log:\n%s)", err, srv.log())
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	upTime := time.Since(start)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %s, want 201: %s", resp.Status, msg)
	}
	upDigest := hex.EncodeToString(upHash.Sum(nil))
	afterUpload := sampler.max()

	// Download: streamed through sha256 into nothing.
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	start = time.Now()
	resp, err = client.Do(req)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		t.Fatalf("download: status %s, want 200: %s", resp.Status, msg)
	}
	if resp.ContentLength != memFileSize {
		t.Errorf("download: Content-Length %d, want %d", resp.ContentLength, memFileSize)
	}
	downHash := sha256.New()
	n, err := io.Copy(downHash, resp.Body)
	if err != nil {
		t.Fatalf("download: after %d bytes: %v", n, err)
	}
	downTime := time.Since(start)
	if n != memFileSize {
		t.Fatalf("download: got %d bytes, want %d", n, memFileSize)
	}
	if got := hex.EncodeToString(downHash.Sum(nil)); got != upDigest {
		t.Errorf("download: sha256 %s, want the upload's %s", got, upDigest)
	}
	if got := resp.Header.Get("X-Checksum-SHA256"); got != upDigest {
		t.Errorf("download: X-Checksum-SHA256 %q, want the upload's %s", got, upDigest)
	}

	sampled := sampler.stop()
	final := memReadStatus(t, srv.pid)
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	mbps := func(d time.Duration) float64 { return float64(memFileSize) / 1e6 / d.Seconds() }
	t.Logf("server peak RSS: %.1f MiB (VmHWM), upload %.0f MB/s, download %.0f MB/s",
		mib(final.hwm), mbps(upTime), mbps(downTime))
	t.Logf("server RSS: %.1f MiB idle before upload, sampled max %.1f MiB during upload and %.1f MiB overall (%d samples), %.1f MiB at end; upload %v, download %v",
		mib(idle.rss), mib(afterUpload), mib(sampled.maxRSS), sampled.n, mib(final.rss), upTime.Round(time.Millisecond), downTime.Round(time.Millisecond))
	if final.hwm >= memPeakLimit {
		t.Errorf("server peak RSS %.1f MiB (VmHWM), want under %.0f MiB", mib(final.hwm), mib(memPeakLimit))
	}
}

// memCheckFreeSpace fails the test when dir's file system has less than need
// bytes available: a full disk would fail the upload with a less clear error.
func memCheckFreeSpace(tb testing.TB, dir string, need int64) {
	tb.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		tb.Fatalf("statfs %s: %v", dir, err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		tb.Fatalf("the memory check needs %d GiB free in %s (set TMPDIR to move it); only %.1f GiB is available",
			need>>30, dir, float64(free)/(1<<30))
	}
}

// memStatus is a process's current (VmRSS) and peak (VmHWM) resident set, in
// bytes.
type memStatus struct {
	rss, hwm int64
}

func memReadStatus(tb testing.TB, pid int) memStatus {
	tb.Helper()
	st, err := memParseStatus(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// memParseStatus reads VmRSS and VmHWM from /proc/<pid>/status.
func memParseStatus(pid int) (memStatus, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memStatus{}, err
	}
	defer f.Close()
	var st memStatus
	var found int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return memStatus{}, fmt.Errorf("/proc/%d/status: %s: %v", pid, key, err)
		}
		if key == "VmRSS" {
			st.rss = kb << 10
		} else {
			st.hwm = kb << 10
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return memStatus{}, err
	}
	if found != 2 {
		return memStatus{}, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return st, nil
}

// memSampler records the largest VmRSS of a process, read at an interval.
type memSampler struct {
	mu     sync.Mutex
	maxRSS int64
	n      int
	done   chan struct{}
	wg     sync.WaitGroup
}

// memSamples is what a memSampler saw.
type memSamples struct {
	maxRSS int64
	n      int
}

func memStartSampler(pid int, every time.Duration) *memSampler {
	s := &memSampler{done: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			st, err := memParseStatus(pid)
			if err != nil {
				continue // the process is gone; the test reports that itself
			}
			s.mu.Lock()
			s.maxRSS = max(s.maxRSS, st.rss)
			s.n++
			s.mu.Unlock()
		}
	})
	return s
}

func (s *memSampler) max() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxRSS
}

// stop ends the sampling and returns what it saw.
func (s *memSampler) stop() memSamples {
	close(s.done)
	s.wg.Wait()
	return memSamples{maxRSS: s.maxRSS, n: s.n}
}

// memPayload is a deterministic pseudo-random stream of a given length: one
// 1 MiB block from a fixed ChaCha8 seed, repeated, with each repetition's
// index written into its first 8 bytes so no two blocks are alike.
type memPayload struct {
	block []byte
	off   int64 // bytes produced so far
	size  int64
}

func newMemPayload(size int64) *memPayload {
	block := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{'d', 'e', 'p', 'o', 't'}).Read(block)
	return &memPayload{block: block, size: size}
}

func (p *memPayload) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	bs := int64(len(p.block))
	pos := p.off % bs
	if pos == 0 {
		binary.BigEndian.PutUint64(p.block, uint64(p.off/bs))
	}
	n := copy(b, p.block[pos:min(bs, pos+p.size-p.off)])
	p.off += int64(n)
	return n, nil
}
