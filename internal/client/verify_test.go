package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeServer records the PUTs a push sends; features is the
// X-Depot-Features its /api/v1/version answers ("" like Gitea), and put
// answers each PUT.
func fakeServer(t *testing.T, features string, put func(w http.ResponseWriter, r *http.Request, body []byte)) (*httptest.Server, func() []*http.Request) {
	var mu sync.Mutex
	var puts []*http.Request
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		if features != "" {
			w.Header().Set("X-Depot-Features", features)
		}
		w.Write([]byte(`{"version":"1.24.0"}`))
	})
	mux.HandleFunc("PUT /api/packages/acme/generic/app/1/{file}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		puts = append(puts, r)
		mu.Unlock()
		put(w, r, body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request { mu.Lock(); defer mu.Unlock(); return append([]*http.Request(nil), puts...) }
}

func pushVerify(t *testing.T, url string, content []byte) FileResult {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(url, "tok", &Options{Retry: RetryPolicy{Initial: time.Millisecond, Attempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Push(t.Context(), Ref{Owner: "acme", Package: "app", Version: "1"}, []string{path}, TransferOptions{Verify: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs[0]
}

// TestPushVerifyWithoutDeploy: a server that does not offer deploy by
// checksum (Gitea) never gets the empty PUT of one, which it would store as
// an empty file; the upload declares its sha256.
func TestPushVerifyWithoutDeploy(t *testing.T) {
	content := []byte("release bytes")
	sum := sha256.Sum256(content)
	srv, puts := fakeServer(t, "", func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.WriteHeader(http.StatusCreated)
	})
	r := pushVerify(t, srv.URL, content)
	if r.Status != Uploaded || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("result %+v", r)
	}
	ps := puts()
	if len(ps) != 1 || ps[0].Header.Get("X-Checksum-Deploy") != "" || ps[0].Header.Get("X-Checksum-Sha256") != hex.EncodeToString(sum[:]) {
		t.Fatalf("PUTs: %d, headers %v", len(ps), ps[0].Header)
	}
}

// TestPushVerifyDeploy: where offered, the deploy comes first; its 404
// leads to the upload.
func TestPushVerifyDeploy(t *testing.T) {
	content := []byte("release bytes")
	for _, deployStatus := range []int{http.StatusCreated, http.StatusNotFound} {
		srv, puts := fakeServer(t, "deploy-by-checksum, verified-uploads", func(w http.ResponseWriter, r *http.Request, body []byte) {
			if r.Header.Get("X-Checksum-Deploy") == "true" {
				if len(body) != 0 {
					t.Errorf("a deploy sent %d body bytes", len(body))
				}
				w.WriteHeader(deployStatus)
				return
			}
			w.WriteHeader(http.StatusCreated)
		})
		r := pushVerify(t, srv.URL, content)
		wantStatus, wantPuts := Deployed, 1
		if deployStatus == http.StatusNotFound {
			wantStatus, wantPuts = Uploaded, 2
		}
		if r.Status != wantStatus || len(puts()) != wantPuts {
			t.Errorf("deploy answered %d: result %+v after %d PUTs", deployStatus, r, len(puts()))
		}
	}
}

// TestPushVerifyMismatch: depot's 400 for bytes that do not have the
// declared sha256 is ErrVerify (exit 6), not a usage error.
func TestPushVerifyMismatch(t *testing.T) {
	srv, _ := fakeServer(t, "", func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"message":"sha256 mismatch","algorithm":"sha256","expected":"aa","actual":"bb"}`))
	})
	r := pushVerify(t, srv.URL, []byte("x"))
	if r.Status != Failed || !errors.Is(r.Err, ErrVerify) {
		t.Fatalf("result %+v (%v)", r, r.Err)
	}
}
