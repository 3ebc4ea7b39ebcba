package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestWebVersionPageDeferredDigests checks that the version page of a large
// file, whose md5, sha1 and sha512 the server computes after the upload,
// shows them on demand (?digests=all), never empty.
func TestWebVersionPageDeferredDigests(t *testing.T) {
	m := MustRunMain(t, Config{})
	ctx := t.Context()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: "big", Email: "big@example.com", Password: "big-password"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := m.Service.CreateToken(ctx, "big", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 9<<20+7)
	rand.NewChaCha8([32]byte{'w', 'e', 'b'}).Read(body)
	base := "http://" + m.Addr()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/packages/big/generic/p/1/f.bin", bytes.NewReader(body))
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %s", resp.Status)
	}
	resp, err = http.Get(base + "/big/-/packages/generic/p/1?digests=all")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m5, s512 := md5.Sum(body), sha512.Sum512(body)
	for _, want := range []string{hex.EncodeToString(m5[:]), hex.EncodeToString(s512[:])} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the version page (%s) lacks digest %s", resp.Status, want)
		}
	}
}
