package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// TestDeferredDigests uploads a file large enough that the server computes
// its md5, sha1 and sha512 after answering: CompleteDigests returns them at
// once, and the store has them soon after.
func TestDeferredDigests(t *testing.T) {
	m := MustRunMain(t, Config{})
	ctx := t.Context()
	token, body := mustPublishRandom(t, m, "dig", "p/1/f.bin", 9<<20+123)

	m5, s1, s256, s512 := md5.Sum(body), sha1.Sum(body), sha256.Sum256(body), sha512.Sum512(body)
	want := depot.Blob{MD5: hex.EncodeToString(m5[:]), SHA1: hex.EncodeToString(s1[:]),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:]), Size: int64(len(body))}
	// The v1 files listing shows them right away too.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Addr()+"/api/v1/packages/dig/generic/p/1/files", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var files []struct{ MD5, SHA1, SHA256, SHA512 string }
	err = json.NewDecoder(resp.Body).Decode(&files)
	resp.Body.Close()
	if err != nil || len(files) != 1 {
		t.Fatalf("files listing: %v, %d files", err, len(files))
	}
	if f := files[0]; f.MD5 != want.MD5 || f.SHA1 != want.SHA1 || f.SHA256 != want.SHA256 || f.SHA512 != want.SHA512 {
		t.Errorf("files listing shows %+v, want the digests of %+v", f, want)
	}
	owner, err := m.Store.OwnerByName(ctx, "dig")
	if err != nil {
		t.Fatal(err)
	}
	lookup := func() depot.Blob {
		t.Helper()
		f, err := m.Store.FileByName(ctx, owner.ID, depot.TypeGeneric, "p", "1", "f.bin")
		if err != nil {
			t.Fatal(err)
		}
		b := f.Blob
		b.CreatedAt = time.Time{}
		return b
	}
	b := lookup()
	if b.SHA256 != want.SHA256 || b.Size != want.Size {
		t.Fatalf("recorded sha256 %s size %d, want %s %d", b.SHA256, b.Size, want.SHA256, want.Size)
	}
	if err := m.Service.CompleteDigests(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if b != want {
		t.Errorf("CompleteDigests: %+v, want %+v", b, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b = lookup(); b.MD5 == "" && time.Now().Before(deadline); b = lookup() {
		time.Sleep(20 * time.Millisecond)
	}
	if b != want {
		t.Errorf("recorded digests: %+v, want %+v", b, want)
	}
}

// mustUserToken creates user (password user-password) and returns a
// write:package token of it.
func mustUserToken(t *testing.T, m *Main, user string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: user, Email: user + "@example.com", Password: user + "-password"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := m.Service.CreateToken(ctx, user, "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// mustPublishRandom creates user with a write token and uploads size random
// bytes (seeded by the user name) to /api/packages/<user>/generic/<path>
// through the Gitea dialect, returning the token and the bytes.
func mustPublishRandom(t *testing.T, m *Main, user, path string, size int) (string, []byte) {
	t.Helper()
	ctx := t.Context()
	token := mustUserToken(t, m, user)
	var seed [32]byte
	copy(seed[:], user)
	body := make([]byte, size)
	rand.NewChaCha8(seed).Read(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+m.Addr()+"/api/packages/"+user+"/generic/"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %s, want 201", resp.Status)
	}
	return token, body
}
