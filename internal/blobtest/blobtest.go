// Package blobtest is the conformance suite for depot.BlobStore. Every blob
// backend's tests run it:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, newStore, leftovers)
//	}
//
// Like distribution's storage driver suite, it fails a subtest that leaves
// anything behind besides the blobs it committed: the backend tells the suite
// how to list what it holds besides committed blobs (temporary files,
// unfinished multipart uploads, staging objects).
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Leftovers lists what s holds besides committed blobs: temporary upload
// files for a file system, staging objects and unfinished multipart uploads
// for an object store. After every subtest it must return nothing.
type Leftovers func(ctx context.Context, s depot.BlobStore) ([]string, error)

// Run runs the suite. newStore returns a new, empty store for each subtest
// and registers its own cleanup with t; leftovers must not be nil.
func Run(t *testing.T, newStore func(t *testing.T) depot.BlobStore, leftovers Leftovers) {
	if newStore == nil || leftovers == nil {
		t.Fatal("blobtest.Run needs newStore and leftovers")
	}
	s := &suite{newStore: newStore, leftovers: leftovers}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"SeekAndRange", s.testSeekAndRange},
		{"Missing", s.testMissing},
		{"InvalidDigest", s.testInvalidDigest},
		{"CloseWithoutCommit", s.testCloseWithoutCommit},
		{"CommitExisting", s.testCommitExisting},
		{"CommitTwice", s.testCommitTwice},
		{"CompleteThenCommit", s.testCompleteThenCommit},
		{"ConcurrentSameBytes", s.testConcurrentSameBytes},
		{"Walk", s.testWalk},
		{"Delete", s.testDelete},
		{"Large", s.testLarge},
		{"Salvage", s.testSalvage},
	} {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newStore  func(t *testing.T) depot.BlobStore
	leftovers Leftovers
}

// store returns a new store and checks, when the subtest ends, that it holds
// nothing besides committed blobs.
func (s *suite) store(t *testing.T) depot.BlobStore {
	t.Helper()
	bs := s.newStore(t)
	t.Cleanup(func() {
		left, err := s.leftovers(context.Background(), bs)
		if err != nil {
			t.Errorf("list leftovers: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("the test left %d objects besides committed blobs: %q", len(left), left)
		}
	})
	return bs
}

// Digest returns the hex sha256 of p.
func Digest(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// MustPut uploads p, commits it under its digest and returns the digest.
func MustPut(tb testing.TB, bs depot.BlobStore, p []byte) string {
	tb.Helper()
	ctx := context.Background()
	d := Digest(p)
	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		tb.Fatalf("NewUpload: %v", err)
	}
	defer mustClose(tb, up)
	if _, err := up.Write(p); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	if err := up.Commit(ctx, d); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
	return d
}

// MustRead returns the content of the blob d.
func MustRead(tb testing.TB, bs depot.BlobStore, d string) []byte {
	tb.Helper()
	r, err := bs.Open(context.Background(), d)
	if err != nil {
		tb.Fatalf("Open(%s): %v", d, err)
	}
	defer mustClose(tb, r)
	p, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read %s: %v", d, err)
	}
	return p
}

// MustWalk returns the sorted digests Walk reports.
func MustWalk(tb testing.TB, bs depot.BlobStore) []string {
	tb.Helper()
	var out []string
	if err := bs.Walk(context.Background(), func(d string) error {
		out = append(out, d)
		return nil
	}); err != nil {
		tb.Fatalf("Walk: %v", err)
	}
	slices.Sort(out)
	return out
}

func mustClose(tb testing.TB, c io.Closer) {
	tb.Helper()
	if err := c.Close(); err != nil {
		tb.Errorf("Close: %v", err)
	}
}

func wantWalk(t *testing.T, bs depot.BlobStore, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if got := MustWalk(t, bs); !slices.Equal(got, want) {
		t.Errorf("Walk = %q, want %q", got, want)
	}
}

func wantContent(t *testing.T, bs depot.BlobStore, d string, want []byte) {
	t.Helper()
	if got := MustRead(t, bs, d); !bytes.Equal(got, want) {
		t.Errorf("content of %s = %q, want %q", d, trunc(got), trunc(want))
	}
	size, err := bs.Stat(context.Background(), d)
	if err != nil {
		t.Fatalf("Stat(%s): %v", d, err)
	}
	if size != int64(len(want)) {
		t.Errorf("Stat(%s) = %d, want %d", d, size, len(want))
	}
}

func trunc(p []byte) []byte {
	if len(p) > 64 {
		return p[:64]
	}
	return p
}

