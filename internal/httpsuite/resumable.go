package httpsuite

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// The resumable upload draft's fields (draft-ietf-httpbis-resumable-upload,
// interop version 8).
const (
	interop     = "Upload-Draft-Interop-Version"
	interopV    = "8"
	uComplete   = "Upload-Complete"
	uOffset     = "Upload-Offset"
	uLength     = "Upload-Length"
	uLimit      = "Upload-Limit"
	partialType = "application/partial-upload"
)

// informational is a 1xx answer a request got.
type informational struct {
	code int
	h    textproto.MIMEHeader
}

// doInfo is do that also returns the informational answers.
func (fx *fixture) doInfo(t *testing.T, method, target string, a auth, body []byte, hdr ...string) (*http.Response, []byte, []informational) {
	t.Helper()
	var infos []informational
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code != http.StatusContinue {
			infos = append(infos, informational{code, h})
		}
		return nil
	}})
	resp, got := fx.doCtx(t, ctx, method, target, a, body, hdr...)
	return resp, got, infos
}

// createUpload starts a resumable upload of first at path and returns its
// upload resource URL, checking the 104 and the 201.
func (fx *fixture) createUpload(t *testing.T, path string, a auth, first []byte, length int, hdr ...string) string {
	t.Helper()
	h := append([]string{interop, interopV, uComplete, "?0"}, hdr...)
	if length >= 0 {
		h = append(h, uLength, strconv.Itoa(length))
	}
	resp, body, infos := fx.doInfo(t, http.MethodPut, path, a, first, h...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create upload %s: status %d, want 201; body %s", path, resp.StatusCode, body)
	}
	if len(infos) != 1 || infos[0].code != 104 {
		t.Fatalf("create upload %s: informational answers %v, want one 104", path, infos)
	}
	loc := infos[0].h.Get("Location")
	if loc == "" || infos[0].h.Get(interop) != interopV {
		t.Fatalf("104 without Location or interop version: %v", infos[0].h)
	}
	if resp.Header.Get("Location") != loc {
		t.Fatalf("201 Location %q, 104 said %q", resp.Header.Get("Location"), loc)
	}
	if got := resp.Header.Get(uComplete); got != "?0" {
		t.Fatalf("201 Upload-Complete %q, want ?0", got)
	}
	if got := resp.Header.Get(uOffset); got != strconv.Itoa(len(first)) {
		t.Fatalf("201 Upload-Offset %q, want %d", got, len(first))
	}
	u, err := url.Parse(fx.env.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := u.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return ref.String()
}

// mustOffset checks an upload resource's HEAD answer.
func (fx *fixture) mustOffset(t *testing.T, loc string, a auth, offset int64, complete string) http.Header {
	t.Helper()
	resp, body, _ := fx.doInfo(t, http.MethodHead, loc, a, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("HEAD %s: status %d, want 204; %s", loc, resp.StatusCode, body)
	}
	if got := resp.Header.Get(uOffset); got != strconv.FormatInt(offset, 10) {
		t.Fatalf("HEAD %s: Upload-Offset %q, want %d", loc, got, offset)
	}
	if got := resp.Header.Get(uComplete); got != complete {
		t.Fatalf("HEAD %s: Upload-Complete %q, want %s", loc, got, complete)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("HEAD %s: Cache-Control %q, want no-store", loc, got)
	}
	return resp.Header
}

// patch appends part at offset.
func (fx *fixture) patch(t *testing.T, loc string, a auth, offset int, part []byte, complete bool, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	c := "?0"
	if complete {
		c = "?1"
	}
	h := append([]string{"Content-Type", partialType, uOffset, strconv.Itoa(offset), uComplete, c, interop, interopV}, hdr...)
	resp, body, _ := fx.doInfo(t, http.MethodPatch, loc, a, part, h...)
	return resp, body
}

// problemType returns the type of a problem document.
func problemType(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem document: %s", body)
	}
	return p
}

func reprDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

