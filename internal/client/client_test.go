package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  bool
	}{
		{"acme", Ref{Owner: "acme"}, false},
		{"acme/app", Ref{Owner: "acme", Package: "app"}, false},
		{"acme/app@1.2.3", Ref{Owner: "acme", Package: "app", Version: "1.2.3"}, false},
		{"acme/app@^1.2", Ref{Owner: "acme", Package: "app", Version: "^1.2"}, false},
		{"acme/app@>=2 <3", Ref{Owner: "acme", Package: "app", Version: ">=2 <3"}, false},
		{"acme/app@1.0@beta", Ref{Owner: "acme", Package: "app", Version: "1.0@beta"}, false},
		{"acme/app@1.2.3/app.tar.gz", Ref{Owner: "acme", Package: "app", Version: "1.2.3", File: "app.tar.gz"}, false},
		{"acme/app@1.2.3/a b (1).txt", Ref{Owner: "acme", Package: "app", Version: "1.2.3", File: "a b (1).txt"}, false},
		{"", Ref{}, true},
		{"/app", Ref{}, true},
		{"acme/", Ref{}, true},
		{"acme/@1", Ref{}, true},
		{"acme/app@", Ref{}, true},
		{"acme/app@1/", Ref{}, true},
		{"acme@1", Ref{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if tt.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseRef(%q) = %+v, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

func TestConfigFile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	path, err := ConfigPath()
	if err != nil || filepath.Base(filepath.Dir(path)) != "depot" {
		t.Fatalf("ConfigPath() = %q, %v", path, err)
	}
	if c, err := LoadConfig(path); err != nil || c != (Config{}) {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	want := Config{URL: "http://127.0.0.1:1", Token: "secret"}
	if err := SaveConfig(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", di.Mode())
	}
	if got, err := LoadConfig(path); err != nil || got != want {
		t.Fatalf("LoadConfig = %+v, %v", got, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "relative/is/ignored")
	t.Setenv("HOME", "/home/someone")
	if p, _ := ConfigPath(); p != "/home/someone/.config/depot/config.json" {
		t.Errorf("ConfigPath() = %q", p)
	}
}

func TestHeaderSHA256(t *testing.T) {
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, c := range []struct {
		h    http.Header
		want string
	}{
		{http.Header{"X-Checksum-Sha256": {sum}}, sum},
		{http.Header{"X-Checksum-Sha256": {"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"}}, sum},
		{http.Header{"Etag": {`"` + sum + `"`}}, sum},
		{http.Header{"Etag": {`W/"` + sum + `"`}}, sum},
		{http.Header{"Etag": {`"abc"`}}, ""},
		{http.Header{"X-Checksum-Sha256": {"zz"}}, ""},
		{http.Header{}, ""},
	} {
		if got := headerSHA256(c.h); got != c.want {
			t.Errorf("headerSHA256(%v) = %q, want %q", c.h, got, c.want)
		}
	}
}

func TestAsyncHash(t *testing.T) {
	b := make([]byte, 3*hashBuf+12345)
	rand.NewChaCha8([32]byte{1}).Read(b)
	want := sha256.Sum256(b)
	a := newAsyncHash()
	// Uneven writes, some larger than a buffer.
	for rest := b; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)%(hashBuf+777))
		a.Write(rest[:n])
		rest = rest[n:]
	}
	if got := a.Sum(); got != hex.EncodeToString(want[:]) {
		t.Fatalf("sum %s, want %x", got, want)
	}
	// Closing an abandoned hash ends its goroutine; twice is harmless.
	a = newAsyncHash()
	a.Write(b[:10])
	a.close()
	a.close()
}

func TestHTTPErrorKinds(t *testing.T) {
	for status, kind := range map[int]error{400: ErrInvalid, 422: ErrInvalid, 401: ErrAuth, 403: ErrAuth, 404: ErrNotFound, 409: ErrConflict} {
		if err := error(&HTTPError{Status: status}); !errors.Is(err, kind) {
			t.Errorf("%d: not %v", status, kind)
		}
	}
	if err := error(&HTTPError{Status: 500}); errors.Is(err, ErrNotFound) || !retryableStatus(500) || retryableStatus(404) {
		t.Errorf("500 misclassified")
	}
}

func TestAsyncHashWriteAfterClose(t *testing.T) {
	a := newAsyncHash()
	a.Write([]byte("abc"))
	want := sha256.Sum256([]byte("abc"))
	if got := a.Sum(); got != hex.EncodeToString(want[:]) {
		t.Fatalf("sum %s", got)
	}
	// A transport still reading a request body after an early answer.
	if n, err := a.Write(make([]byte, 3*hashBuf)); n != 3*hashBuf || err != nil {
		t.Fatalf("late write: %d, %v", n, err)
	}
}
