package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestInlineRedirect: with --storage-redirect a blob kept inside the
// metadata database has no URL of the object store, so depot serves it
// itself (200 with the bytes and a streamed download's headers, ranges
// too), on the Gitea and the GitLab routes; a large blob is still a 307.
func TestInlineRedirect(t *testing.T) {
	c := scaleOutConfig(t)
	c.StorageRedirect = true
	m := MustRunMain(t, c)
	fx := newDamageFixture(t, m)
	ctx := context.Background()
	small, large := randomBytes(2000, 7), randomBytes(100<<10, 8)
	fx.put(t, "i/1/small.bin", small)
	fx.put(t, "i/1/large.bin", large)
	if _, err := m.Blobs.Stat(ctx, digestOf(small)); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("the small blob is in the object store (%v): want it kept inline", err)
	}
	if _, err := m.Store.InlineBlob(ctx, digestOf(small)); err != nil {
		t.Errorf("InlineBlob(small): %v", err)
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer noFollow.CloseIdleConnections()
	get := func(path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	auth := []string{"Authorization", "token " + fx.token}
	resp, body := get("/api/packages/dmg/generic/i/1/small.bin", auth...)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
		t.Fatalf("GET of an inline blob with --storage-redirect: %s, %d bytes; want 200 with the bytes", resp.Status, len(body))
	}
	for k, want := range map[string]string{"ETag": `"` + digestOf(small) + `"`, "X-Checksum-SHA256": digestOf(small), "Content-Disposition": "attachment; filename=small.bin"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("GET of an inline blob: %s = %q, want %q", k, got, want)
		}
	}
	if resp, body := get("/api/packages/dmg/generic/i/1/small.bin", append(auth, "Range", "bytes=5-9")...); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, small[5:10]) {
		t.Errorf("Range of an inline blob: %s %q", resp.Status, body)
	}
	if resp, _ := get("/api/packages/dmg/generic/i/1/large.bin", auth...); resp.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(resp.Header.Get("Location"), digestOf(large)) {
		t.Errorf("GET of a large blob: %s, Location %q; want a 307 to the object", resp.Status, resp.Header.Get("Location"))
	}

	// The GitLab dialect: an upload kept inline, downloaded the same way.
	if _, err := m.Service.CreateProject(ctx, "dmg", "proj", ""); err != nil {
		t.Fatal(err)
	}
	actor, err := m.Service.Authenticate(ctx, depot.Credentials{Token: fx.token})
	if err != nil {
		t.Fatal(err)
	}
	ref := depot.GitLabFileRef{Project: "dmg/proj", Package: "gl", Version: "1.0", Path: "small.bin"}
	if _, err := m.Service.UploadGitLabFile(ctx, actor, ref, depot.GitLabUpload{Size: int64(len(small))}, bytes.NewReader(small)); err != nil {
		t.Fatalf("UploadGitLabFile: %v", err)
	}
	if resp, body := get("/api/v4/projects/dmg%2Fproj/packages/generic/gl/1.0/small.bin", "Private-Token", fx.token); resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
		t.Errorf("GitLab GET of an inline blob with --storage-redirect: %s, %d bytes; want 200 with the bytes", resp.Status, len(body))
	}
}

// TestInlineRepair: a blob kept inline whose bytes rot in the database is
// refused (500) and reported by verify; uploading the content again
// replaces the bytes in place, and downloads and verify pass again.
func TestInlineRepair(t *testing.T) {
	m := MustRunMain(t, Config{})
	fx := newDamageFixture(t, m)
	small := randomBytes(3000, 9)
	fx.put(t, "r/1/small.bin", small)
	d := newStoredDamager(m, diskDamager{})
	if _, _, ok := d.inline(t, digestOf(small)); !ok {
		t.Fatal("the small blob is not kept inline")
	}
	rotten := bytes.Clone(small)
	rotten[100] ^= 1
	d.overwrite(t, digestOf(small), rotten)
	fx.want(t, "r/1/small.bin", "", http.StatusInternalServerError, internalError)
	if code, out, _ := runCLI(t, nil, verifyArgs(m)...); code != exitDamaged || !strings.Contains(out, "corrupt sha256:"+digestOf(small)) {
		t.Fatalf("verify of a rotten inline blob: exit %d, %s", code, out)
	}
	if err := m.Service.RefreshDamage(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.put(t, "r/2/again.bin", small)
	fx.want(t, "r/1/small.bin", "", http.StatusOK, small)
	fx.want(t, "r/1/small.bin", "bytes=0-9", http.StatusPartialContent, small[:10])
	if code, out, _ := runCLI(t, nil, verifyArgs(m, "--sample", "100%")...); code != 0 || !strings.Contains(out, "1 intact") {
		t.Errorf("verify after the repair: exit %d, %s", code, out)
	}
}

// TestInlineOff: with inline storage off (--inline-max 0) a small upload
// goes to blob storage, and the blobs kept inline before stay readable
// (they are looked up inline whatever the setting).
func TestInlineOff(t *testing.T) {
	on := MustRunMain(t, Config{})
	fx := newDamageFixture(t, on)
	before := randomBytes(1000, 10)
	fx.put(t, "o/1/before.bin", before)
	ctx := context.Background()
	if _, err := on.Store.InlineBlob(ctx, digestOf(before)); err != nil {
		t.Fatalf("InlineBlob with the default limit: %v", err)
	}

	c := on.Config
	c.Addr, c.InlineBlobMax = "", -1
	off := MustRunMain(t, c)
	fx.m = off
	after := randomBytes(1000, 11)
	fx.put(t, "o/1/after.bin", after)
	if _, err := off.Store.InlineBlob(ctx, digestOf(after)); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("InlineBlob with inline storage off: %v, want ErrNotFound", err)
	}
	if n, err := off.Blobs.Stat(ctx, digestOf(after)); err != nil || n != int64(len(after)) {
		t.Errorf("blob storage with inline storage off: %d bytes, %v; want the upload there", n, err)
	}
	fx.want(t, "o/1/after.bin", "", http.StatusOK, after)
	fx.want(t, "o/1/before.bin", "", http.StatusOK, before)
	fx.want(t, "o/1/before.bin", "bytes=1-3", http.StatusPartialContent, before[1:4])
}