func (s *suite) testRoundTrip(t *testing.T) {
	bs := s.store(t)
	for _, content := range [][]byte{[]byte("hello, depot\n"), {}, bytes.Repeat([]byte{0, 1, 2, 255}, 1000)} {
		d := MustPut(t, bs, content)
		wantContent(t, bs, d, content)
	}
}

func (s *suite) testSeekAndRange(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	content := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	d := MustPut(t, bs, content)

	r, err := bs.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer mustClose(t, r)
	read := func(n int) string {
		t.Helper()
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		return string(p)
	}
	seek := func(off int64, whence int, want int64) {
		t.Helper()
		got, err := r.Seek(off, whence)
		if err != nil {
			t.Fatalf("Seek(%d, %d): %v", off, whence, err)
		}
		if got != want {
			t.Fatalf("Seek(%d, %d) = %d, want %d", off, whence, got, want)
		}
	}
	seek(10, io.SeekStart, 10)
	if got := read(5); got != "abcde" {
		t.Errorf("read at 10 = %q, want %q", got, "abcde")
	}
	seek(0, io.SeekCurrent, 15)
	seek(2, io.SeekCurrent, 17)
	if got := read(3); got != "hij" {
		t.Errorf("read at 17 = %q, want %q", got, "hij")
	}
	seek(-4, io.SeekEnd, int64(len(content))-4)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read to end: %v", err)
	}
	if string(rest) != "wxyz" {
		t.Errorf("last 4 bytes = %q, want %q", rest, "wxyz")
	}
	seek(0, io.SeekStart, 0)
	if got := read(3); got != "012" {
		t.Errorf("read after rewind = %q, want %q", got, "012")
	}

	// What downloads do with the reader: serve a Range request.
	r2, err := bs.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer mustClose(t, r2)
	req := httptest.NewRequest(http.MethodGet, "/blob", nil)
	req.Header.Set("Range", "bytes=5-9")
	rec := httptest.NewRecorder()
	http.ServeContent(rec, req, "blob", time.Time{}, r2)
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "56789" {
		t.Errorf("Range bytes=5-9: status %d, body %q; want 206, %q", rec.Code, rec.Body.String(), "56789")
	}
	if got, want := rec.Header().Get("Content-Range"), fmt.Sprintf("bytes 5-9/%d", len(content)); got != want {
		t.Errorf("Content-Range = %q, want %q", got, want)
	}
}

func (s *suite) testMissing(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	missing := Digest([]byte("never stored"))
	// A stored blob must not make others appear.
	MustPut(t, bs, []byte("stored"))

	r, err := bs.Open(ctx, missing)
	if !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Open(missing) error = %v, want ErrNotFound", err)
	}
	if err == nil {
		r.Close()
	}
	if _, err := bs.Stat(ctx, missing); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Stat(missing) error = %v, want ErrNotFound", err)
	}
	if err := bs.Delete(ctx, missing); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Delete(missing) error = %v, want ErrNotFound", err)
	}
}

func (s *suite) testInvalidDigest(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	valid := Digest([]byte("x"))
	for _, d := range []string{
		"",
		"abc",
		strings.ToUpper(valid),
		valid + "0",
		valid[:63],
		strings.Repeat("g", 64),
		"../" + valid[3:],
		"sha256:" + valid[7:],
		valid[:32] + "/" + valid[33:],
	} {
		t.Run(fmt.Sprintf("%q", d), func(t *testing.T) {
			if r, err := bs.Open(ctx, d); !errors.Is(err, depot.ErrInvalid) {
				t.Errorf("Open error = %v, want ErrInvalid", err)
				if err == nil {
					r.Close()
				}
			}
			if _, err := bs.Stat(ctx, d); !errors.Is(err, depot.ErrInvalid) {
				t.Errorf("Stat error = %v, want ErrInvalid", err)
			}
			if err := bs.Delete(ctx, d); !errors.Is(err, depot.ErrInvalid) {
				t.Errorf("Delete error = %v, want ErrInvalid", err)
			}
			up, err := bs.NewUpload(ctx, -1)
			if err != nil {
				t.Fatalf("NewUpload: %v", err)
			}
			if _, err := up.Write([]byte("x")); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := up.Commit(ctx, d); !errors.Is(err, depot.ErrInvalid) {
				t.Errorf("Commit error = %v, want ErrInvalid", err)
			}
			mustClose(t, up)
		})
	}
	wantWalk(t, bs)
}

