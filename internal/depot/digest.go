package depot

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// Digester computes md5, sha1, sha256 and sha512 of a stream in one pass. Each
// Write hashes its bytes with the four functions in parallel, so on a
// multi-core machine a Write costs about as much as the slowest of them
// (sha512 or md5), not their sum. Writes are synchronous: the caller may reuse
// p as soon as Write returns.
type Digester struct {
	md5, sha1, sha256, sha512 hash.Hash
	n                         int64
}

// NewDigester returns a Digester with nothing written.
func NewDigester() *Digester {
	return &Digester{md5: md5.New(), sha1: sha1.New(), sha256: sha256.New(), sha512: sha512.New()}
}

// parallelThreshold is the write size below which spreading the work over
// goroutines costs more than it saves.
const parallelThreshold = 16 << 10

// Write hashes p. It never fails.
func (d *Digester) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	if len(p) < parallelThreshold {
		for _, h := range []hash.Hash{d.md5, d.sha1, d.sha256, d.sha512} {
			h.Write(p)
		}
		return len(p), nil
	}
	var wg sync.WaitGroup
	for _, h := range []hash.Hash{d.md5, d.sha1, d.sha512} {
		wg.Go(func() { h.Write(p) })
	}
	d.sha256.Write(p)
	wg.Wait()
	return len(p), nil
}

// Blob returns the digests and size of everything written so far.
func (d *Digester) Blob() Blob {
	return Blob{
		SHA256: hex.EncodeToString(d.sha256.Sum(nil)),
		MD5:    hex.EncodeToString(d.md5.Sum(nil)),
		SHA1:   hex.EncodeToString(d.sha1.Sum(nil)),
		SHA512: hex.EncodeToString(d.sha512.Sum(nil)),
		Size:   d.n,
	}
}

// copyChunk is the unit the copy pipeline reads and hands to its consumers,
// and copyChunks how many are in flight per copy: 4 MiB of buffers for a
// large upload, none held between uploads.
const (
	copyChunk  = 1 << 20
	copyChunks = 4
)

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, copyChunk)} }}

// chunk is a buffer shared by the pipeline's consumers; the last one to
// finish with it returns it.
type chunk struct {
	b    []byte
	n    int
	refs atomic.Int32
}

// CopyDigest copies src to dst and returns the md5, sha1, sha256 and sha512
// and the size of what it copied. size is the expected length, or -1 if
// unknown; it only chooses the strategy (see copyHashed). A read error is
// returned as is; a write error is wrapped.
func CopyDigest(dst io.Writer, src io.Reader, size int64) (Blob, error) {
	h := allHashes()
	n, err := copyHashed(dst, src, size, h[:]...)
	if err != nil {
		return Blob{}, err
	}
	return blobOf(h, n), nil
}

// CopySHA256 is CopyDigest computing only the sha256, the content address:
// the other digests of a large upload are computed after it is stored
// (Service.UploadFile), so the client waits for one hash function, not four.
// MD5, SHA1 and SHA512 of the result are empty.
func CopySHA256(dst io.Writer, src io.Reader, size int64) (Blob, error) {
	h := sha256.New()
	n, err := copyHashed(dst, src, size, h)
	if err != nil {
		return Blob{}, err
	}
	return Blob{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func allHashes() [4]hash.Hash { return [4]hash.Hash{md5.New(), sha1.New(), sha256.New(), sha512.New()} }

func blobOf(h [4]hash.Hash, n int64) Blob {
	return Blob{
		MD5:    hex.EncodeToString(h[0].Sum(nil)),
		SHA1:   hex.EncodeToString(h[1].Sum(nil)),
		SHA256: hex.EncodeToString(h[2].Sum(nil)),
		SHA512: hex.EncodeToString(h[3].Sum(nil)),
		Size:   n,
	}
}

// copyHashed copies src to dst (nil: nowhere) through the hashes and
// returns the number of bytes. A stream of at most one chunk is read into
// one buffer, hashed in turn (microseconds at that size) and written once.
// A larger one is pipelined: the caller's goroutine reads while one
// goroutine per hash and one writing to dst each consume every chunk, so
// receiving, writing and hashing overlap on every core and the copy runs at
// the pace of the slowest of them rather than their sum.
func copyHashed(dst io.Writer, src io.Reader, size int64, hashes ...hash.Hash) (int64, error) {
	consumers := make([]func([]byte) error, 0, len(hashes)+1)
	for _, h := range hashes {
		consumers = append(consumers, func(p []byte) error { h.Write(p); return nil })
	}
	if dst != nil {
		consumers = append(consumers, func(p []byte) error {
			if _, err := dst.Write(p); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			return nil
		})
	}
	if size >= 0 && size <= copyChunk {
		return copySerial(src, consumers)
	}

	free := make(chan *chunk, copyChunks)
	for range copyChunks {
		free <- chunkPool.Get().(*chunk)
	}
	defer func() {
		for range copyChunks {
			chunkPool.Put(<-free)
		}
	}()
	var consumeErr atomic.Pointer[error]
	chans := make([]chan *chunk, len(consumers))
	var wg sync.WaitGroup
	for i, consume := range consumers {
		ch := make(chan *chunk, copyChunks)
		chans[i] = ch
		wg.Go(func() {
			for c := range ch {
				// After a failed write, drain without consuming.
				if consumeErr.Load() == nil {
					if err := consume(c.b[:c.n]); err != nil {
						consumeErr.Store(&err)
					}
				}
				if c.refs.Add(-1) == 0 {
					free <- c
				}
			}
		})
	}
	var n int64
	var readErr error
	for consumeErr.Load() == nil {
		c := <-free
		c.n, readErr = fill(src, c.b)
		if c.n == 0 {
			free <- c
			break
		}
		n += int64(c.n)
		c.refs.Store(int32(len(consumers)))
		for _, ch := range chans {
			ch <- c
		}
		if readErr != nil {
			break
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	if p := consumeErr.Load(); p != nil {
		return n, *p
	}
	if readErr != nil && readErr != io.EOF {
		return n, readErr
	}
	return n, nil
}

// copySerial runs every consumer on each chunk in turn, on this goroutine.
func copySerial(src io.Reader, consumers []func([]byte) error) (int64, error) {
	c := chunkPool.Get().(*chunk)
	defer chunkPool.Put(c)
	var n int64
	for {
		k, err := fill(src, c.b)
		if k > 0 {
			for _, consume := range consumers {
				if cerr := consume(c.b[:k]); cerr != nil {
					return n, cerr
				}
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
	}
}

// fill reads into b until it is full (nil), the stream ends (io.EOF, with
// the bytes read before), or src fails (its error as is: unlike
// io.ReadFull, an io.ErrUnexpectedEOF here always comes from src).
func fill(src io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := src.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
