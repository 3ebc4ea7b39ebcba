package main

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWebVersionPageDeferredDigests checks that the version page of a large
// file, whose md5, sha1 and sha512 the server computes after the upload,
// shows them on demand (?digests=all), never empty.
func TestWebVersionPageDeferredDigests(t *testing.T) {
	m := MustRunMain(t, Config{})
	_, body := mustPublishRandom(t, m, "big", "p/1/f.bin", 9<<20+7)
	base := "http://" + m.Addr()
	resp, err := http.Get(base + "/big/-/packages/generic/p/1?digests=all")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m5, s512 := md5.Sum(body), sha512.Sum512(body)
	for _, want := range []string{hex.EncodeToString(m5[:]), hex.EncodeToString(s512[:])} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the version page (%s) lacks digest %s", resp.Status, want)
		}
	}
}
