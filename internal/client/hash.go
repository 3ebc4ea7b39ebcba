package client

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
)

// asyncHash computes a sha256 on another goroutine, so hashing overlaps the
// network and disk I/O of a transfer instead of adding to it (on a machine
// where sha256 runs at about the speed of a loopback transfer, that is the
// difference between costing nothing and halving the rate). A download
// reads into the hash's own buffers (buffer, submit): the bytes are hashed
// where they were received, not copied. Write copies p into such buffers.
// A few buffers in flight bound memory; they are small enough (hashBuf)
// that received bytes are still in the CPU's cache when written to the file
// and hashed: with 1 MiB reads a download here cost half as much again in
// system time.
type asyncHash struct {
	h    hash.Hash
	ch   chan []byte
	done chan struct{}
	free chan []byte
	// mu orders Write and close: an HTTP transport may still read a
	// request body (and so write here) after Do returned an early answer,
	// such as a 409 before the body was read; such late writes are dropped.
	mu     sync.Mutex
	closed bool
}

const (
	hashBuf   = 128 << 10
	hashQueue = 16
)

func newAsyncHash() *asyncHash {
	a := &asyncHash{h: sha256.New(), ch: make(chan []byte, hashQueue), done: make(chan struct{}), free: make(chan []byte, hashQueue+1)}
	for range hashQueue + 1 {
		a.free <- make([]byte, hashBuf)
	}
	go func() {
		defer close(a.done)
		for b := range a.ch {
			a.h.Write(b)
			a.free <- b[:cap(b)]
		}
	}()
	return a
}

// buffer returns a free buffer of hashBuf bytes to read into; the caller
// passes it, or the part of it it filled, to submit (also when empty).
func (a *asyncHash) buffer() []byte { return <-a.free }

// submit hashes b, a buffer from buffer (resliced), and takes it back.
// After close the bytes are dropped.
func (a *asyncHash) submit(b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || len(b) == 0 {
		a.free <- b[:cap(b)]
		return
	}
	a.ch <- b
}

// Write implements io.Writer; it never fails.
func (a *asyncHash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		b := a.buffer()
		k := copy(b, p)
		a.submit(b[:k])
		p = p[k:]
	}
	return n, nil
}

// Sum waits for the queued bytes and returns the hex sha256. The hash takes
// no writes after Sum.
func (a *asyncHash) Sum() string {
	a.close()
	return hex.EncodeToString(a.h.Sum(nil))
}

// close stops the goroutine (Sum, or abandoning the hash).
func (a *asyncHash) close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
	a.mu.Unlock()
	<-a.done
}

// fileSHA256 hashes a whole local file.
func fileSHA256(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
