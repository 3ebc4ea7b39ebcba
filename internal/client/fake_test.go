package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// oldGitea is an extra, in-memory stand-in for a Gitea older than 1.24 (the
// real server is tested end to end in cmd/depot): no per-package version
// listing (404), downloads without X-Checksum-SHA256 or a sha256 ETag, and
// two 503s before the first download answer.
func oldGitea(t *testing.T, body, served []byte) (*httptest.Server, *atomic.Int32) {
	sum := sha256.Sum256(body)
	var gets atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/packages/acme", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") != "app" || r.URL.Query().Get("type") != "generic" {
			t.Errorf("owner listing query %q", r.URL.RawQuery)
		}
		json.NewEncoder(w).Encode([]map[string]any{
			{"owner": map[string]any{"login": "acme"}, "type": "generic", "name": "app", "version": "1.2.0", "created_at": time.Unix(1, 0)},
			{"owner": map[string]any{"login": "acme"}, "type": "generic", "name": "app-extra", "version": "1.9.0", "created_at": time.Unix(3, 0)},
			{"owner": map[string]any{"login": "acme"}, "type": "generic", "name": "app", "version": "1.3.0", "created_at": time.Unix(2, 0)},
		})
	})
	mux.HandleFunc("GET /api/v1/packages/acme/generic/app/{version}/files", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("version") != "1.3.0" {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode([]map[string]any{{"name": "app.bin", "size": len(body), "sha256": hex.EncodeToString(sum[:])}})
	})
	mux.HandleFunc("GET /api/packages/acme/generic/app/1.3.0/app.bin", func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write(served)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &gets
}

func TestPullFromOldGitea(t *testing.T) {
	body := []byte("release bytes")
	srv, gets := oldGitea(t, body, body)
	c, err := New(srv.URL, "tok", &Options{Retry: RetryPolicy{Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	v, rs, err := c.Pull(context.Background(), Ref{Owner: "acme", Package: "app", Version: "^1.2"}, nil, dir, TransferOptions{}, nil)
	if err != nil || v != "1.3.0" || len(rs) != 1 {
		t.Fatalf("Pull = %q, %+v, %v; want 1.3.0 (app-extra is another package)", v, rs, err)
	}
	if rs[0].Status != Downloaded || rs[0].Attempts != 3 || gets.Load() != 3 {
		t.Fatalf("result %+v after %d GETs; want downloaded on the third", rs[0], gets.Load())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "app.bin")); string(got) != string(body) {
		t.Fatalf("file %q", got)
	}

	// Without digest headers, the listing's sha256 is what the download
	// is verified against.
	srv2, _ := oldGitea(t, body, []byte("tampered bytes"))
	c2, _ := New(srv2.URL, "", &Options{Retry: RetryPolicy{Initial: time.Millisecond}})
	dir2 := t.TempDir()
	_, rs, err = c2.Pull(context.Background(), Ref{Owner: "acme", Package: "app", Version: "1.3.0"}, []string{"app.bin"}, dir2, TransferOptions{}, nil)
	if err != nil || rs[0].Status != Failed || !errors.Is(rs[0].Err, ErrVerify) {
		t.Fatalf("tampered download: %+v, %v; want ErrVerify", rs, err)
	}
	if left, _ := os.ReadDir(dir2); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
