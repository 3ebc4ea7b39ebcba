package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestStorageRedirect checks --storage-redirect: a GET answers 307 to a
// presigned URL that serves the bytes and ranges, while HEAD, conditional
// requests and refusals are answered by depot itself with the same headers
// as a streamed download.
func TestStorageRedirect(t *testing.T) {
	c := scaleOutConfig(t)
	c.DatabaseURL = "" // SQLite: the redirect concerns blob storage only
	c.StorageRedirect = true
	m := MustRunMain(t, c)
	ctx := context.Background()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: "red", Email: "red@example.com", Password: "redirect-password", Visibility: depot.Private}); err != nil {
		t.Fatal(err)
	}
	token, _, err := m.Service.CreateToken(ctx, "red", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("0123456789"), 10_000)
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	url := "http://" + m.Addr() + "/api/packages/red/generic/app/1.0/app.bin"

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer noFollow.CloseIdleConnections()
	do := func(method, url string, header map[string]string, body []byte) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	auth := map[string]string{"Authorization": "token " + token}
	if resp, msg := do(http.MethodPut, url, auth, content); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, msg)
	}

	resp, _ := do(http.MethodGet, url, auth, nil)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GET: %s, want 307", resp.Status)
	}
	for k, want := range map[string]string{"ETag": `"` + digest + `"`, "X-Checksum-SHA256": digest, "Content-Disposition": `attachment; filename=app.bin`} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("GET: %s = %q, want %q", k, got, want)
		}
	}
	link := resp.Header.Get("Location")
	if !strings.Contains(link, "X-Amz-Signature=") || !strings.Contains(link, "X-Amz-Expires=300") {
		t.Fatalf("Location %q is not a presigned URL valid for 5 minutes", link)
	}

	// The object store serves the bytes, ranges and the file name, without
	// depot's credentials.
	resp, got := do(http.MethodGet, link, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Errorf("GET presigned: %s, %d bytes; want 200 with the %d bytes put", resp.Status, len(got), len(content))
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "app.bin") {
		t.Errorf("GET presigned: Content-Disposition %q does not name the file", cd)
	}
	resp, got = do(http.MethodGet, link, map[string]string{"Range": "bytes=10-29"}, nil)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, content[10:30]) {
		t.Errorf("GET presigned with Range: %s %q, want 206 %q", resp.Status, got, content[10:30])
	}

	// Revalidation, HEAD and refusals never leave depot.
	resp, _ = do(http.MethodGet, url, map[string]string{"Authorization": "token " + token, "If-None-Match": `"` + digest + `"`}, nil)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET If-None-Match: %s, want 304", resp.Status)
	}
	resp, _ = do(http.MethodGet, url, map[string]string{"Authorization": "token " + token, "If-None-Match": `"other"`}, nil)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("GET If-None-Match of another tag: %s, want 307", resp.Status)
	}
	resp, _ = do(http.MethodHead, url, auth, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(content)) || resp.Header.Get("ETag") != `"`+digest+`"` {
		t.Errorf("HEAD: %s, length %d, ETag %q; want 200, %d, the digest", resp.Status, resp.ContentLength, resp.Header.Get("ETag"), len(content))
	}
	// Anonymous callers are challenged, never given a link.
	resp, _ = do(http.MethodGet, url, nil, nil)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous GET of a private owner's file: %s, Location %q; want a 401 challenge without a link", resp.Status, resp.Header.Get("Location"))
	}
}