func (fx *fixture) testResumable(t *testing.T) {
	alice := basic("alice", fx.tok["alice-write"])
	max := int(fx.env.MaxUploadSize)

	t.Run("CreateHeadPatchComplete", func(t *testing.T) {
		p := pkgPath("alice", "resum", "1.0", "a.bin")
		whole := content("resumable", 3<<20+12345)
		loc := fx.createUpload(t, p, alice, whole[:1<<20], len(whole))
		// Nothing is visible before completion.
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, alice, nil)
		h := fx.mustOffset(t, loc, alice, 1<<20, "?0")
		if got := h.Get(uLength); got != strconv.Itoa(len(whole)) {
			t.Fatalf("Upload-Length %q", got)
		}
		mustContain(t, "Upload-Limit", h.Get(uLimit), fmt.Sprintf("max-size=%d", max))
		mustContain(t, "Upload-Limit", h.Get(uLimit), "max-age=")

		// Bad appends change nothing.
		resp, body, _ := fx.doInfo(t, http.MethodPatch, loc, alice, whole[1<<20:], "Content-Type", "application/octet-stream", uOffset, strconv.Itoa(1<<20), uComplete, "?1")
		if resp.StatusCode != http.StatusUnsupportedMediaType || resp.Header.Get("Accept-Patch") != partialType {
			t.Fatalf("PATCH of application/octet-stream: %d (Accept-Patch %q), want 415; %s", resp.StatusCode, resp.Header.Get("Accept-Patch"), body)
		}
		resp, body = fx.patch(t, loc, alice, 1<<19, whole[1<<19:], true)
		if resp.StatusCode != http.StatusConflict || resp.Header.Get(uOffset) != strconv.Itoa(1<<20) {
			t.Fatalf("PATCH at a wrong offset: %d, Upload-Offset %q; want 409 and %d; %s", resp.StatusCode, resp.Header.Get(uOffset), 1<<20, body)
		}
		pd := problemType(t, body)
		if pd["type"] != "https://iana.org/assignments/http-problem-types#mismatching-upload-offset" || pd["expected-offset"] != float64(1<<20) || pd["provided-offset"] != float64(1<<19) {
			t.Fatalf("mismatching offset problem: %v", pd)
		}
		for _, hd := range [][]string{{uOffset, "-1"}, {uOffset, "x"}, {uComplete, "yes"}} {
			resp, body, _ := fx.doInfo(t, http.MethodPatch, loc, alice, []byte("x"), "Content-Type", partialType, uOffset, strconv.Itoa(1<<20), uComplete, "?0", hd[0], hd[1])
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("PATCH with %s: %s: %d, want 400; %s", hd[0], hd[1], resp.StatusCode, body)
			}
		}
		resp, body = fx.patch(t, loc, basic("carol", fx.tok["carol-write"]), 1<<20, whole[1<<20:], true)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("PATCH by another user: %d, want 404; %s", resp.StatusCode, body)
		}
		fx.mustOffset(t, loc, alice, 1<<20, "?0")

		// An intermediate append, then the last.
		resp, body = fx.patch(t, loc, alice, 1<<20, whole[1<<20:2<<20], false)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get(uComplete) != "?0" {
			t.Fatalf("intermediate PATCH: %d (%q); %s", resp.StatusCode, resp.Header.Get(uComplete), body)
		}
		resp, body = fx.patch(t, loc, alice, 2<<20, whole[2<<20:], true)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get(uComplete) != "?1" {
			t.Fatalf("final PATCH: %d (Upload-Complete %q), want 201 and ?1; %s", resp.StatusCode, resp.Header.Get(uComplete), body)
		}
		fx.mustGetBody(t, p, alice, whole)
		fx.mustOffset(t, loc, alice, int64(len(whole)), "?1")

		// Appends after completion.
		resp, body = fx.patch(t, loc, alice, len(whole), []byte("more"), true)
		if resp.StatusCode != http.StatusBadRequest || problemType(t, body)["type"] != "https://iana.org/assignments/http-problem-types#inconsistent-upload-length" {
			t.Fatalf("append after completion: %d %s, want 400 inconsistent-upload-length", resp.StatusCode, body)
		}
		resp, body = fx.patch(t, loc, alice, len(whole), nil, true)
		if resp.StatusCode != http.StatusBadRequest || problemType(t, body)["type"] != "https://iana.org/assignments/http-problem-types#completed-upload" {
			t.Fatalf("empty append after completion: %d %s, want 400 completed-upload", resp.StatusCode, body)
		}
		fx.mustGetBody(t, p, alice, whole)
	})

	t.Run("Optimistic", func(t *testing.T) {
		// Upload-Complete: ?1 with the whole body: a 104, then the PUT's 201.
		p := pkgPath("alice", "resum", "1.0", "b.bin")
		whole := content("optimistic", 200<<10)
		resp, body, infos := fx.doInfo(t, http.MethodPut, p, alice, whole, interop, interopV, uComplete, "?1", "Repr-Digest", reprDigest(whole))
		if resp.StatusCode != http.StatusCreated || len(infos) != 1 || infos[0].code != 104 || resp.Header.Get(uComplete) != "?1" {
			t.Fatalf("optimistic upload: %d, infos %v, Upload-Complete %q; %s", resp.StatusCode, infos, resp.Header.Get(uComplete), body)
		}
		fx.mustGetBody(t, p, alice, whole)
	})

	t.Run("OtherInteropVersionIsPlainPUT", func(t *testing.T) {
		p := pkgPath("alice", "resum", "1.0", "c.bin")
		resp, body, infos := fx.doInfo(t, http.MethodPut, p, alice, []byte("plain"), interop, "7", uComplete, "?0")
		if resp.StatusCode != http.StatusCreated || len(infos) != 0 || resp.Header.Get("Location") != "" {
			t.Fatalf("interop version 7: %d, infos %v; %s", resp.StatusCode, infos, body)
		}
		fx.mustGetBody(t, p, alice, []byte("plain"))
	})

	t.Run("RefusedAtCreation", func(t *testing.T) {
		fx.mustPut(t, pkgPath("alice", "resum", "1.0", "taken"), []byte("x"))
		for _, c := range []struct {
			name string
			path string
			a    auth
			hdr  []string
			want int
		}{
			{"duplicate", pkgPath("alice", "resum", "1.0", "taken"), alice, nil, http.StatusConflict},
			{"invalid name", pkgPath("alice", "resum", "1.0", ".."), alice, nil, http.StatusBadRequest},
			{"no write access", pkgPath("alice", "resum", "1.0", "d"), basic("bob", fx.tok["bob-read"]), nil, http.StatusForbidden},
			{"anonymous", pkgPath("alice", "resum", "1.0", "d"), anon(), nil, http.StatusUnauthorized},
			{"over the size limit", pkgPath("alice", "resum", "1.0", "d"), alice, []string{uLength, strconv.Itoa(max + 1)}, http.StatusRequestEntityTooLarge},
			{"malformed Repr-Digest", pkgPath("alice", "resum", "1.0", "d"), alice, []string{"Repr-Digest", "sha-256=abc"}, http.StatusBadRequest},
			{"unknown Repr-Digest algorithm", pkgPath("alice", "resum", "1.0", "d"), alice, []string{"Repr-Digest", "md7=:AAAA:"}, http.StatusBadRequest},
			{"malformed Upload-Length", pkgPath("alice", "resum", "1.0", "d"), alice, []string{uLength, "12x"}, http.StatusBadRequest},
		} {
			h := append([]string{interop, interopV, uComplete, "?0"}, c.hdr...)
			resp, body, infos := fx.doInfo(t, http.MethodPut, c.path, c.a, []byte("abc"), h...)
			if resp.StatusCode != c.want || len(infos) != 0 {
				t.Errorf("%s: status %d, %d informational answers; want %d and none; %s", c.name, resp.StatusCode, len(infos), c.want, body)
			}
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath("alice", "resum", "1.0", "d"), alice, nil)
	})

	t.Run("Oversize", func(t *testing.T) {
		// No length declared: the append that passes the limit is refused
		// with the limit, and nothing becomes a file.
		p := pkgPath("alice", "resum", "1.0", "big")
		loc := fx.createUpload(t, p, alice, content("big", 1<<20), -1)
		resp, body := fx.patch(t, loc, alice, 1<<20, content("big2", max), true)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(resp.Header.Get(uLimit), fmt.Sprintf("max-size=%d", max)) {
			t.Fatalf("oversize append: %d, Upload-Limit %q; want 413 with max-size; %s", resp.StatusCode, resp.Header.Get(uLimit), body)
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, alice, nil)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, loc, alice, nil)
	})

	t.Run("ReprDigestMismatch", func(t *testing.T) {
		p := pkgPath("alice", "resum", "1.0", "digest")
		whole := content("digest", 300<<10)
		loc := fx.createUpload(t, p, alice, whole[:100<<10], len(whole), "Repr-Digest", reprDigest([]byte("other")))
		resp, body := fx.patch(t, loc, alice, 100<<10, whole[100<<10:], true)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(uComplete) != "?1" {
			t.Fatalf("wrong Repr-Digest: %d (Upload-Complete %q), want 400 and ?1; %s", resp.StatusCode, resp.Header.Get(uComplete), body)
		}
		mustContain(t, "answer", string(body), sha(whole))
		mustContain(t, "answer", string(body), sha([]byte("other")))
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, alice, nil)
		fx.mustStatus(t, http.StatusNotFound, http.MethodHead, loc, alice, nil)
		// A wrong digest with the last part is refused the same way.
		loc = fx.createUpload(t, p, alice, whole[:100<<10], len(whole))
		if resp, body := fx.patch(t, loc, alice, 100<<10, whole[100<<10:], true, "Repr-Digest", reprDigest(whole[1:])); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("wrong Repr-Digest with the last part: %d; %s", resp.StatusCode, body)
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, alice, nil)
		// The same name with the right digest goes through, given at
		// creation or with the last part.
		loc = fx.createUpload(t, p, alice, whole[:100<<10], len(whole), "Repr-Digest", reprDigest(whole))
		if resp, body := fx.patch(t, loc, alice, 100<<10, whole[100<<10:], true); resp.StatusCode != http.StatusCreated {
			t.Fatalf("right Repr-Digest: %d; %s", resp.StatusCode, body)
		}
		fx.mustGetBody(t, p, alice, whole)
		p2 := pkgPath("alice", "resum", "1.0", "digest2")
		loc = fx.createUpload(t, p2, alice, whole[:100<<10], len(whole))
		if resp, body := fx.patch(t, loc, alice, 100<<10, whole[100<<10:], true, "Repr-Digest", reprDigest(whole)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("right Repr-Digest with the last part: %d; %s", resp.StatusCode, body)
		}
	})

	t.Run("DuplicateAtCompletion", func(t *testing.T) {
		// The name was free at creation, taken by a plain PUT meanwhile:
		// completion applies the duplicate rule again.
		p := pkgPath("alice", "resum", "1.0", "race")
		loc := fx.createUpload(t, p, alice, []byte("resumable"), -1)
		fx.mustPut(t, p, []byte("plain"))
		resp, body := fx.patch(t, loc, alice, len("resumable"), []byte(" bytes"), true)
		if resp.StatusCode != http.StatusConflict || resp.Header.Get(uComplete) != "?1" {
			t.Fatalf("completion onto a taken name: %d (%q), want 409 and ?1; %s", resp.StatusCode, resp.Header.Get(uComplete), body)
		}
		fx.mustGetBody(t, p, alice, []byte("plain"))
	})

	t.Run("Cancel", func(t *testing.T) {
		p := pkgPath("alice", "resum", "1.0", "cancel")
		loc := fx.createUpload(t, p, alice, []byte("abc"), 10)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, loc, alice, nil)
		fx.mustStatus(t, http.StatusNotFound, http.MethodHead, loc, alice, nil)
		resp, _ := fx.patch(t, loc, alice, 3, []byte("defghij"), true)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("PATCH of a cancelled upload: %d, want 404", resp.StatusCode)
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, alice, nil)
	})

	t.Run("GitLab", func(t *testing.T) {
		ctx := context.Background()
		proj, err := fx.env.Service.CreateProject(ctx, "alice", "resumable-tools", depot.Public)
		if err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("/api/v4/projects/%d/packages/generic/glres/1.0/dir/x.bin", proj.ID)
		gl := header("Bearer " + fx.tok["alice-all"])
		whole := content("gitlab", 600<<10)
		loc := fx.createUpload(t, p, gl, whole[:1000], len(whole))
		fx.mustOffset(t, loc, gl, 1000, "?0")
		resp, body := fx.patch(t, loc, gl, 1000, whole[1000:], true)
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), "201 Created") {
			t.Fatalf("GitLab final PATCH: %d %s", resp.StatusCode, body)
		}
		fx.mustGetBody(t, p, gl, whole)
	})

	t.Run("CutAndResume", fx.testResumableCut)
	t.Run("CreationCutAndResume", fx.testCreationCut)
}

