package depot

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateIssuerURL(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://token.actions.githubusercontent.com", true},
		{"https://gitlab.example.com", true},
		{"https://codeberg.org/api/actions", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.9.9.9", true},
		{"http://[::1]:9000/issuer", true},
		{"http://localhost:3000", true},
		{"http://gitlab.example.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.example.com", false},
		{"http://[::2]:9000", false},
		{"http://127.0.0.1@evil.example", false},
		{"https://user@gitlab.example.com", false},
		{"ftp://example.com", false},
		{"https://", false},
		{"https://example.com?x=1", false},
		{"https://example.com#f", false},
		{"https://exa mple.com", false},
		{"token.actions.githubusercontent.com", false},
		{"", false},
	} {
		if err := ValidateIssuerURL(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateIssuerURL(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func FuzzValidateIssuerURL(f *testing.F) {
	for _, s := range []string{"https://gitlab.com", "http://127.0.0.1:1", "http://[::1]", "http://localhost", "http://evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateIssuerURL(s) != nil {
			return
		}
		scheme, rest, _ := strings.Cut(s, "://")
		host, _, _ := strings.Cut(rest, "/")
		if scheme == "http" && !isLoopbackHost(host) {
			t.Fatalf("accepted a plain-http issuer off loopback: %q", s)
		}
		if scheme != "http" && scheme != "https" {
			t.Fatalf("accepted scheme %q", scheme)
		}
	})
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, v string
		ok         bool
	}{
		{"octo/app", "octo/app", true},
		{"octo/app", "octo/app2", false},
		{"octo/app", "OCTO/app", false}, // claims are compared exactly
		{"octo/*", "octo/app", true},
		{"octo/*", "octo/app/x", false}, // * does not cross a /
		{"octo/app/.github/workflows/release.yml@refs/tags/v*", "octo/app/.github/workflows/release.yml@refs/tags/v1.2.3", true},
		{"octo/app/.github/workflows/release.yml@refs/tags/v*", "octo/app/.github/workflows/release.yml@refs/heads/main", false},
		{"refs/tags/v[0-9]*", "refs/tags/v1", true},
		{"refs/tags/v[0-9]*", "refs/tags/vx", false},
		{"[", "[", false}, // malformed: never matches
	} {
		if got := matchPattern(tc.pattern, tc.v); got != tc.ok {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tc.pattern, tc.v, got, tc.ok)
		}
	}
}

func TestIDTokenClaim(t *testing.T) {
	var claims map[string]any
	d := json.NewDecoder(strings.NewReader(`{"s": "x", "n": 42, "b": true, "o": {"a": 1}}`))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	tok := &IDToken{Claims: claims}
	for name, want := range map[string]string{"s": "x", "n": "42", "b": "true"} {
		if got, ok := tok.Claim(name); !ok || got != want {
			t.Errorf("Claim(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"o", "missing"} {
		if _, ok := tok.Claim(name); ok {
			t.Errorf("Claim(%q) is a string", name)
		}
	}
}
