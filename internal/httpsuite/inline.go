package httpsuite

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// wantKept checks where the server keeps digest's bytes: inline in the
// metadata database, or in blob storage.
func (fx *fixture) wantKept(t *testing.T, digest string, inline bool) {
	t.Helper()
	_, ierr := fx.env.Inline.InlineBlob(context.Background(), digest)
	if inline != (ierr == nil) || ierr != nil && !errors.Is(ierr, depot.ErrNotFound) {
		t.Errorf("InlineBlob(%.12s…): %v, want inline = %v", digest, ierr, inline)
	}
	if n := blobCount(t, fx.env.Blobs, digest); inline && n != 0 || !inline && n != 1 {
		t.Errorf("%d blobs with digest %.12s… in blob storage, want inline = %v", n, digest, inline)
	}
}

// testInline covers small uploads kept inside the metadata database
// (depot.InlineStore): they never reach blob storage, declared or
// streamed, and download, range, revalidate, deduplicate, deploy and
// delete as any other; a streamed body that turns out large goes to blob
// storage.
func (fx *fixture) testInline(t *testing.T) {
	a := basic("alice", fx.tok["alice-all"])
	small := content("inline", 1<<10)
	p := pkgPath("alice", "inl", "1.0", "small.bin")
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, small)
	fx.wantKept(t, sha(small), true)

	fx.mustGetBody(t, p, a, small)
	resp, _ := fx.mustStatus(t, http.StatusOK, http.MethodHead, p, a, nil)
	if resp.ContentLength != int64(len(small)) {
		t.Errorf("HEAD: Content-Length %d, want %d", resp.ContentLength, len(small))
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Error("HEAD of an inline blob: no ETag")
	}
	if _, got := fx.mustStatus(t, http.StatusPartialContent, http.MethodGet, p, a, nil, "Range", "bytes=10-19"); !bytes.Equal(got, small[10:20]) {
		t.Errorf("Range bytes=10-19: %q, want %q", got, small[10:20])
	}
	fx.mustStatus(t, http.StatusNotModified, http.MethodGet, p, a, nil, "If-None-Match", etag)

	// Streamed (no Content-Length): small stays inline, large spills.
	chunkedSmall := content("inline chunked", 3000)
	if code, body := fx.putChunked(t, pkgPath("alice", "inl", "1.0", "chunked-small.bin"), a, chunkedSmall); code != http.StatusCreated {
		t.Fatalf("chunked small PUT: %d %s", code, body)
	}
	fx.wantKept(t, sha(chunkedSmall), true)
	chunkedLarge := content("inline chunked large", 100<<10)
	if code, body := fx.putChunked(t, pkgPath("alice", "inl", "1.0", "chunked-large.bin"), a, chunkedLarge); code != http.StatusCreated {
		t.Fatalf("chunked large PUT: %d %s", code, body)
	}
	fx.wantKept(t, sha(chunkedLarge), false)
	fx.mustGetBody(t, pkgPath("alice", "inl", "1.0", "chunked-small.bin"), a, chunkedSmall)
	fx.mustGetBody(t, pkgPath("alice", "inl", "1.0", "chunked-large.bin"), a, chunkedLarge)

	// A resumable upload that ends small: its staged bytes go inline.
	resumed := content("inline resumed", 5000)
	rp := pkgPath("alice", "inl", "1.0", "resumed.bin")
	loc := fx.createUpload(t, rp, a, resumed[:2000], len(resumed))
	if resp, body := fx.patch(t, loc, a, 2000, resumed[2000:], true); resp.StatusCode != http.StatusCreated {
		t.Fatalf("final PATCH: %d; %s", resp.StatusCode, body)
	}
	fx.wantKept(t, sha(resumed), true)
	fx.mustGetBody(t, rp, a, resumed)

	// An empty file.
	empty := pkgPath("alice", "inl", "1.0", "empty")
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, empty, a, []byte{})
	fx.wantKept(t, sha(nil), true)
	fx.mustGetBody(t, empty, a, []byte{})

	// The same bytes again, and by checksum: one inline blob.
	again := pkgPath("alice", "inl", "2.0", "again.bin")
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, again, a, small)
	deployed := pkgPath("alice", "inl", "3.0", "deployed.bin")
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, deployed, a, nil, "X-Checksum-Deploy", "true", "X-Checksum-Sha256", sha(small))
	fx.wantKept(t, sha(small), true)

	// Deleting all but the last reference keeps the bytes; the last
	// deletion removes them with the record.
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, a, nil)
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, again, a, nil)
	fx.mustGetBody(t, deployed, a, small)
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, deployed, a, nil)
	if _, err := fx.env.Inline.InlineBlob(context.Background(), sha(small)); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("InlineBlob after the last file went: %v, want ErrNotFound", err)
	}
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, deployed, a, nil)
	fx.mustStatus(t, http.StatusNotFound, http.MethodPut, pkgPath("alice", "inl", "4.0", "gone.bin"), a, nil,
		"X-Checksum-Deploy", "true", "X-Checksum-Sha256", sha(small))
	// Stored again after its last reference went.
	fx.mustPut(t, p, small)
	fx.mustGetBody(t, p, a, small)
	fx.wantKept(t, sha(small), true)
}
