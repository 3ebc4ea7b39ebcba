package httpsuite

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// Checksums and verified uploads: declared digests checked (a mismatch
// stores nothing), Repr-Digest on downloads, deploy by checksum, and the
// identical-retry answer of a 409.

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sums(body []byte) (s256, s512, s1, m5 []byte) {
	a, b, c, d := sha256.Sum256(body), sha512.Sum512(body), sha1.Sum(body), md5.Sum(body)
	return a[:], b[:], c[:], d[:]
}

// mustNothingStored checks a refused upload left no file, no blob and no
// temporary upload behind.
func (fx *fixture) mustNothingStored(t *testing.T, path string, body []byte) {
	t.Helper()
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, path, basic("alice", pw), nil)
	if n := blobCount(t, fx.env.Blobs, sha(body)); n != 0 {
		t.Fatalf("%d blobs of the refused content left behind", n)
	}
	fx.mustNoTempUploads(t)
}

func (fx *fixture) testVerifiedUpload(t *testing.T) {
	a := basic("alice", pw)
	body := content("verified", 40<<10)
	s256, s512, s1, m5 := sums(body)
	wrong := content("wrong", 40<<10)
	w256, w512, w1, w5 := sums(wrong)
	for _, c := range []struct {
		name, header, good, bad string
		// alg, expected and actual as the mismatch answer names them.
		alg, expected, actual string
	}{
		{"X-Checksum-Sha256", "X-Checksum-Sha256", hex.EncodeToString(s256), hex.EncodeToString(w256), "sha256", hex.EncodeToString(w256), hex.EncodeToString(s256)},
		{"X-Checksum-Sha1", "X-Checksum-Sha1", hex.EncodeToString(s1), hex.EncodeToString(w1), "sha1", hex.EncodeToString(w1), hex.EncodeToString(s1)},
		{"X-Checksum-Md5", "X-Checksum-Md5", hex.EncodeToString(m5), hex.EncodeToString(w5), "md5", hex.EncodeToString(w5), hex.EncodeToString(m5)},
		{"Content-MD5", "Content-MD5", b64(m5), b64(w5), "md5", b64(w5), b64(m5)},
		{"Repr-Digest sha-256", "Repr-Digest", "sha-256=:" + b64(s256) + ":", "sha-256=:" + b64(w256) + ":", "sha256", "sha-256=:" + b64(w256) + ":", "sha-256=:" + b64(s256) + ":"},
		{"Repr-Digest sha-512", "Repr-Digest", "sha-512=:" + b64(s512) + ":", "sha-512=:" + b64(w512) + ":", "sha512", "sha-512=:" + b64(w512) + ":", "sha-512=:" + b64(s512) + ":"},
		{"Content-Digest", "Content-Digest", "sha-256=:" + b64(s256) + ":", "sha-256=:" + b64(w256) + ":", "sha256", "sha-256=:" + b64(w256) + ":", "sha-256=:" + b64(s256) + ":"},
		{"unknown beside known", "Repr-Digest", "sha-384=:AAAA:, sha-256=:" + b64(s256) + ":", "unixsum=1, sha-256=:" + b64(w256) + ":", "sha256", "sha-256=:" + b64(w256) + ":", "sha-256=:" + b64(s256) + ":"},
	} {
		t.Run(c.name, func(t *testing.T) {
			slug := strings.NewReplacer(" ", "-", ":", "").Replace(strings.ToLower(c.name))
			p := pkgPath("alice", "verified", slug, "f.bin")
			_, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, body, c.header, c.bad)
			for _, part := range []string{c.alg, c.expected, c.actual, c.header} {
				if !strings.Contains(string(msg), part) {
					t.Errorf("mismatch answer %q does not name %q", msg, part)
				}
			}
			fx.mustNothingStored(t, p, body)
			// The JSON answer has the digests as fields.
			_, js := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, body, c.header, c.bad, "Accept", "application/json")
			var got map[string]any
			if err := json.Unmarshal(js, &got); err != nil || got["algorithm"] != c.alg || got["expected"] != c.expected || got["actual"] != c.actual {
				t.Errorf("JSON mismatch answer %s (%v)", js, err)
			}
			fx.mustNothingStored(t, p, body)
			fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, body, c.header, c.good)
			fx.mustGetBody(t, p, a, body)
			fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, a, nil)
		})
	}
	t.Run("all at once", func(t *testing.T) {
		p := pkgPath("alice", "verified", "all", "f.bin")
		hdr := []string{"X-Checksum-Sha256", hex.EncodeToString(s256), "X-Checksum-Sha1", hex.EncodeToString(s1),
			"X-Checksum-Md5", hex.EncodeToString(m5), "Content-MD5", b64(m5),
			"Repr-Digest", "sha-256=:" + b64(s256) + ":, sha-512=:" + b64(s512) + ":"}
		// One wrong among right ones is refused.
		bad := append(append([]string{}, hdr...), "Content-Digest", "sha-512=:"+b64(w512)+":")
		fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, body, bad...)
		fx.mustNothingStored(t, p, body)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, body, hdr...)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, a, nil)
	})
	t.Run("malformed", func(t *testing.T) {
		p := pkgPath("alice", "verified", "malformed", "f.bin")
		for _, c := range []struct{ header, value, want string }{
			{"X-Checksum-Sha256", hex.EncodeToString(s256)[:63], "X-Checksum-Sha256"},
			{"X-Checksum-Sha256", hex.EncodeToString(s1), "X-Checksum-Sha256"},
			{"X-Checksum-Sha1", strings.Repeat("g", 40), "X-Checksum-Sha1"},
			{"X-Checksum-Md5", "", "X-Checksum-Md5"},
			{"Content-MD5", hex.EncodeToString(m5), "Content-MD5"},
			{"Repr-Digest", "sha-256=" + hex.EncodeToString(s256), "Repr-Digest"},
			{"Repr-Digest", "sha-256=:" + b64(s512) + ":", "Repr-Digest"},
			{"Repr-Digest", "sha-256=:" + b64(s256), "Repr-Digest"},
			{"Repr-Digest", "SHA-256=" + b64(s256), "Repr-Digest"},
			{"Content-Digest", "sha-256=:" + b64(s256) + ":,", "Content-Digest"},
			{"X-Checksum-Deploy", "yes", "X-Checksum-Deploy"},
		} {
			resp, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, body, c.header, c.value)
			if !strings.Contains(string(msg), c.want) {
				t.Errorf("%s: %q: answer %q does not name the header", c.header, c.value, msg)
			}
			if resp.Header.Get("Want-Repr-Digest") != "" {
				t.Errorf("%s: %q: a malformed field got Want-Repr-Digest", c.header, c.value)
			}
		}
		fx.mustNothingStored(t, p, body)
	})
	t.Run("unsupported algorithms only", func(t *testing.T) {
		p := pkgPath("alice", "verified", "unsupported", "f.bin")
		for _, c := range []struct{ header, value, want string }{
			{"Repr-Digest", "sha-384=:" + b64(s512[:48]) + ":", "Want-Repr-Digest"},
			{"Repr-Digest", "md5=:" + b64(m5) + ":, sha=:" + b64(s1) + ":", "Want-Repr-Digest"},
			{"Content-Digest", "crc32c=:AAAAAA==:", "Want-Content-Digest"},
		} {
			resp, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, body, c.header, c.value)
			if got := resp.Header.Get(c.want); !strings.Contains(got, "sha-256=") {
				t.Errorf("%s: %q: %s = %q, want the algorithms depot verifies", c.header, c.value, c.want, got)
			}
			if !strings.Contains(string(msg), "sha-256") || !strings.Contains(string(msg), c.header) {
				t.Errorf("%s: %q: answer %q", c.header, c.value, msg)
			}
		}
		fx.mustNothingStored(t, p, body)
	})
	t.Run("multipart", func(t *testing.T) {
		p := pkgPath("alice", "verified", "multipart", "f.bin")
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile("file", "f.bin")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(body)
		mw.Close()
		ct := mw.FormDataContentType()
		// X-Checksum-* describe the file the envelope carries...
		fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, buf.Bytes(), "Content-Type", ct, "X-Checksum-Sha256", hex.EncodeToString(w256))
		fx.mustNothingStored(t, p, body)
		// ...the message digests would describe the envelope: refused.
		_, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, buf.Bytes(), "Content-Type", ct, "Repr-Digest", "sha-256=:"+b64(s256)+":")
		if !strings.Contains(string(msg), "envelope") {
			t.Errorf("Repr-Digest on a multipart upload: %q", msg)
		}
		fx.mustNothingStored(t, p, body)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, buf.Bytes(), "Content-Type", ct, "X-Checksum-Sha256", hex.EncodeToString(s256))
		fx.mustGetBody(t, p, a, body)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, a, nil)
	})
	t.Run("large", func(t *testing.T) {
		// Over one copy chunk: the pipelined hashing path.
		big := content("verified-large", 3<<20)
		b256, _, b1, _ := sums(big)
		p := pkgPath("alice", "verified", "large", "f.bin")
		fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, big, "X-Checksum-Sha1", hex.EncodeToString(w1))
		fx.mustNothingStored(t, p, big)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, big, "X-Checksum-Sha1", hex.EncodeToString(b1), "X-Checksum-Sha256", hex.EncodeToString(b256))
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, a, nil)
	})
}

