package depot

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"sync"
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
