package depot

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func wantBlob(p []byte) Blob {
	m, s1, s256, s512 := md5.Sum(p), sha1.Sum(p), sha256.Sum256(p), sha512.Sum512(p)
	return Blob{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:]), Size: int64(len(p))}
}

func randomBytes(n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{'d'}).Read(p)
	return p
}

func TestCopyDigest(t *testing.T) {
	for _, n := range []int{0, 1, 1023, copyChunk - 1, copyChunk, copyChunk + 1, 5*copyChunk + 7} {
		p := randomBytes(n)
		for _, size := range []int64{int64(n), -1} {
			for name, src := range map[string]io.Reader{
				"whole":    bytes.NewReader(p),
				"one byte": iotest.OneByteReader(bytes.NewReader(p)),
				"half":     iotest.HalfReader(bytes.NewReader(p)),
			} {
				if name == "one byte" && n > copyChunk+1 {
					continue // slow, and says nothing more
				}
				var dst bytes.Buffer
				got, err := CopyDigest(&dst, src, size)
				if err != nil {
					t.Fatalf("%d bytes, size %d, %s reads: %v", n, size, name, err)
				}
				if want := wantBlob(p); got != want {
					t.Errorf("%d bytes, size %d, %s reads: digests %+v, want %+v", n, size, name, got, want)
				}
				if !bytes.Equal(dst.Bytes(), p) {
					t.Errorf("%d bytes, size %d, %s reads: copied %d bytes that differ", n, size, name, dst.Len())
				}
			}
		}
	}
}

func TestCopyDigestErrors(t *testing.T) {
	for _, n := range []int{100, 3*copyChunk + 5} {
		// A body cut short: the reader's own error comes back as is.
		src := io.MultiReader(bytes.NewReader(randomBytes(n)), iotest.ErrReader(io.ErrUnexpectedEOF))
		if _, err := CopyDigest(io.Discard, src, int64(n)+10); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes then ErrUnexpectedEOF: %v, want it back", n, err)
		}
		// A failing destination.
		boom := errors.New("disk full")
		if _, err := CopyDigest(failWriter{boom}, bytes.NewReader(randomBytes(n)), int64(n)); !errors.Is(err, boom) {
			t.Errorf("%d bytes into a failing writer: %v, want %v", n, err, boom)
		}
	}
}

type failWriter struct{ err error }

func (w failWriter) Write(p []byte) (int, error) { return 0, w.err }
