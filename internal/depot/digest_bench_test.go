package depot

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkCopyDigest measures an upload's digesting: the stream copied to
// a discarding writer with all four digests, as UploadFile does.
// "pipelined" is CopyDigest; "sha256-only" is CopySHA256, what a large
// upload computes while the client waits; "per-write" is the former way
// (each 256 KiB write hashed by the four functions in parallel, then
// written).
func BenchmarkCopyDigest(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 20} {
		p := randomBytes(size)
		b.Run(fmt.Sprintf("pipelined/%s", byteSize(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := CopyDigest(io.Discard, bytes.NewReader(p), int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sha256-only/%s", byteSize(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := CopySHA256(io.Discard, bytes.NewReader(p), int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("per-write/%s", byteSize(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			buf := make([]byte, 256<<10)
			for b.Loop() {
				d := NewDigester()
				if _, err := io.CopyBuffer(io.MultiWriter(io.Discard, d), bytes.NewReader(p), buf); err != nil {
					b.Fatal(err)
				}
				_ = d.Blob()
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
