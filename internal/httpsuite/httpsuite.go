// Package httpsuite is the end-to-end HTTP suite: real HTTP requests against
// a real depot server on loopback, covering every status of the Gitea
// generic packages API, the auth matrix, deduplication, concurrency and
// interrupted uploads. Every backend combination runs it.
package httpsuite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Env is a running server and the handles the suite needs to set it up and
// to look behind the API.
type Env struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:41234.
	BaseURL string
	// Service is the server's domain service, used to create accounts.
	Service *depot.Service
	// Blobs is the server's blob store, used to check deduplication.
	Blobs depot.BlobStore
	// Inline is the server's metadata store, used to check which blobs
	// it keeps inline (the server's default limit, 16 KiB or more).
	Inline depot.InlineStore
	// MaxUploadSize is the server's limit; the suite needs one of at least
	// 1 MiB and at most 64 MiB.
	MaxUploadSize int64
	// TempUploads lists uploads in progress in blob storage (temporary
	// files or objects); after every request ends it must be empty.
	TempUploads func() ([]string, error)
}

// Fixture names.
const (
	pubOrg  = "pubco"
	privOrg = "secretco"
	pw      = "correct-horse"
)

// fixture holds the accounts the suite creates.
type fixture struct {
	env *Env
	// tokens by name
	tok map[string]string
}

// Run runs the suite against env.
func Run(t *testing.T, env *Env) {
	if env.MaxUploadSize < 1<<20 || env.MaxUploadSize > 64<<20 {
		t.Fatalf("httpsuite needs a MaxUploadSize between 1 MiB and 64 MiB, got %d", env.MaxUploadSize)
	}
	fx := setup(t, env)
	t.Run("UploadDownload", fx.testUploadDownload)
	t.Run("DownloadHeaders", fx.testDownloadHeaders)
	t.Run("Validation", fx.testValidation)
	t.Run("Conflict", fx.testConflict)
	t.Run("AnyContentType", fx.testAnyContentType)
	t.Run("Multipart", fx.testMultipart)
	t.Run("AuthSchemes", fx.testAuthSchemes)
	t.Run("AuthMatrix", fx.testAuthMatrix)
	t.Run("Delete", fx.testDelete)
	t.Run("NotFound", fx.testNotFound)
	t.Run("TooLarge", fx.testTooLarge)
	t.Run("DecidedBeforeBody", fx.testDecidedBeforeBody)
	t.Run("Dedup", fx.testDedup)
	t.Run("ConcurrentSameFile", fx.testConcurrentSameFile)
	t.Run("ConcurrentNewVersion", fx.testConcurrentNewVersion)
	t.Run("InterruptedUpload", fx.testInterruptedUpload)
	t.Run("ErrorFormats", fx.testErrorFormats)
	t.Run("Quota", fx.testQuota)
	t.Run("Immutable", fx.testImmutable)
	t.Run("Latest", fx.testLatest)
	t.Run("Archive", fx.testArchive)
	t.Run("Audit", fx.testAudit)
	t.Run("Cleanup", fx.testCleanup)
	t.Run("Resumable", fx.testResumable)
	t.Run("VerifiedUpload", fx.testVerifiedUpload)
	t.Run("ReprDigest", fx.testReprDigest)
	t.Run("IdenticalRetry", fx.testIdenticalRetry)
	t.Run("DeployByChecksum", fx.testDeployByChecksum)
	t.Run("Inline", fx.testInline)
	t.Run("GitLabChecksums", fx.testGitLabChecksums)
	t.Run("NoLeftovers", func(t *testing.T) { fx.mustNoTempUploads(t) })
}