func (s *suite) testCloseWithoutCommit(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	for _, complete := range []bool{false, true} {
		up, err := bs.NewUpload(ctx, -1)
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		content := fmt.Appendf(nil, "abandoned upload, completed: %v", complete)
		if _, err := up.Write(content); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if complete {
			if err := up.Complete(ctx); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		}
		mustClose(t, up)
		if _, err := bs.Stat(ctx, Digest(content)); !errors.Is(err, depot.ErrNotFound) {
			t.Errorf("Stat of an abandoned upload's digest: error = %v, want ErrNotFound", err)
		}
	}
	// An upload closed without writing anything.
	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	mustClose(t, up)
	wantWalk(t, bs)
}

func (s *suite) testCommitExisting(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	content := []byte("stored twice")
	d := MustPut(t, bs, content)
	if got := MustPut(t, bs, content); got != d {
		t.Fatalf("digest changed: %s, then %s", d, got)
	}
	wantWalk(t, bs, d)
	wantContent(t, bs, d, content)

	// The contract: the upload is discarded and the existing blob kept.
	// (Bytes that do not match the digest only happen through a bug, which
	// is exactly why the rule shows.)
	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	if _, err := up.Write([]byte("other bytes")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := up.Commit(ctx, d); err != nil {
		t.Fatalf("Commit over an existing blob: %v", err)
	}
	mustClose(t, up)
	wantWalk(t, bs, d)
	wantContent(t, bs, d, content)
}

func (s *suite) testCommitTwice(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	content := []byte("committed twice")
	d := Digest(content)
	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	if _, err := up.Write(content); err != nil {
		t.Fatalf("Write: %v", err)
	}
	for i := range 2 {
		if err := up.Commit(ctx, d); err != nil {
			t.Fatalf("Commit #%d: %v", i+1, err)
		}
	}
	mustClose(t, up)
	wantWalk(t, bs, d)
	wantContent(t, bs, d, content)
}

func (s *suite) testCompleteThenCommit(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	content := []byte("completed first, committed later")
	d := Digest(content)
	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	defer mustClose(t, up)
	// Written in pieces, as a request body arrives.
	for _, part := range [][]byte{content[:5], content[5:20], content[20:]} {
		if _, err := up.Write(part); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	for i := range 2 {
		if err := up.Complete(ctx); err != nil {
			t.Fatalf("Complete #%d: %v", i+1, err)
		}
	}
	// Completed bytes stay invisible.
	if _, err := bs.Stat(ctx, d); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Stat before Commit: error = %v, want ErrNotFound", err)
	}
	wantWalk(t, bs)
	if err := up.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantWalk(t, bs, d)
	wantContent(t, bs, d, content)
}

func (s *suite) testConcurrentSameBytes(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	const n = 8
	content := bytes.Repeat([]byte("same bytes from every client. "), 4096)
	d := Digest(content)

	// Every upload writes and completes, then all commit at once.
	var ready sync.WaitGroup
	ready.Add(n)
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = func() (err error) {
				up, err := bs.NewUpload(ctx, -1)
				if err != nil {
					ready.Done()
					return fmt.Errorf("NewUpload: %w", err)
				}
				defer func() { err = errors.Join(err, up.Close()) }()
				_, err = up.Write(content)
				if err == nil {
					err = up.Complete(ctx)
				}
				ready.Done()
				<-start
				if err != nil {
					return err
				}
				return up.Commit(ctx, d)
			}()
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("upload %d: %v", i, err)
		}
	}
	wantWalk(t, bs, d)
	wantContent(t, bs, d, content)
}

func (s *suite) testWalk(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	wantWalk(t, bs)
	var want []string
	for i := range 20 {
		want = append(want, MustPut(t, bs, fmt.Appendf(nil, "blob %d", i)))
	}
	wantWalk(t, bs, want...)

	// An upload in progress is not a blob.
	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	defer mustClose(t, up)
	if _, err := up.Write([]byte("in progress")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := up.Complete(ctx); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	wantWalk(t, bs, want...)

	// Walk stops at fn's first error and returns it.
	stop := errors.New("stop")
	calls := 0
	err = bs.Walk(ctx, func(string) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk with a failing fn: error %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func (s *suite) testDelete(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	keep := MustPut(t, bs, []byte("kept"))
	gone := MustPut(t, bs, []byte("deleted"))
	if err := bs.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if r, err := bs.Open(ctx, gone); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Open after Delete: error = %v, want ErrNotFound", err)
		if err == nil {
			r.Close()
		}
	}
	if _, err := bs.Stat(ctx, gone); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Stat after Delete: error = %v, want ErrNotFound", err)
	}
	if err := bs.Delete(ctx, gone); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("second Delete: error = %v, want ErrNotFound", err)
	}
	wantWalk(t, bs, keep)
	wantContent(t, bs, keep, []byte("kept"))

	// The digest can be stored again.
	if d := MustPut(t, bs, []byte("deleted")); d != gone {
		t.Fatalf("digest changed: %s, then %s", gone, d)
	}
	wantContent(t, bs, gone, []byte("deleted"))
	wantWalk(t, bs, keep, gone)
}

