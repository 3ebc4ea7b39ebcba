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
// difference between costing nothing and halving the rate). Write copies p
// into a pooled buffer and queues it; a few buffers in flight bound memory.
type asyncHash struct {
	h    hash.Hash
	ch   chan *[]byte
	done chan struct{}
	free chan *[]byte
	// mu orders Write and close: an HTTP transport may still read a
	// request body (and so write here) after Do returned an early answer,
	// such as a 409 before the body was read; such late writes are dropped.
	mu     sync.Mutex
	closed bool
}

const (
	hashBuf   = 256 << 10
	hashQueue = 8
)

func newAsyncHash() *asyncHash {
	a := &asyncHash{h: sha256.New(), ch: make(chan *[]byte, hashQueue), done: make(chan struct{}), free: make(chan *[]byte, hashQueue+1)}
	for range hashQueue + 1 {
		b := make([]byte, 0, hashBuf)
		a.free <- &b
	}
	go func() {
		defer close(a.done)
		for b := range a.ch {
			a.h.Write(*b)
			a.free <- b
		}
	}()
	return a
}

// Write implements io.Writer; it never fails.
func (a *asyncHash) Write(p []byte) (int, error) {
	n := len(p)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return n, nil
	}
	for len(p) > 0 {
		b := <-a.free
		k := min(len(p), hashBuf)
		*b = append((*b)[:0], p[:k]...)
		a.ch <- b
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
