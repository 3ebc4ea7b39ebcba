package resumable

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

func TestReprSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte("hello"))
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	hexSum := hex.EncodeToString(sum[:])
	for _, c := range []struct {
		field, want string
		ok          bool
	}{
		{"", "", true},
		{"sha-256=:" + b64 + ":", hexSum, true},
		{"  sha-256=:" + b64 + ":  ", hexSum, true},
		{"SHA-256=:" + b64 + ":", "", false},                                                 // RFC 8941 keys are lowercase
		{"md5=:AAAA:, sha-256=:" + b64 + ":", hexSum, true},                                  // unknown algorithms are ignored
		{"sha-512=:AAAA:, sha-256=:" + b64 + ":", "", false},                                 // a sha-512 of the wrong length
		{"sha-512=:" + base64.StdEncoding.EncodeToString(make([]byte, 64)) + ":", "", false}, // only an algorithm not checked here
		{"md5=:AAAA:", "", false},                                                            // only an algorithm not checked
		{"sha-256=" + b64, "", false},                                                        // not a byte sequence
		{"sha-256=:AAAA:", "", false},                                                        // not 32 bytes
		{"sha-256=:!!!:", "", false},                                                         // not base64
		{"sha-256", "", false},                                                               // no value
		{"sha-256=::", "", false},                                                            // empty
		{"sha-256=:" + b64 + ":, garbage", hexSum, true},                                     // a bare key is a boolean member (RFC 8941), an unknown algorithm
		{"sha-256=:" + b64 + ":, ;", "", false},                                              // not a dictionary
	} {
		got, err := ReprSHA256(c.field)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ReprSHA256(%q) = %q, %v; want %q, ok=%v", c.field, got, err, c.want, c.ok)
		}
	}
}

func TestFields(t *testing.T) {
	req := func(k, v string) *http.Request {
		r, _ := http.NewRequest(http.MethodPatch, "/", nil)
		if v != "" {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, c := range []struct {
		v    string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"123", 123, true}, {" 7 ", 7, true}, {"5;x=1", 5, true},
		{"-1", 0, false}, {"1.5", 0, false}, {"0x10", 0, false}, {"1234567890123456", 0, false}, {"", 0, false},
	} {
		got, err := intField(req("Upload-Offset", c.v), "Upload-Offset", true)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("intField(%q) = %d, %v; want %d, ok=%v", c.v, got, err, c.want, c.ok)
		}
	}
	if n, err := intField(req("Upload-Length", ""), "Upload-Length", false); n != -1 || err != nil {
		t.Errorf("absent optional integer: %d, %v", n, err)
	}
	for _, c := range []struct {
		v        string
		want, ok bool
	}{{"?1", true, true}, {"?0", false, true}, {" ?1 ", true, true}, {"?1;a", true, true}, {"1", false, false}, {"true", false, false}, {"?2", false, false}, {"", false, false}} {
		got, err := boolField(req("Upload-Complete", c.v), "Upload-Complete", true)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("boolField(%q) = %v, %v; want %v, ok=%v", c.v, got, err, c.want, c.ok)
		}
	}
}

func FuzzReprSHA256(f *testing.F) {
	f.Add("sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:")
	f.Add("sha-512=:AAAA:, sha-256=::")
	f.Fuzz(func(t *testing.T, field string) {
		got, err := ReprSHA256(field)
		if err == nil && got != "" && (len(got) != 64 || strings.Trim(got, "0123456789abcdef") != "") {
			t.Fatalf("ReprSHA256(%q) = %q: not a hex sha256", field, got)
		}
	})
}