func setup(t *testing.T, env *Env) *fixture {
	t.Helper()
	ctx := context.Background()
	svc := env.Service
	fx := &fixture{env: env, tok: map[string]string{}}
	for _, u := range []struct {
		name  string
		admin bool
	}{{"alice", false}, {"bob", false}, {"carol", false}, {"dave", false}, {"root", true}} {
		if _, err := svc.CreateUser(ctx, depot.NewUser{Username: u.name, Email: u.name + "@example.com", Password: pw, Admin: u.admin}); err != nil {
			t.Fatalf("create user %s: %v", u.name, err)
		}
	}
	for _, o := range []struct {
		name string
		vis  depot.Visibility
	}{{pubOrg, depot.Public}, {privOrg, depot.Private}} {
		if _, err := svc.CreateOrg(ctx, o.name, "alice", o.vis); err != nil {
			t.Fatalf("create org %s: %v", o.name, err)
		}
		for user, role := range map[string]depot.Role{"bob": depot.AccessRead, "carol": depot.AccessWrite} {
			if err := svc.SetMember(ctx, o.name, user, role); err != nil {
				t.Fatalf("add %s to %s: %v", user, o.name, err)
			}
		}
	}
	for _, tk := range []struct{ name, user, scopes string }{
		{"alice-write", "alice", "write:package"},
		{"alice-read", "alice", "read:package"},
		{"alice-user", "alice", "read:user"},
		{"alice-all", "alice", "all"},
		{"bob-read", "bob", "read:package"},
		{"carol-write", "carol", "write:package"},
		{"dave-write", "dave", "write:package"},
	} {
		scopes, err := depot.ParseScopes(tk.scopes)
		if err != nil {
			t.Fatal(err)
		}
		secret, _, err := svc.CreateToken(ctx, tk.user, tk.name, scopes, nil)
		if err != nil {
			t.Fatalf("create token %s: %v", tk.name, err)
		}
		fx.tok[tk.name] = secret
	}
	return fx
}

// auth describes how a request authenticates.
type auth func(*http.Request)

func anon() auth { return func(*http.Request) {} }

func basic(user, pass string) auth {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

func header(value string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", value) }
}

func (fx *fixture) url(path string) string { return fx.env.BaseURL + path }

func pkgPath(owner, name, version, file string) string {
	p := "/api/packages/" + owner + "/generic/" + name + "/" + version
	if file != "" {
		p += "/" + file
	}
	return p
}

// do sends a request and returns the response with its body read.
func (fx *fixture) do(t *testing.T, method, path string, a auth, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return fx.doCtx(t, ctx, method, path, a, body, hdr...)
}

// doCtx is do within ctx (a deadline, a client trace).
func (fx *fixture) doCtx(t *testing.T, ctx context.Context, method, path string, a auth, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = fx.url(path)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	a(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, got
}

// mustStatus sends a request and fails unless it gets want.
func (fx *fixture) mustStatus(t *testing.T, want int, method, path string, a auth, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, got := fx.do(t, method, path, a, body, hdr...)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %.300s", method, path, resp.StatusCode, want, got)
	}
	return resp, got
}

func (fx *fixture) mustPut(t *testing.T, path string, body []byte) {
	t.Helper()
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, path, basic("alice", fx.tok["alice-all"]), body)
}

func (fx *fixture) mustGetBody(t *testing.T, path string, a auth, want []byte) {
	t.Helper()
	_, got := fx.mustStatus(t, http.StatusOK, http.MethodGet, path, a, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("GET %s: got %d bytes (sha256 %s), want %d bytes (sha256 %s)", path, len(got), sha(got), len(want), sha(want))
	}
}

func (fx *fixture) mustNoTempUploads(t *testing.T) {
	t.Helper()
	// The server may still be cleaning up after a request whose client left.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left, err := fx.env.TempUploads()
		if err != nil {
			t.Fatalf("list temporary uploads: %v", err)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporary uploads left behind: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// content returns n deterministic bytes that differ by seed.
func content(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	block := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

func blobCount(t *testing.T, bs depot.BlobStore, digest string) int {
	t.Helper()
	n := 0
	err := bs.Walk(context.Background(), func(d string) error {
		if d == digest {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk blobs: %v", err)
	}
	return n
}

func mustContain(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s = %q, want it to contain %q", what, got, want)
	}
}
