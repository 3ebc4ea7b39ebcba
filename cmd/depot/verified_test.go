package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestVerifiedLargeUpload: over the size whose md5, sha1 and sha512 are
// deferred, a declared sha1 is still checked before the file is recorded
// (the upload then computes every digest on the way instead of deferring):
// a mismatch stores nothing, neither blob nor temporary file; a match
// records the sha1 at once.
func TestVerifiedLargeUpload(t *testing.T) {
	m := MustRunMain(t, Config{}) // disk blobs: digests of large uploads deferred
	ctx := t.Context()
	token := mustUserToken(t, m, "big")
	body := make([]byte, 9<<20+7)
	rand.NewChaCha8([32]byte{7}).Read(body)
	s1, s256 := sha1.Sum(body), sha256.Sum256(body)
	put := func(sha1hex string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+m.Addr()+"/api/packages/big/generic/p/1/f.bin", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+token)
		req.Header.Set("X-Checksum-Sha1", sha1hex)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	wrong := strings.Repeat("ab", 20)
	if status, msg := put(wrong); status != http.StatusBadRequest || !strings.Contains(msg, wrong) || !strings.Contains(msg, hex.EncodeToString(s1[:])) {
		t.Fatalf("mismatch: %d %q", status, msg)
	}
	if n := blobCount(t, m.Blobs, hex.EncodeToString(s256[:])); n != 0 {
		t.Fatalf("%d blobs after a refused upload", n)
	}
	if left, err := m.Blobs.TempUploads(); err != nil || len(left) != 0 {
		t.Fatalf("temporary uploads left: %v %v", left, err)
	}
	if status, msg := put(hex.EncodeToString(s1[:])); status != http.StatusCreated {
		t.Fatalf("match: %d %q", status, msg)
	}
	owner, err := m.Store.OwnerByName(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Store.FileByName(ctx, owner.ID, depot.TypeGeneric, "p", "1", "f.bin")
	if err != nil {
		t.Fatal(err)
	}
	if f.Blob.SHA1 != hex.EncodeToString(s1[:]) || f.Blob.MD5 == "" || f.Blob.SHA512 == "" {
		t.Errorf("recorded %+v: want every digest recorded with the file", f.Blob)
	}
}

func blobCount(t *testing.T, bs depot.BlobStore, sha string) int {
	t.Helper()
	n := 0
	if err := bs.Walk(t.Context(), func(s string) error {
		if s == sha {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
