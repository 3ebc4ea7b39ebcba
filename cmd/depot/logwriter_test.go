package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flush goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestLogWriter(t *testing.T) {
	var out lockedBuffer
	l := newLogWriter(&out)
	if _, err := l.Write([]byte("first line\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "" {
		t.Errorf("written at once: %q; want it buffered", got)
	}
	deadline := time.Now().Add(10 * logFlushEvery)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(logFlushEvery / 10)
	}
	if got := out.String(); got != "first line\n" {
		t.Errorf("after %v: %q, want the line written", 10*logFlushEvery, got)
	}
	l.Write([]byte("last line\n"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "last line\n") {
		t.Errorf("after Close: %q, want the last line written", got)
	}
}