func (fx *fixture) testReprDigest(t *testing.T) {
	a := basic("alice", pw)
	body := content("repr", 30<<10)
	s256, s512, _, _ := sums(body)
	p := pkgPath("alice", "repr", "1.0", "f.bin")
	fx.mustPut(t, p, body)
	f256, f512 := "sha-256=:"+b64(s256)+":", "sha-512=:"+b64(s512)+":"
	for _, c := range []struct {
		name, want, got string
		hdr             []string
	}{
		{"default", "", f256, nil},
		{"sha-512 preferred", "sha-512=10", f512, nil},
		{"both, sha-512 first", "sha-256=2, sha-512=9", f512 + ", " + f256, nil},
		{"both, sha-256 first", "sha-256=9, sha-512=2", f256 + ", " + f512, nil},
		{"unsupported asked", "sha=10", f256, nil},
		{"sha-256 refused", "sha-256=0, sha-512=1", f512, nil},
		{"range", "", f256, []string{"Range", "bytes=10-19"}},
		{"conditional", "", f256, []string{"If-None-Match", `"` + sha(body) + `"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				hdr := append([]string{}, c.hdr...)
				if c.want != "" {
					hdr = append(hdr, "Want-Repr-Digest", c.want)
				}
				resp, got := fx.do(t, m, p, a, nil, hdr...)
				if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
					t.Fatalf("%s: %d %s", m, resp.StatusCode, got)
				}
				if rd := resp.Header.Get("Repr-Digest"); rd != c.got {
					t.Errorf("%s %d: Repr-Digest %q, want %q", m, resp.StatusCode, rd, c.got)
				}
				if resp.Header.Get("X-Checksum-SHA256") != sha(body) {
					t.Errorf("%s: X-Checksum-SHA256 %q", m, resp.Header.Get("X-Checksum-SHA256"))
				}
				if cd := resp.Header.Get("Content-Digest"); cd != "" {
					t.Errorf("%s: Content-Digest %q sent", m, cd)
				}
				if len(c.hdr) > 0 && c.hdr[0] == "Range" && m == http.MethodGet && resp.StatusCode != http.StatusPartialContent {
					t.Errorf("range: status %d", resp.StatusCode)
				}
			}
		})
	}
	// What a download says is what a verified upload accepts.
	resp, _ := fx.mustStatus(t, http.StatusOK, http.MethodHead, p, a, nil, "Want-Repr-Digest", "sha-512=1, sha-256=1")
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("alice", "repr", "2.0", "f.bin"), a, body, "Repr-Digest", resp.Header.Get("Repr-Digest"))
}

func (fx *fixture) testIdenticalRetry(t *testing.T) {
	a := basic("alice", pw)
	body := content("retry", 20<<10)
	p := pkgPath("alice", "retry", "1.0", "f.bin")
	fx.mustPut(t, p, body)
	other := content("retry-other", 20<<10)
	for _, c := range []struct {
		name      string
		body      []byte
		hdr       []string
		identical string
	}{
		{"same bytes", body, nil, "true"},
		{"same bytes as JSON", body, []string{"Accept", "application/json"}, "true"},
		{"same size, other bytes", other, nil, "false"},
		{"other size", body[:100], nil, "false"},
		{"declared sha256, same", body, []string{"X-Checksum-Sha256", sha(body)}, "true"},
		{"declared sha256, other", other, []string{"X-Checksum-Sha256", sha(other)}, "false"},
		{"declared md5, same", body, []string{"Content-MD5", func() string { _, _, _, m := sums(body); return b64(m) }()}, "true"},
		{"deploy, same", nil, []string{"X-Checksum-Deploy", "true", "X-Checksum-Sha256", sha(body)}, "true"},
		{"deploy, other", nil, []string{"X-Checksum-Deploy", "true", "X-Checksum-Sha256", sha(other)}, "false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, msg := fx.mustStatus(t, http.StatusConflict, http.MethodPut, p, a, c.body, c.hdr...)
			if got := resp.Header.Get("X-Depot-Identical"); got != c.identical {
				t.Errorf("X-Depot-Identical %q, want %q", got, c.identical)
			}
			if got := resp.Header.Get("X-Depot-Existing-Sha256"); got != sha(body) {
				t.Errorf("X-Depot-Existing-Sha256 %q, want the stored sha256", got)
			}
			word := map[string]string{"true": "identical content", "false": "different content"}[c.identical]
			if !strings.Contains(string(msg), word) {
				t.Errorf("body %q does not say %q", msg, word)
			}
			if len(c.hdr) > 0 && c.hdr[0] == "Accept" {
				var got map[string]any
				if err := json.Unmarshal(msg, &got); err != nil || got["identical"] != true || got["existing_sha256"] != sha(body) {
					t.Errorf("JSON body %s (%v)", msg, err)
				}
			}
		})
	}
	fx.mustGetBody(t, p, a, body)
}

func (fx *fixture) testDeployByChecksum(t *testing.T) {
	ctx := context.Background()
	secret := content("deploy-secret", 50<<10)
	s256, _, s1, _ := sums(secret)
	w256, _, w1, _ := sums(content("deploy-nothing", 10))
	src := pkgPath(privOrg, "deploy-src", "1.0", "secret.bin")
	fx.mustPut(t, src, secret)
	dep := func(sha256hex string, extra ...string) []string {
		return append([]string{"X-Checksum-Deploy", "true", "X-Checksum-Sha256", sha256hex}, extra...)
	}
	dave := basic("dave", pw)
	carol := basic("carol", pw)

	t.Run("not readable: 404", func(t *testing.T) {
		// dave may not read secretco: its content is not his to deploy,
		// and the answer is the one for content nobody stored.
		p := pkgPath("dave", "deploy", "1.0", "secret.bin")
		_, msg := fx.mustStatus(t, http.StatusNotFound, http.MethodPut, p, dave, nil, dep(hex.EncodeToString(s256))...)
		_, none := fx.mustStatus(t, http.StatusNotFound, http.MethodPut, p, dave, nil, dep(hex.EncodeToString(w256))...)
		if strings.Contains(string(msg), privOrg) || strings.ReplaceAll(string(msg), hex.EncodeToString(s256), "X") != strings.ReplaceAll(string(none), hex.EncodeToString(w256), "X") {
			t.Errorf("the answers for unreadable content %q and for unknown content %q differ", msg, none)
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, dave, nil)
		// He uploads normally then.
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, dave, secret, "X-Checksum-Sha256", hex.EncodeToString(s256))
		fx.mustGetBody(t, p, dave, secret)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, dave, nil)
	})
	t.Run("readable: 201 without a body", func(t *testing.T) {
		p := pkgPath("carol", "deploy", "1.0", "copy.bin")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, carol, nil, dep(hex.EncodeToString(s256), "X-Checksum-Sha1", hex.EncodeToString(s1))...)
		fx.mustGetBody(t, p, carol, secret)
		if n := blobCount(t, fx.env.Blobs, hex.EncodeToString(s256)); n != 1 {
			t.Errorf("%d blobs after a deploy, want the one shared", n)
		}
		// The copy outlives its source.
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, src, basic("alice", pw), nil)
		fx.mustGetBody(t, p, carol, secret)
		fx.mustPut(t, src, secret)
		// Files a listing shows, with the digests of the content.
		files, err := fx.env.Service.VersionFiles(ctx, nil, depot.VersionRef{Owner: "carol", Type: depot.TypeGeneric, Package: "deploy", Version: "1.0"})
		if err == nil && (len(files) != 1 || files[0].Blob.SHA256 != hex.EncodeToString(s256) || files[0].Blob.Size != int64(len(secret))) {
			t.Errorf("listing after a deploy: %+v", files)
		}
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, carol, nil)
	})
	t.Run("public content: anyone with write access", func(t *testing.T) {
		pub := content("deploy-public", 5000)
		fx.mustPut(t, pkgPath(pubOrg, "deploy-pub", "1.0", "pub.bin"), pub)
		p := pkgPath("dave", "deploy", "2.0", "pub.bin")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, dave, nil, dep(sha(pub))...)
		fx.mustGetBody(t, p, dave, pub)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, dave, nil)
	})
	t.Run("limits apply", func(t *testing.T) {
		// Quotas and immutable versions hold as for a PUT with the body.
		if _, err := fx.env.Service.CreateUser(ctx, depot.NewUser{Username: "duser", Email: "duser@example.com", Password: pw}); err != nil {
			t.Fatal(err)
		}
		u := basic("duser", pw)
		pub := content("deploy-limits", 5000)
		fx.mustPut(t, pkgPath(pubOrg, "deploy-pub", "1.0", "limits.bin"), pub)
		fx.setQuota(t, "duser", `{"max_file_size": 1000}`)
		_, msg := fx.mustStatus(t, http.StatusForbidden, http.MethodPut, pkgPath("duser", "app", "1.0", "big.bin"), u, nil, dep(sha(pub))...)
		if !strings.Contains(string(msg), "1000 bytes") {
			t.Errorf("deploy over the file limit: %q", msg)
		}
		fx.setQuota(t, "duser", `{"max_file_size": -1, "max_size": 6000}`)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("duser", "app", "1.0", "one.bin"), u, nil, dep(sha(pub))...)
		fx.mustStatus(t, http.StatusForbidden, http.MethodPut, pkgPath("duser", "app", "1.0", "two.bin"), u, nil, dep(sha(pub))...)
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath("duser", "app", "1.0", "two.bin"), u, nil)
		fx.setQuota(t, "duser", `{"max_size": -1}`)
		fx.mustStatus(t, http.StatusOK, http.MethodPut, "/api/depot/owners/duser/settings", u, []byte(`{"immutable_versions": true, "immutable_grace_seconds": 0}`))
		_, msg = fx.mustStatus(t, http.StatusConflict, http.MethodPut, pkgPath("duser", "app", "1.0", "three.bin"), u, nil, dep(sha(pub))...)
		if !strings.Contains(string(msg), "immutable") {
			t.Errorf("deploy into a sealed version: %q", msg)
		}
		fx.mustStatus(t, http.StatusOK, http.MethodPut, "/api/depot/owners/duser/settings", u, []byte(`{"immutable_versions": false}`))
	})
	t.Run("refusals", func(t *testing.T) {
		p := pkgPath("carol", "deploy", "3.0", "copy.bin")
		// Another declared digest that does not match the content.
		_, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, carol, nil, dep(hex.EncodeToString(s256), "X-Checksum-Sha1", hex.EncodeToString(w1))...)
		if !strings.Contains(string(msg), hex.EncodeToString(w1)) || !strings.Contains(string(msg), hex.EncodeToString(s1)) {
			t.Errorf("sha1 mismatch on deploy: %q", msg)
		}
		// Only a sha1: depot finds content by sha256.
		fx.mustStatus(t, http.StatusNotFound, http.MethodPut, p, carol, nil, "X-Checksum-Deploy", "true", "X-Checksum-Sha1", hex.EncodeToString(s1))
		// A body besides, declared or chunked.
		fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, carol, secret, dep(hex.EncodeToString(s256))...)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, fx.url(p), io.MultiReader(bytes.NewReader(secret)))
		if err != nil {
			t.Fatal(err)
		}
		for i, h := 0, dep(hex.EncodeToString(s256)); i < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		carol(req)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("chunked deploy with a body: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, carol, nil)
		// Read access is not write access.
		fx.mustStatus(t, http.StatusForbidden, http.MethodPut, pkgPath(privOrg, "deploy", "1.0", "x.bin"), basic("bob", pw), nil, dep(hex.EncodeToString(s256))...)
		// X-Checksum-Deploy: false is a plain upload.
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, carol, secret, "X-Checksum-Deploy", "false")
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, p, carol, nil)
		fx.mustNoTempUploads(t)
	})
}

// testGitLabChecksums: the GitLab dialect checks the same headers, answers
// a mismatch 400 in GitLab's body style, deploys by checksum, and marks a
// refused duplicate with X-Depot-Identical.
func (fx *fixture) testGitLabChecksums(t *testing.T) {
	ctx := context.Background()
	if _, err := fx.env.Service.CreateProject(ctx, "alice", "sums", depot.Private); err != nil {
		t.Fatal(err)
	}
	tok := func(r *http.Request) { r.Header.Set("PRIVATE-TOKEN", fx.tok["alice-write"]) }
	gl := func(version, file string) string {
		return "/api/v4/projects/alice%2Fsums/packages/generic/glsums/" + version + "/" + file
	}
	body := content("gitlab-sums", 10<<10)
	s256, _, _, _ := sums(body)
	w256, _, _, _ := sums(content("gitlab-wrong", 1))
	_, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, gl("1.0", "f.bin"), tok, body, "X-Checksum-Sha256", hex.EncodeToString(w256))
	var got map[string]any
	if err := json.Unmarshal(msg, &got); err != nil || !strings.HasPrefix(got["message"].(string), "400 Bad request - ") ||
		got["expected"] != hex.EncodeToString(w256) || got["actual"] != hex.EncodeToString(s256) {
		t.Errorf("GitLab mismatch answer %s (%v)", msg, err)
	}
	fx.mustNothingStored(t, pkgPath("alice", "glsums", "1.0", "f.bin"), body)
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl("1.0", "f.bin"), tok, body, "Repr-Digest", "sha-256=:"+b64(s256)+":")
	resp, _ := fx.mustStatus(t, http.StatusOK, http.MethodGet, gl("1.0", "f.bin"), tok, nil)
	if resp.Header.Get("Repr-Digest") != "sha-256=:"+b64(s256)+":" {
		t.Errorf("GitLab download Repr-Digest %q", resp.Header.Get("Repr-Digest"))
	}
	// Deploy by checksum on the GitLab route.
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl("2.0", "f.bin"), tok, nil, "X-Checksum-Deploy", "true", "X-Checksum-Sha256", hex.EncodeToString(s256))
	fx.mustGetBody(t, pkgPath("alice", "glsums", "2.0", "f.bin"), basic("alice", pw), body)
	fx.mustStatus(t, http.StatusNotFound, http.MethodPut, gl("3.0", "f.bin"), tok, nil, "X-Checksum-Deploy", "true", "X-Checksum-Sha256", hex.EncodeToString(w256))
	// Duplicates refused: GitLab's 400, X-Depot-Identical says which.
	if err := fx.env.Service.SetPackageSettings(ctx, "alice", false, ""); err != nil {
		t.Fatal(err)
	}
	defer fx.env.Service.SetPackageSettings(ctx, "alice", true, "")
	for _, c := range []struct {
		body      []byte
		identical string
	}{{body, "true"}, {content("gitlab-other", 10<<10), "false"}} {
		resp, msg := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, gl("1.0", "f.bin"), tok, c.body)
		if resp.Header.Get("X-Depot-Identical") != c.identical || !strings.Contains(string(msg), "Duplicate package is not allowed") {
			t.Errorf("duplicate: X-Depot-Identical %q, want %q; %s", resp.Header.Get("X-Depot-Identical"), c.identical, msg)
		}
	}
}