// testCreationCut cuts a creation that carries the whole body (what the
// client sends) after its 104, over a raw connection: the bytes that
// arrived are the upload's (on disk the plain upload's own temporary file
// becomes the staging file), HEAD reports them, and a PATCH of the rest
// stores exactly the file.
func (fx *fixture) testCreationCut(t *testing.T) {
	alice := basic("alice", fx.tok["alice-write"])
	p := pkgPath("alice", "resum", "2.0", "cut-creation.bin")
	whole := content("cut-creation", 3<<20+333)
	u, err := url.Parse(fx.url(p))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nUpload-Complete: ?1\r\nUpload-Draft-Interop-Version: %s\r\nContent-Length: %d\r\n\r\n",
		u.Path, a2h(alice), interopV, len(whole))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 104 ") {
		t.Fatalf("creation: status line %q (%v), want a 104", status, err)
	}
	loc := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the 104: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Location") {
			loc = strings.TrimSpace(v)
		}
	}
	if loc == "" {
		t.Fatal("the 104 has no Location")
	}
	sent := 2<<20 + 12345
	if _, err := conn.Write(whole[:sent]); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	// The server reads what was sent, then sees the body end early; the
	// offset is at most what was sent (a HEAD may take over from the
	// request still reading) and reaches it once the server read it all.
	offset := -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, _, _ := fx.doInfo(t, http.MethodHead, loc, alice, nil)
		got, err := strconv.Atoi(resp.Header.Get(uOffset))
		if err != nil || got > sent {
			t.Fatalf("after a creation cut at %d bytes, HEAD: %d, offset %q", sent, resp.StatusCode, resp.Header.Get(uOffset))
		}
		if offset = got; offset == sent {
			break
		}
	}
	resp, body := fx.patch(t, loc, alice, offset, whole[offset:], true)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PATCH of the rest from %d: %d; %s", offset, resp.StatusCode, body)
	}
	fx.mustGetBody(t, p, alice, whole)
}