// largeSize is above any single buffer an implementation is likely to use and
// above S3's minimum multipart part size.
const largeSize = 8<<20 + 12345

func (s *suite) testLarge(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	gen := func() io.Reader {
		return io.LimitReader(rand.NewChaCha8([32]byte{'d', 'e', 'p', 'o', 't'}), largeSize)
	}
	h := sha256.New()
	if _, err := io.Copy(h, gen()); err != nil {
		t.Fatal(err)
	}
	d := hex.EncodeToString(h.Sum(nil))

	up, err := bs.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	defer mustClose(t, up)
	// Odd-sized writes, as a network read loop produces them.
	n, err := io.CopyBuffer(up, struct{ io.Reader }{gen()}, make([]byte, 100_003))
	if err != nil || n != largeSize {
		t.Fatalf("write: %d bytes, %v; want %d bytes", n, err, largeSize)
	}
	if err := up.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	size, err := bs.Stat(ctx, d)
	if err != nil || size != largeSize {
		t.Fatalf("Stat = %d, %v; want %d", size, err, largeSize)
	}
	r, err := bs.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer mustClose(t, r)
	h.Reset()
	if n, err := io.Copy(h, r); err != nil || n != largeSize {
		t.Fatalf("read back: %d bytes, %v; want %d bytes", n, err, largeSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d {
		t.Errorf("read back sha256 %s, want %s", got, d)
	}
	// A range near the end, compared with the generator's bytes.
	const off = largeSize - 5000
	want := make([]byte, 1000)
	g := gen()
	if _, err := io.CopyN(io.Discard, g, off); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(g, want); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("read at %d: %v", off, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bytes at %d differ from what was written", off)
	}
	wantWalk(t, bs, d)
}

// testSalvage checks that an upload whose body broke off hands what was
// written to it to the store's own upload staging (a SalvageableUpload),
// as the bytes of a resumable upload, and keeps nothing else: no blob, no
// temporary upload once the staged bytes are removed. A store with
// staging must salvage uploads of a declared size that its NewUpload
// holds whole (one chunk, what every store can do).
func (s *suite) testSalvage(t *testing.T) {
	bs := s.store(t)
	ctx := context.Background()
	sp, ok := bs.(interface {
		UploadStaging() (depot.UploadStaging, error)
	})
	if !ok {
		t.Skip("the store has no upload staging")
	}
	st, err := sp.UploadStaging()
	if err != nil {
		t.Fatalf("UploadStaging: %v", err)
	}
	content := bytes.Repeat([]byte("salvaged upload bytes "), 12000) // 264,000
	half := content[:len(content)/2]
	up, err := bs.NewUpload(ctx, int64(len(content)))
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	sv, ok := up.(depot.SalvageableUpload)
	if !ok {
		mustClose(t, up)
		t.Fatalf("upload %T of a store with staging is not a depot.SalvageableUpload", up)
	}
	if _, err := up.Write(half); err != nil {
		t.Fatalf("Write: %v", err)
	}
	const token = "0123456789abcdef0123456789abcdef"
	n, err := sv.Salvage(ctx, st, token)
	if err != nil {
		t.Fatalf("Salvage: %v", err)
	}
	if n != int64(len(half)) {
		t.Errorf("Salvage = %d bytes, want %d", n, len(half))
	}
	mustClose(t, up)
	r, err := st.Open(ctx, token, n)
	if err != nil {
		t.Fatalf("staging Open: %v", err)
	}
	got, err := io.ReadAll(r)
	mustClose(t, r)
	if err != nil || !bytes.Equal(got, half) {
		t.Errorf("staged bytes: %d bytes (error %v), want the %d written", len(got), err, len(half))
	}
	// Staging goes on after the salvaged bytes.
	if err := st.Append(ctx, token, n, content[len(half):]); err != nil {
		t.Fatalf("Append after salvage: %v", err)
	}
	r, err = st.Open(ctx, token, int64(len(content)))
	if err != nil {
		t.Fatalf("staging Open: %v", err)
	}
	got, err = io.ReadAll(r)
	mustClose(t, r)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("staged bytes after an append: %d bytes (error %v), want %d", len(got), err, len(content))
	}
	if _, err := bs.Stat(ctx, Digest(half)); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("Stat of the salvaged bytes' digest: error = %v, want ErrNotFound", err)
	}
	if err := st.Remove(ctx, token); err != nil {
		t.Fatalf("staging Remove: %v", err)
	}
	wantWalk(t, bs)
}
