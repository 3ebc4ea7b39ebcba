//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds this package's binary into dir and returns its path.
func buildBinary(tb testing.TB, ctx context.Context, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "depot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the binary to completion and returns its standard output.
func runBinary(tb testing.TB, ctx context.Context, bin string, args ...string) string {
	tb.Helper()
	return runBinaryEnv(tb, ctx, bin, nil, args...)
}

// runBinaryEnv is runBinary with env added to this process's environment.
func runBinaryEnv(tb testing.TB, ctx context.Context, bin string, env []string, args ...string) string {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("depot %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.String()
}

// childServer is a running `depot serve` child process.
type childServer struct {
	addr    string
	pid     int
	logPath string
	proc    *os.Process
	exited  <-chan error
	killed  bool
}

// kill ends the process at once (SIGKILL), as a crash would, and waits for it.
func (s *childServer) kill(tb testing.TB) {
	tb.Helper()
	s.proc.Kill()
	select {
	case <-s.exited:
		s.killed = true
	case <-time.After(10 * time.Second):
		tb.Fatalf("depot serve (pid %d) did not exit after SIGKILL", s.pid)
	}
}

// log returns what the server has written to its standard error so far.
func (s *childServer) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// startServer starts `depot serve --addr ADDR args...` (with env added to
// this process's environment) on a free loopback port and waits until
// it answers /healthz. A port taken between choosing and binding it is tried
// again with another. The process is stopped when the test ends.
func startServer(tb testing.TB, ctx context.Context, bin, logPath string, env []string, args ...string) *childServer {
	tb.Helper()
	const attempts = 5
	for attempt := 1; ; attempt++ {
		addr := freeAddr(tb)
		logf, err := os.Create(logPath)
		if err != nil {
			tb.Fatal(err)
		}
		// Not CommandContext: the cleanup below stops the process, after
		// the test's context is already done.
		cmd := exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = logf, logf
		err = cmd.Start()
		logf.Close()
		if err != nil {
			tb.Fatalf("start depot serve: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		srv := &childServer{addr: addr, pid: cmd.Process.Pid, logPath: logPath, proc: cmd.Process, exited: exited}

		err = waitHealthy(ctx, addr, exited, 15*time.Second)
		if err == nil {
			tb.Cleanup(func() {
				if !srv.killed {
					stopChild(tb, cmd.Process, exited)
				}
			})
			return srv
		}
		stopChild(tb, cmd.Process, exited)
		if errors.Is(err, errChildExited) && strings.Contains(srv.log(), "address already in use") && attempt < attempts {
			continue
		}
		tb.Fatalf("depot serve on %s: %v\nserver log:\n%s", addr, err, srv.log())
	}
}

var errChildExited = errors.New("server exited before it was ready")

// waitHealthy polls /healthz until it answers 200, the process exits, ctx
// ends or timeout passes.
func waitHealthy(ctx context.Context, addr string, exited <-chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("%w: %v", errChildExited, err)
		case <-ctx.Done():
			return fmt.Errorf("not healthy: %w", ctx.Err())
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

// stopChild stops the process gracefully, or kills it after a few seconds.
func stopChild(tb testing.TB, p *os.Process, exited <-chan error) {
	tb.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Logf("signal depot serve: %v", err)
	}
	select {
	case <-exited:
		return
	case <-time.After(10 * time.Second):
	}
	tb.Logf("depot serve did not stop within 10s of SIGTERM; killing it")
	p.Kill()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		tb.Errorf("depot serve (pid %d) did not exit after SIGKILL", p.Pid)
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