// testResumableCut cuts appends off at random points, over a raw
// connection, and resumes from the offset HEAD reports until the upload
// is complete: the stored file has exactly the bytes sent.
func (fx *fixture) testResumableCut(t *testing.T) {
	alice := basic("alice", fx.tok["alice-write"])
	p := pkgPath("alice", "resum", "2.0", "cut.bin")
	whole := content("cut-and-resume", 3<<20+777)
	loc := fx.createUpload(t, p, alice, nil, len(whole))
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(len(whole))
	next := func(n int) int { // a small deterministic generator
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	offset := 0
	for cuts := 0; cuts < 6; cuts++ {
		// Send part of the rest and drop the connection.
		send := 1 + next(len(whole)-offset)
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: %s\r\nUpload-Offset: %d\r\nUpload-Complete: ?1\r\nUpload-Draft-Interop-Version: 8\r\nContent-Length: %d\r\n\r\n",
			u.Path, a2h(alice), partialType, offset, len(whole)-offset)
		conn.Write(whole[offset : offset+send-1])
		conn.Close()
		// The server records what it received when it sees the cut, or
		// when the HEAD takes the upload over from the request still
		// reading (the draft's recommendation): either way the offset is
		// at most what was sent, and what it reports is appended to.
		time.Sleep(time.Duration(next(50)) * time.Millisecond)
		resp, _, _ := fx.doInfo(t, http.MethodHead, loc, alice, nil)
		got, err := strconv.Atoi(resp.Header.Get(uOffset))
		if err != nil || got > offset+send-1 || got < offset {
			t.Fatalf("after sending bytes %d..%d, the offset is %q", offset, offset+send-1, resp.Header.Get(uOffset))
		}
		offset = got
	}
	resp, body := fx.patch(t, loc, alice, offset, whole[offset:], true)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("final PATCH after cuts: %d; %s", resp.StatusCode, body)
	}
	fx.mustGetBody(t, p, alice, whole)
}
