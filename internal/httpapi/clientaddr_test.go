package httpapi

import (
	"net/http"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      bool
		want         string
	}{
		{"no proxies configured", "10.1.2.3:5555", []string{"198.51.100.1"}, false, "10.1.2.3"},
		{"untrusted peer's header ignored", "192.0.2.1:5555", []string{"198.51.100.1"}, true, "192.0.2.1"},
		{"trusted peer", "10.1.2.3:5555", []string{"198.51.100.1"}, true, "198.51.100.1"},
		{"rightmost untrusted", "127.0.0.1:1", []string{"203.0.113.9, 198.51.100.1, 10.9.9.9"}, true, "198.51.100.1"},
		{"spoofed left entry ignored", "10.1.2.3:1", []string{"6.6.6.6", "198.51.100.1"}, true, "198.51.100.1"},
		{"all trusted: leftmost", "10.1.2.3:1", []string{"10.0.0.5, 10.0.0.6"}, true, "10.0.0.5"},
		{"malformed stops", "10.1.2.3:1", []string{"198.51.100.1, junk"}, true, "10.1.2.3"},
		{"no header", "10.1.2.3:1", nil, true, "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, true, "2001:db8::1"},
		{"mapped v4", "[::ffff:192.0.2.1]:443", nil, true, "192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			tr := trusted
			if !tc.trusted {
				tr = nil
			}
			if got := ClientAddr(r, tr); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8,nonsense"); err == nil {
		t.Error("ParseTrustedProxies accepted nonsense")
	}
}
