package s3blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/depot-registry/depot/internal/blobtest"
	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/testenv"
)

// testConfig returns a Config for the test S3 service (testenv.S3Server:
// skipped, or failed in CI, without one), without a bucket.
func testConfig(tb testing.TB) Config {
	tb.Helper()
	srv := testenv.S3Server(tb)
	return Config{Endpoint: srv.Endpoint, Region: "us-east-1", PathStyle: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
}

func testServer(c Config) testenv.S3 {
	return testenv.S3{Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey}
}

// adminClient returns a client for inspecting test buckets.
func adminClient(tb testing.TB, c Config) *minio.Client {
	tb.Helper()
	return testServer(c).Client(tb)
}

// MustBucket creates an empty bucket that is removed, with everything in it,
// when the test ends, and returns its name.
func MustBucket(tb testing.TB, c Config) string {
	tb.Helper()
	return testServer(c).Bucket(tb)
}

// testStore is a Store that records every key it started a multipart
// upload on, so leftovers can ask MinIO about each (MinIO lists multipart
// uploads only for an exact key).
type testStore struct {
	*Store
	mu   sync.Mutex
	keys []string
}

func (ts *testStore) track(key string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.keys = append(ts.keys, key)
}

// MustStore returns a store on a new bucket; edit may change the Config.
func MustStore(tb testing.TB, edit ...func(*Config)) *testStore {
	tb.Helper()
	c := testConfig(tb)
	c.Bucket = MustBucket(tb, c)
	c.Prefix = "depot/"
	for _, e := range edit {
		e(&c)
	}
	s, err := New(context.Background(), c)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	ts := &testStore{Store: s}
	s.trackKey = ts.track
	return ts
}

func newStore(t *testing.T) depot.BlobStore { return MustStore(t) }

// leftovers lists staging objects and copy markers, and unfinished
// multipart uploads: those TempUploads finds and those on any key the store
// ever started one on.
func leftovers(ctx context.Context, bs depot.BlobStore) ([]string, error) {
	ts := bs.(*testStore)
	left, err := ts.TempUploads()
	if err != nil {
		return nil, err
	}
	// Data objects no link names.
	linked := map[string]bool{}
	if err := ts.Walk(ctx, func(d string) error {
		key, _ := ts.blobKey(d)
		info, err := ts.client.StatObject(ctx, ts.bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return err
		}
		if data, ok := ts.linkTarget(info); ok {
			linked[data] = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for obj := range ts.client.ListObjectsIter(ctx, ts.bucket, minio.ListObjectsOptions{Prefix: ts.dataPrefix(), Recursive: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		if !linked[obj.Key] {
			left = append(left, strings.TrimPrefix(obj.Key, ts.prefix)+" (no link)")
		}
	}
	ts.mu.Lock()
	keys := slices.Clone(ts.keys)
	ts.mu.Unlock()
	slices.Sort(keys)
	for _, key := range slices.Compact(keys) {
		ups, err := ts.listUploads(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, u := range ups {
			if s := fmt.Sprintf("%s (multipart upload %s)", strings.TrimPrefix(u.Key, ts.prefix), u.UploadID); u.Key == key && !slices.Contains(left, s) {
				left = append(left, s)
			}
		}
	}
	return left, nil
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, newStore, leftovers)
}

// mustNoLeftovers fails the test if s holds anything besides blobs.
func mustNoLeftovers(t *testing.T, s *testStore) {
	t.Helper()
	left, err := leftovers(context.Background(), s)
	if err != nil {
		t.Fatalf("list leftovers: %v", err)
	}
	if len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
}

// gen returns n deterministic pseudo-random bytes as a reader.
func gen(seed byte, n int64) io.Reader {
	return io.LimitReader(mrand.NewChaCha8([32]byte{seed}), n)
}

// digestOf returns the sha256 of r.
func digestOf(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Config
	}{
		{"s3://depot", Config{Bucket: "depot"}},
		{"s3://depot/", Config{Bucket: "depot"}},
		{"s3://depot/blobs", Config{Bucket: "depot", Prefix: "blobs/"}},
		{"s3://depot/a/b/", Config{Bucket: "depot", Prefix: "a/b/"}},
		{"s3://depot?region=eu-west-1", Config{Bucket: "depot", Region: "eu-west-1"}},
		{
			"s3://depot/p?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
			Config{Bucket: "depot", Prefix: "p/", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: true},
		},
		{
			"s3://my.bucket-1?endpoint=https%3A%2F%2Fs3.example.com%2F&path_style=false",
			Config{Bucket: "my.bucket-1", Endpoint: "https://s3.example.com/"},
		},
		{
			"s3://depot?part_size=32MiB&copy_part_size=1GiB",
			Config{Bucket: "depot", PartSize: 32 << 20, CopyPartSize: 1 << 30},
		},
		{"s3://depot?link_size=64MiB", Config{Bucket: "depot", LinkSize: 64 << 20}},
		{"s3://depot?link_size=off", Config{Bucket: "depot", LinkSize: -1}},
		{"s3://depot?payload=signed", Config{Bucket: "depot", SignedPayload: true}},
		{"s3://depot?payload=unsigned", Config{Bucket: "depot"}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseURL(tc.raw)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if got != tc.want {
				t.Errorf("ParseURL = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		raw, want string // want: a part of the error message
	}{
		{"file:///tmp/blobs", "scheme must be s3"},
		{"s3:depot", "want s3://BUCKET"},
		{"s3:///prefix", "want s3://BUCKET"},
		{"s3://key:secret@depot", "credentials do not belong in the URL"},
		{"s3://Depot", `s3 bucket "Depot"`},
		{"s3://de", `s3 bucket "de"`},
		{"s3://depot_1", `s3 bucket "depot_1"`},
		{"s3://depot/a//b", "s3 prefix"},
		{"s3://depot/a/../b", "s3 prefix"},
		{"s3://depot?endpoint=127.0.0.1:9000", "s3 endpoint"},
		{"s3://depot?endpoint=ftp://host", "want http:// or https://"},
		{"s3://depot?endpoint=http://host/path", "want scheme://host[:port] only"},
		{"s3://depot?endpoint=http://", "want scheme://host[:port] only"},
		{"s3://depot?path_style=yes", "path_style"},
		{"s3://depot?part_size=lots", "part_size"},
		{"s3://depot?part_size=1MiB", "s3 part size"},
		{"s3://depot?copy_part_size=6GiB", "s3 copy part size"},
		{"s3://depot?region=a&region=b", "region given 2 times"},
		{"s3://depot?link_size=0", "link_size"},
		{"s3://depot?link_size=never", "link_size"},
		{"s3://depot?payload=none", "payload"},
		{"s3://depot?bucket=x", `unknown parameter "bucket"`},
		{"s3://depot#frag", "fragment"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			_, err := ParseURL(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseURL error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	c := testConfig(t)
	ctx := context.Background()
	c.Bucket = MustBucket(t, c)

	missing := c
	missing.Bucket = "depot-no-such-bucket"
	if _, err := New(ctx, missing); err == nil || !strings.Contains(err.Error(), `s3 bucket "depot-no-such-bucket" does not exist at `+c.Endpoint) {
		t.Errorf("New with a missing bucket: error = %v", err)
	}

	badKey := c
	badKey.SecretKey = "wrong-" + c.SecretKey
	if _, err := New(ctx, badKey); err == nil || !strings.Contains(err.Error(), "credentials refused") {
		t.Errorf("New with a wrong secret key: error = %v", err)
	}

	halfCreds := c
	halfCreds.SecretKey = ""
	if _, err := New(ctx, halfCreds); err == nil || !strings.Contains(err.Error(), "access key and secret key") {
		t.Errorf("New with an access key only: error = %v", err)
	}

	// Credentials from the environment, as minio-go's chain reads them.
	fromEnv := c
	fromEnv.AccessKey, fromEnv.SecretKey = "", ""
	t.Setenv("AWS_ACCESS_KEY_ID", c.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", c.SecretKey)
	s, err := New(ctx, fromEnv)
	if err != nil {
		t.Fatalf("New with credentials from AWS_ACCESS_KEY_ID: %v", err)
	}
	d := blobtest.MustPut(t, s, []byte("credentials from the environment"))
	if got := blobtest.MustRead(t, s, d); string(got) != "credentials from the environment" {
		t.Errorf("read back %q", got)
	}
}

// mustPutSized stores p as an upload of declared size and returns its digest.
func mustPutSized(t *testing.T, s *testStore, p []byte) string {
	t.Helper()
	ctx := context.Background()
	up, err := s.NewUpload(ctx, int64(len(p)))
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	defer up.Close()
	if _, err := up.Write(p); err != nil {
		t.Fatalf("Write: %v", err)
	}
	d := blobtest.Digest(p)
	if err := up.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := up.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return d
}

// bucketKeys lists every key of the store's bucket.
func bucketKeys(t *testing.T, s *testStore) []string {
	t.Helper()
	var keys []string
	for obj := range s.client.ListObjectsIter(context.Background(), s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

func TestLayout(t *testing.T) {
	s := MustStore(t)
	ctx := context.Background()
	// Up to LinkSize, of declared size: the bytes at the blob's key.
	d := mustPutSized(t, s, []byte("where does it go"))
	admin := adminClient(t, testConfig(t))
	if got, want := bucketKeys(t, s), []string{"depot/blobs/sha256/" + d[:2] + "/" + d}; !slices.Equal(got, want) {
		t.Errorf("bucket holds %q, want %q", got, want)
	}
	// Of unknown size (or above LinkSize): a data object, linked.
	linked := []byte("linked, written once")
	ld := blobtest.MustPut(t, s, linked)
	var data []string
	for _, k := range bucketKeys(t, s) {
		if strings.HasPrefix(k, "depot/data/") {
			data = append(data, k)
		}
	}
	lkey, _ := s.blobKey(ld)
	info, err := s.client.StatObject(ctx, s.bucket, lkey, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if target, ok := s.linkTarget(info); len(data) != 1 || !ok || target != data[0] || info.Size != 0 {
		t.Errorf("linked blob: data objects %q, link to %q (%v), link size %d", data, target, ok, info.Size)
	}
	if got := blobtest.MustRead(t, s, ld); !bytes.Equal(got, linked) {
		t.Errorf("linked blob reads %q", got)
	}
	if n, err := s.Stat(ctx, ld); err != nil || n != int64(len(linked)) {
		t.Errorf("Stat of the linked blob = %d, %v", n, err)
	}
	// With links off, the same upload is copied.
	off := MustStore(t, func(c *Config) { c.LinkSize = -1 })
	blobtest.MustPut(t, off, linked)
	if got, want := bucketKeys(t, off), []string{"depot/blobs/sha256/" + ld[:2] + "/" + ld}; !slices.Equal(got, want) {
		t.Errorf("with LinkSize -1, bucket holds %q, want %q", got, want)
	}
	if err := s.Delete(ctx, ld); err != nil {
		t.Fatalf("Delete of the linked blob: %v", err)
	}
	if got, want := bucketKeys(t, s), []string{"depot/blobs/sha256/" + d[:2] + "/" + d}; !slices.Equal(got, want) {
		t.Errorf("after deleting the linked blob, bucket holds %q, want %q", got, want)
	}

	// Keys in blobs/ that are not blobs are not reported by Walk.
	for _, k := range []string{"depot/blobs/sha256/00/" + d, "depot/blobs/sha256/" + d[:2] + "/" + d + ".x", "depot/blobs/readme"} {
		if _, err := admin.PutObject(ctx, s.bucket, k, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := blobtest.MustWalk(t, s); !slices.Equal(got, []string{d}) {
		t.Errorf("Walk = %q, want %q", got, []string{d})
	}
}

// recorder is an http.RoundTripper that records the object GETs it carries
// and counts the bytes their bodies delivered.
type recorder struct {
	mu     sync.Mutex
	gets   []string // "Range header" of each GET of an object ("" for none)
	bodyIn int64
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || req.URL.RawQuery != "" {
		return resp, err
	}
	r.mu.Lock()
	r.gets = append(r.gets, req.Header.Get("Range"))
	r.mu.Unlock()
	resp.Body = &countingBody{ReadCloser: resp.Body, r: r}
	return resp, nil
}

func (r *recorder) take() ([]string, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gets, n := r.gets, r.bodyIn
	r.gets, r.bodyIn = nil, 0
	return gets, n
}

type countingBody struct {
	io.ReadCloser
	r *recorder
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.r.mu.Lock()
	b.r.bodyIn += int64(n)
	b.r.mu.Unlock()
	return n, err
}

func TestRangeReads(t *testing.T) {
	rec := &recorder{}
	s := MustStore(t, func(c *Config) { c.Transport = rec })
	ctx := context.Background()
	const size = 3<<20 + 17
	content, err := io.ReadAll(gen(1, size))
	if err != nil {
		t.Fatal(err)
	}
	d := blobtest.MustPut(t, s, content)
	rec.take()

	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if gets, _ := rec.take(); len(gets) != 0 {
		t.Errorf("Open made GETs %q; it should only check the blob exists", gets)
	}

	// A Seek then a Read is one GET from that offset.
	if _, err := r.Seek(size-100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read tail: %v", err)
	}
	if !bytes.Equal(tail, content[size-100:]) {
		t.Errorf("tail differs")
	}
	gets, n := rec.take()
	if want := []string{fmt.Sprintf("bytes=%d-", size-100)}; !slices.Equal(gets, want) || n != 100 {
		t.Errorf("Seek to %d then read: GETs %q delivering %d bytes, want %q delivering 100", size-100, gets, n, want)
	}

	// Seeking back starts a new GET; a Seek to where the reader is does not.
	if _, err := r.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 10)
	for range 2 {
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Seek(0, io.SeekCurrent); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, content[1020:1030]) {
		t.Errorf("read at 1020 = %q, %v", p, err)
	}
	if gets, _ := rec.take(); !slices.Equal(gets, []string{"bytes=1000-"}) {
		t.Errorf("GETs %q, want one from 1000", gets)
	}

	// A download of a range: one GET from the range's start, and no more
	// bytes read than the range (plus what one Read buffers).
	r2, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r2.Close()
	req := httptest.NewRequest(http.MethodGet, "/blob", nil)
	req.Header.Set("Range", "bytes=2000000-2000999")
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, req, "blob", time.Time{}, r2)
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), content[2000000:2001000]) {
		t.Errorf("Range request: status %d, %d bytes", w.Code, w.Body.Len())
	}
	gets, n = rec.take()
	if !slices.Equal(gets, []string{"bytes=2000000-"}) || n > 1000+64<<10 {
		t.Errorf("Range request: GETs %q delivering %d bytes, want one from 2000000 delivering about 1000", gets, n)
	}

	// Reading past the end, and seeking before the start.
	if _, err := r2.Seek(size+10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := r2.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read past the end = %d, %v; want 0, EOF", n, err)
	}
	if _, err := r2.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to -1 succeeded")
	}
	if gets, _ := rec.take(); len(gets) != 0 {
		t.Errorf("GETs %q past the end", gets)
	}
}

func TestMultipartCopy(t *testing.T) {
	s := MustStore(t, func(c *Config) {
		c.PartSize = 5 << 20
		c.CopyPartSize = 5 << 20
	})
	ctx := context.Background()
	const size = 3*5<<20 + 12345 // four parts
	d := digestOf(t, gen(2, size))

	put := func(size int64) {
		t.Helper()
		up, err := s.NewUpload(ctx, size)
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		defer func() {
			if err := up.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
		if _, err := io.Copy(up, gen(2, 3*5<<20+12345)); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := up.Commit(ctx, d); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	put(size)
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if got := digestOf(t, r); got != d {
		t.Errorf("read back sha256 %s, want %s", got, d)
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+"blobs/sha256/"+d[:2]+"/"+d, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart object's ETag ends in -<number of parts>.
	if !strings.HasSuffix(info.ETag, "-4") {
		t.Errorf("blob ETag %q: want a multipart copy of 4 parts", info.ETag)
	}
	// Again, with a size unknown at the start: the existing blob is kept.
	put(-1)
	blobtest.MustWalk(t, s)
	mustNoLeftovers(t, s)
	if !slices.Equal(blobtest.MustWalk(t, s), []string{d}) {
		t.Errorf("Walk = %q", blobtest.MustWalk(t, s))
	}

	t.Run("SourceGone", func(t *testing.T) {
		s := MustStore(t, func(c *Config) { c.CopyPartSize = 5 << 20 })
		up, err := s.NewUpload(ctx, size)
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		if _, err := io.Copy(up, gen(2, size)); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := up.Complete(ctx); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		// The staging object disappears under the copy, which fails.
		if err := s.client.RemoveObject(ctx, s.bucket, up.(*upload).key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := up.Commit(ctx, d); err == nil {
			t.Error("Commit of a vanished staging object succeeded")
		}
		if err := up.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if got := blobtest.MustWalk(t, s); len(got) != 0 {
			t.Errorf("Walk = %q after a failed copy", got)
		}
		mustNoLeftovers(t, s)
	})
}

func TestCloseMidUpload(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"UnknownSize", -1},
		{"KnownSize", 20 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustStore(t, func(c *Config) { c.PartSize = 5 << 20 })
			up, err := s.NewUpload(ctx, tc.size)
			if err != nil {
				t.Fatalf("NewUpload: %v", err)
			}
			// Two parts sent and a third in the buffer.
			if _, err := io.Copy(up, gen(3, 12<<20)); err != nil {
				t.Fatalf("write: %v", err)
			}
			left, err := s.TempUploads()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(left, func(s string) bool { return strings.Contains(s, "(multipart upload ") }) {
				t.Errorf("TempUploads during the upload = %q, want the staging object and its multipart upload", left)
			}
			if err := up.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			mustNoLeftovers(t, s)
			if got := blobtest.MustWalk(t, s); len(got) != 0 {
				t.Errorf("Walk = %q", got)
			}
		})
	}

	t.Run("ContextCanceled", func(t *testing.T) {
		s := MustStore(t, func(c *Config) { c.PartSize = 5 << 20 })
		ctx, cancel := context.WithCancel(ctx)
		up, err := s.NewUpload(ctx, -1)
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		if _, err := io.Copy(up, gen(4, 7<<20)); err != nil {
			t.Fatalf("write: %v", err)
		}
		cancel()
		if _, err := io.Copy(up, gen(4, 7<<20)); err == nil {
			t.Error("writes after the context was canceled succeeded")
		}
		if err := up.Complete(context.Background()); err == nil {
			t.Error("Complete after the context was canceled succeeded")
		}
		if err := up.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		mustNoLeftovers(t, s)
	})

	t.Run("ShortAndLong", func(t *testing.T) {
		s := MustStore(t)
		up, err := s.NewUpload(ctx, 10)
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		if _, err := up.Write([]byte("12345")); err != nil {
			t.Fatal(err)
		}
		if err := up.Complete(ctx); !errors.Is(err, depot.ErrInvalid) {
			t.Errorf("Complete after 5 of 10 bytes: error = %v, want ErrInvalid", err)
		}
		if err := up.Commit(ctx, blobtest.Digest([]byte("12345"))); !errors.Is(err, depot.ErrInvalid) {
			t.Errorf("Commit after 5 of 10 bytes: error = %v, want ErrInvalid", err)
		}
		if err := up.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}

		up, err = s.NewUpload(ctx, 4)
		if err != nil {
			t.Fatalf("NewUpload: %v", err)
		}
		if _, err := up.Write([]byte("12345")); !errors.Is(err, depot.ErrInvalid) {
			t.Errorf("Write of 5 of 4 bytes: error = %v, want ErrInvalid", err)
		}
		if err := up.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := s.NewUpload(ctx, 6<<40); !errors.Is(err, depot.ErrTooLarge) {
			t.Errorf("NewUpload(6 TiB): error = %v, want ErrTooLarge", err)
		}
		mustNoLeftovers(t, s)
		if got := blobtest.MustWalk(t, s); len(got) != 0 {
			t.Errorf("Walk = %q", got)
		}
	})
}

func TestCleanTemp(t *testing.T) {
	s := MustStore(t, func(c *Config) { c.PartSize = 5 << 20 })
	ctx := context.Background()
	d := blobtest.Digest([]byte("copied when the process died"))

	// What a crash leaves: a staging object with its multipart upload, and
	// a copy marker with the multipart upload on the blob's key.
	staging := s.tmpPrefix() + "CRASHED"
	marker := staging + copyMarkerInfix + d
	blob, _ := s.blobKey(d)
	for _, k := range []string{staging, marker} {
		if _, err := s.client.PutObject(ctx, s.bucket, k, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{staging, blob} {
		if _, err := s.core.NewMultipartUpload(ctx, s.bucket, k, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		s.track(k)
	}
	// Timestamps may have a resolution of a second.
	time.Sleep(1100 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(1100 * time.Millisecond)

	// An upload in progress, past its first part, is younger than cutoff.
	content, err := io.ReadAll(gen(5, 6<<20))
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	defer up.Close()
	if _, err := up.Write(content); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if left, _ := s.TempUploads(); len(left) != 6 {
		t.Errorf("TempUploads = %q, want 6 entries", left)
	}

	n, err := s.CleanTemp(cutoff)
	if err != nil {
		t.Fatalf("CleanTemp: %v", err)
	}
	if n != 4 {
		t.Errorf("CleanTemp removed %d things, want 4", n)
	}
	left, err := s.TempUploads()
	if err != nil {
		t.Fatal(err)
	}
	// A linked upload: its marker, and the multipart upload on its data
	// object.
	key := strings.TrimPrefix(up.(*upload).key, s.prefix)
	data := strings.TrimPrefix(up.(*upload).data, s.prefix)
	if len(left) != 2 || left[1] != key || !strings.HasPrefix(left[0], data+" (multipart upload ") {
		t.Errorf("after CleanTemp: %q, want the upload in progress", left)
	}

	// The upload in progress still commits.
	if err := up.Commit(ctx, blobtest.Digest(content)); err != nil {
		t.Fatalf("Commit after CleanTemp: %v", err)
	}
	if err := up.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n, err := s.CleanTemp(time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("CleanTemp of nothing = %d, %v", n, err)
	}
	mustNoLeftovers(t, s)
	if got := blobtest.MustWalk(t, s); !slices.Equal(got, []string{blobtest.Digest(content)}) {
		t.Errorf("Walk = %q", got)
	}
}

func TestPresignGet(t *testing.T) {
	s := MustStore(t)
	ctx := context.Background()
	content := []byte("fetched straight from the bucket")
	d := blobtest.MustPut(t, s, content)
	for _, tc := range []struct{ name, disposition string }{
		{"app 1.0.tar.gz", `attachment; filename="app 1.0.tar.gz"`},
		{`quote".txt`, `attachment; filename="quote\".txt"`},
		{"naïve.txt", `attachment; filename*=utf-8''na%C3%AFve.txt`},
	} {
		link, err := s.PresignGet(ctx, d, time.Minute, tc.name)
		if err != nil {
			t.Fatalf("PresignGet: %v", err)
		}
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
			t.Errorf("GET presigned URL: %d %q", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Disposition"); got != tc.disposition {
			t.Errorf("Content-Disposition = %q, want %q", got, tc.disposition)
		}
	}

	link, err := s.PresignGet(ctx, d, time.Second, "x")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("X-Amz-Expires"); got != "1" {
		t.Errorf("X-Amz-Expires = %q, want 1", got)
	}
	for _, expiry := range []time.Duration{0, time.Millisecond, 8 * 24 * time.Hour} {
		if _, err := s.PresignGet(ctx, d, expiry, "x"); !errors.Is(err, depot.ErrInvalid) {
			t.Errorf("PresignGet with expiry %v: error = %v, want ErrInvalid", expiry, err)
		}
	}
	if _, err := s.PresignGet(ctx, "nope", time.Minute, "x"); !errors.Is(err, depot.ErrInvalid) {
		t.Errorf("PresignGet of an invalid digest: error = %v, want ErrInvalid", err)
	}
}

// peakRSS returns the process's peak resident set size (VmHWM), 0 where
// /proc does not say.
func peakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}

// heapSampler records the peak of runtime.MemStats.HeapInuse until stopped.
func heapSampler() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		var m runtime.MemStats
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}

// TestUploadMemory uploads 1 GiB with its size declared and 1 GiB without,
// and checks that the Go heap grows by far less than the upload: an upload
// holds one part (16 MiB), not the blob.
func TestUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB through S3; skipped with -short")
	}
	s := MustStore(t)
	ctx := context.Background()
	const size = 1 << 30
	const limit = 100 << 20
	for _, tc := range []struct {
		name     string
		declared int64
	}{
		{"KnownSize", size},
		{"UnknownSize", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			stop := heapSampler()
			start := time.Now()

			up, err := s.NewUpload(ctx, tc.declared)
			if err != nil {
				t.Fatalf("NewUpload: %v", err)
			}
			defer up.Close()
			h := sha256.New()
			// Odd-sized writes, as a request body arrives.
			n, err := io.CopyBuffer(io.MultiWriter(up, h), struct{ io.Reader }{gen(6, size)}, make([]byte, 100_003))
			if err != nil || n != size {
				t.Fatalf("write: %d bytes, %v", n, err)
			}
			d := hex.EncodeToString(h.Sum(nil))
			if err := up.Commit(ctx, d); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if err := up.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			elapsed := time.Since(start)
			peak := stop()

			growth := int64(peak) - int64(before.HeapInuse)
			t.Logf("1 GiB, size %d: %v (%.0f MiB/s); Go heap in use %d MiB before, peak %d MiB (+%d MiB); process peak RSS (VmHWM) %d MiB",
				tc.declared, elapsed.Round(time.Millisecond), float64(size>>20)/elapsed.Seconds(),
				before.HeapInuse>>20, peak>>20, growth>>20, peakRSS()>>20)
			if growth > limit {
				t.Errorf("the Go heap grew by %d MiB during a 1 GiB upload; want under %d MiB", growth>>20, limit>>20)
			}
			if got, err := s.Stat(ctx, d); err != nil || got != size {
				t.Errorf("Stat = %d, %v; want %d", got, err, size)
			}
			if err := s.Delete(ctx, d); err != nil {
				t.Errorf("Delete: %v", err)
			}
			mustNoLeftovers(t, s)
		})
	}
}

func TestStagingConformance(t *testing.T) {
	blobtest.RunStaging(t, func(t *testing.T) (depot.UploadStaging, func() ([]string, error)) {
		s := MustStore(t)
		st, err := s.UploadStaging()
		if err != nil {
			t.Fatal(err)
		}
		return st, func() ([]string, error) {
			var out []string
			for obj := range s.client.ListObjectsIter(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
				if obj.Err != nil {
					return nil, obj.Err
				}
				out = append(out, obj.Key)
			}
			return out, nil
		}
	})
}

// TestLinkCrashes sets up, by hand, what a process that died at each step of
// a linked upload's Commit or a linked blob's Delete leaves, and checks that
// CleanTemp keeps exactly the data objects a link names.
func TestLinkCrashes(t *testing.T) {
	ctx := context.Background()
	s := MustStore(t)
	put := func(key string, meta map[string]string, body []byte) {
		t.Helper()
		if _, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{UserMetadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	type state struct {
		name     string
		digest   bool // the marker names the digest
		link     bool // the link is in place
		wantBlob bool
	}
	states := []state{
		{"DiedBeforeCommit", false, false, false},
		{"DiedBeforeLink", true, false, false},
		{"DiedAfterLink", true, true, true},
		{"DeleteCutShort", true, false, false},
	}
	var digests []string
	for i, st := range states {
		body := []byte("bytes of " + st.name)
		d := blobtest.Digest(body)
		marker := s.tmpPrefix() + fmt.Sprintf("CRASH%d", i)
		data := s.dataKeyOf(marker)
		put(data, nil, body)
		var meta map[string]string
		if st.digest {
			meta = map[string]string{metaDigest: d}
		}
		put(marker, meta, nil)
		if st.link {
			key, _ := s.blobKey(d)
			if exists, err := s.putLink(ctx, key, data); err != nil || exists {
				t.Fatalf("putLink = %v, %v", exists, err)
			}
		}
		digests = append(digests, d)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := s.CleanTemp(time.Now()); err != nil {
		t.Fatalf("CleanTemp: %v", err)
	}
	for i, st := range states {
		got, err := s.Open(ctx, digests[i])
		if st.wantBlob {
			if err != nil {
				t.Errorf("%s: Open: %v", st.name, err)
				continue
			}
			got.Close()
		} else if err == nil {
			got.Close()
			t.Errorf("%s: the blob exists", st.name)
		}
	}
	mustNoLeftovers(t, s)
	var data int
	for _, k := range bucketKeys(t, s) {
		if strings.HasPrefix(k, s.dataPrefix()) {
			data++
		}
	}
	if data != 1 {
		t.Errorf("%d data objects remain, want 1 (the linked blob's)", data)
	}
}

// partHeaders records the headers of the part uploads a store sends.
type partHeaders struct {
	mu    sync.Mutex
	parts []http.Header
	next  http.RoundTripper
}

func (p *partHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" {
		p.mu.Lock()
		p.parts = append(p.parts, r.Header.Clone())
		p.mu.Unlock()
	}
	return p.next.RoundTrip(r)
}

// TestPayloadSigning checks both ways a large upload sends its parts: by
// default unsigned with a CRC32C the store checks, with payload=signed as
// SigV4 streaming signatures; either way the blob reads back whole.
func TestPayloadSigning(t *testing.T) {
	content := make([]byte, 2*DefaultPartSize+12345)
	for i := range content {
		content[i] = byte(i*31 + i>>11)
	}
	for _, signed := range []bool{false, true} {
		for _, size := range []int64{int64(len(content)), -1} {
			t.Run(fmt.Sprintf("signed=%v/size=%d", signed, size), func(t *testing.T) {
				rec := &partHeaders{next: http.DefaultTransport}
				s := MustStore(t, func(c *Config) { c.SignedPayload, c.Transport = signed, rec })
				ctx := context.Background()
				up, err := s.NewUpload(ctx, size)
				if err != nil {
					t.Fatal(err)
				}
				defer up.Close()
				if _, err := up.Write(content); err != nil {
					t.Fatal(err)
				}
				d := blobtest.Digest(content)
				if err := up.Commit(ctx, d); err != nil {
					t.Fatalf("Commit: %v", err)
				}
				if got := blobtest.MustRead(t, s, d); !bytes.Equal(got, content) {
					t.Fatalf("read back %d bytes, want the %d written", len(got), len(content))
				}
				rec.mu.Lock()
				defer rec.mu.Unlock()
				if len(rec.parts) < 3 {
					t.Fatalf("%d part uploads, want at least 3", len(rec.parts))
				}
				for i, h := range rec.parts {
					sha, crc := h.Get("X-Amz-Content-Sha256"), h.Get("X-Amz-Checksum-Crc32c")
					if signed && (!strings.HasPrefix(sha, "STREAMING-") || crc != "") {
						t.Errorf("signed part %d: X-Amz-Content-Sha256 %q, CRC32C %q; want a streaming signature and no checksum", i, sha, crc)
					}
					if !signed && (sha != "UNSIGNED-PAYLOAD" || crc == "") {
						t.Errorf("unsigned part %d: X-Amz-Content-Sha256 %q, CRC32C %q; want UNSIGNED-PAYLOAD and a checksum", i, sha, crc)
					}
				}
			})
		}
	}
}

// TestSocket checks depot.SocketSource on a plain-HTTP endpoint: the bytes
// of a range come as head plus the connection's next bytes, exactly those
// and no more, the offset moves past them, and a blob gone meanwhile is
// ErrNotFound.
func TestSocket(t *testing.T) {
	s := MustStore(t)
	ctx := context.Background()
	content := make([]byte, 3*socketMin+300<<10)
	for i := range content {
		content[i] = byte(i*7 + i>>9)
	}
	d := blobtest.MustPut(t, s, content)
	for _, c := range []struct{ off, n int64 }{{0, int64(len(content))}, {1000, socketMin}, {int64(len(content)) - socketMin, socketMin}} {
		br, err := s.Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := br.Seek(c.off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		head, conn, err := br.(depot.SocketSource).Socket(c.n)
		if err != nil || conn == nil {
			t.Fatalf("Socket(%d) at %d: conn %v, error %v", c.n, c.off, conn, err)
		}
		rest, err := io.ReadAll(conn) // the GET said Connection: close
		if err != nil {
			t.Fatal(err)
		}
		if got := append(head, rest...); !bytes.Equal(got, content[c.off:c.off+c.n]) {
			t.Errorf("Socket(%d) at %d: %d bytes, want the %d of the range", c.n, c.off, len(got), c.n)
		}
		if pos, _ := br.Seek(0, io.SeekCurrent); pos != c.off+c.n {
			t.Errorf("offset after Socket = %d, want %d", pos, c.off+c.n)
		}
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}
	}
	br, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	for _, n := range []int64{int64(len(content)) + 1, socketMin - 1} {
		if _, conn, err := br.(depot.SocketSource).Socket(n); err != nil || conn != nil {
			t.Fatalf("Socket(%d) of a %d-byte blob: conn %v, error %v; want neither (too long or too short)", n, len(content), conn, err)
		}
	}
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, conn, err := br.(depot.SocketSource).Socket(socketMin); !errors.Is(err, depot.ErrNotFound) || conn != nil {
		t.Fatalf("Socket of a deleted blob: conn %v, error %v; want ErrNotFound", conn, err)
	}
}
