package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// FuzzCredentials checks the Authorization parser: any header is either
// credentials or ErrUnauthenticated (never another error, never anonymous
// when a header was sent), and Basic and token credentials round-trip.
func FuzzCredentials(f *testing.F) {
	f.Add("Basic YWxpY2U6cHc=", "alice", "pw", "0123456789abcdef")
	f.Add("token abc def", "a:b", "", "x y")
	f.Add("Bearer", "", "p:q", "")
	f.Add("Digest x", "ü", "\x00", "\t")
	f.Fuzz(func(t *testing.T, raw, user, pass, tok string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", raw)
		c, err := Credentials(r)
		if err != nil && !errors.Is(err, depot.ErrUnauthenticated) {
			t.Fatalf("Credentials(%q) error %v is not ErrUnauthenticated", raw, err)
		}
		if err == nil && raw != "" && !c.Basic && c.Token == "" {
			t.Fatalf("Credentials(%q) = anonymous for a header that was sent", raw)
		}
		if c.Token != "" && strings.ContainsAny(c.Token, " \t") {
			t.Fatalf("Credentials(%q) token %q holds whitespace", raw, c.Token)
		}
		user = strings.ReplaceAll(user, ":", "")
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		if c, err := Credentials(r); err != nil || !c.Basic || c.Username != user || c.Password != pass {
			t.Fatalf("Basic %q:%q read as %+v, %v", user, pass, c, err)
		}
		if tok = strings.TrimSpace(tok); tok != "" && !strings.ContainsAny(tok, " \t\r\n") {
			for _, scheme := range []string{"token ", "Bearer ", "bearer "} {
				r.Header.Set("Authorization", scheme+tok)
				if c, err := Credentials(r); err != nil || c.Token != tok || c.Basic {
					t.Fatalf("%s%q read as %+v, %v", scheme, tok, c, err)
				}
			}
		}
	})
}

// reader is a BlobReader over bytes.
type reader struct{ *bytes.Reader }

func (reader) Close() error { return nil }

// FuzzServeFile serves a file through ServeFile (and RedirectFile) with
// fuzzed Range and conditional headers and checks what a client may rely
// on: no 5xx; a 200 carries the whole file, a 206 exactly the slices its
// Content-Range names, a 304 nothing; HEAD never a body; depot's own
// conditional check (RedirectFile) answers 304 exactly when ServeContent
// does for If-None-Match and If-Modified-Since.
func FuzzServeFile(f *testing.F) {
	f.Add(uint16(1000), "bytes=0-99", "", "", "", false)
	f.Add(uint16(20000), "bytes=100-,-5", "", "", "", false)
	f.Add(uint16(20000), "bytes=5-1", "", "", "", true)
	f.Add(uint16(10), "", `"x", W/"y"`, "Mon, 02 Jan 2006 15:04:05 GMT", "", false)
	f.Add(uint16(10), "bytes=0-0", "*", "", `"etag"`, false)
	f.Add(uint16(0), "bytes=0-", "", "Sun, 06 Nov 1994 08:49:37 GMT", "", false)
	f.Fuzz(func(t *testing.T, size uint16, rng, inm, ims, ifRange string, head bool) {
		content := make([]byte, int(size)%40000)
		for i := range content {
			content[i] = byte(i*7 + i>>8)
		}
		sum := sha256.Sum256(content)
		file := &depot.File{ID: 1, Name: "f.bin", CreatedAt: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
			Blob: depot.Blob{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content))}}
		if inm == "etag" {
			inm = etag(file)
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		req := httptest.NewRequest(method, "/f", nil)
		for h, v := range map[string]string{"Range": rng, "If-None-Match": inm, "If-Modified-Since": ims, "If-Range": ifRange} {
			if v != "" {
				req.Header.Set(h, v)
			}
		}
		w := httptest.NewRecorder()
		ServeFile(w, req, file, reader{bytes.NewReader(content)})
		res := w.Result()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("status %d for Range %q If-None-Match %q If-Modified-Since %q If-Range %q", res.StatusCode, rng, inm, ims, ifRange)
		}
		// (A real server drops whatever an error page writes to a HEAD.)
		if head && len(body) > 0 && res.StatusCode < 400 {
			t.Fatalf("HEAD answered %d with %d body bytes", res.StatusCode, len(body))
		}
		switch res.StatusCode {
		case http.StatusOK:
			if !head && !bytes.Equal(body, content) {
				t.Fatalf("200 with %d bytes, want the whole %d", len(body), len(content))
			}
		case http.StatusPartialContent:
			if !head {
				checkRanges(t, res, body, content)
			}
		case http.StatusNotModified:
			if len(body) > 0 {
				t.Fatalf("304 with a body")
			}
		case http.StatusRequestedRangeNotSatisfiable, http.StatusPreconditionFailed:
		default:
			t.Fatalf("unexpected status %d", res.StatusCode)
		}
		// depot's own check agrees with net/http's on revalidation.
		if rng == "" && ifRange == "" {
			rw := httptest.NewRecorder()
			RedirectFile(rw, req, file, "http://127.0.0.1/blob")
			if (rw.Code == http.StatusNotModified) != (res.StatusCode == http.StatusNotModified) {
				t.Fatalf("If-None-Match %q If-Modified-Since %q: RedirectFile %d, ServeFile %d", inm, ims, rw.Code, res.StatusCode)
			}
		}
	})
}

// checkRanges checks a 206 body against the ranges it declares.
func checkRanges(t *testing.T, res *http.Response, body, content []byte) {
	t.Helper()
	slice := func(cr string) []byte {
		var first, last, total int
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &total); err != nil || total != len(content) || first < 0 || first > last || last >= total {
			t.Fatalf("bad Content-Range %q for %d bytes", cr, len(content))
		}
		return content[first : last+1]
	}
	mt, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt != "multipart/byteranges" {
		if want := slice(res.Header.Get("Content-Range")); !bytes.Equal(body, want) {
			t.Fatalf("206 body of %d bytes does not match %s", len(body), res.Header.Get("Content-Range"))
		}
		if n, _ := strconv.Atoi(res.Header.Get("Content-Length")); n != len(body) {
			t.Fatalf("Content-Length %s for %d bytes", res.Header.Get("Content-Length"), len(body))
		}
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i == 0 {
				t.Fatal("multipart 206 without parts")
			}
			return
		}
		if err != nil {
			t.Fatalf("multipart 206: %v", err)
		}
		got, _ := io.ReadAll(p)
		if want := slice(p.Header.Get("Content-Range")); !bytes.Equal(got, want) {
			t.Fatalf("part %d of %d bytes does not match %s", i, len(got), p.Header.Get("Content-Range"))
		}
	}
}

// FuzzUploadBody feeds UploadBody multipart bodies, built from fuzzed parts
// and raw, and checks that it yields a file only when the body holds exactly
// one file part, and then exactly that part's bytes; otherwise an
// ErrInvalid (or a cut-short body), never the envelope.
func FuzzUploadBody(f *testing.F) {
	f.Add([]byte("hello"), "file", "a.txt", []byte("field"), byte(1), []byte("--xyz\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\nbody\r\n--xyz--\r\n"))
	f.Add([]byte(""), "", "", []byte(""), byte(0), []byte("garbage"))
	f.Add([]byte("--xyz"), "f", "b", []byte("x"), byte(2), []byte("--xyz\r\n\r\n\r\n--xyz--"))
	f.Fuzz(func(t *testing.T, file []byte, field, fileName string, value []byte, layout byte, raw []byte) {
		// Built: layout's bits choose a field before, the file (0-2 times)
		// and a field after.
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		files := int(layout>>1) % 3
		if layout&1 != 0 {
			w, _ := mw.CreateFormField(field + "-before")
			w.Write(value)
		}
		name := fileName
		if name == "" {
			name = "f"
		}
		for range files {
			w, err := mw.CreateFormFile(field, name)
			if err != nil {
				t.Skip()
			}
			w.Write(file)
		}
		if layout&8 != 0 {
			w, _ := mw.CreateFormField(field + "-after")
			w.Write(value)
		}
		mw.Close()
		parts, ok := fileParts(b.Bytes(), mw.Boundary())
		// The writer escapes only quotes and backslashes: names with
		// control characters make headers a reader refuses.
		if ok && (len(parts) != files || files > 0 && !bytes.Equal(parts[0], file)) {
			t.Fatalf("reference reader found %d file parts in a body built with %d", len(parts), files)
		}
		checkUpload(t, mw.FormDataContentType(), b.Bytes(), mw.Boundary())
		// Raw: whatever it yields is the one file part a multipart reader
		// finds in the same body.
		checkUpload(t, "multipart/form-data; boundary=xyz", raw, "xyz")
	})
}

// fileParts reads body with mime/multipart as the reference: the contents
// of its parts with a file name, and whether the whole body parsed within
// UploadBody's bounds on parts and form fields.
func fileParts(body []byte, boundary string) ([][]byte, bool) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts [][]byte
	n, fields := 0, 0
	for ; ; n++ {
		if n > maxFormParts || fields > maxFormFieldBytes {
			return parts, false
		}
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts, true
		}
		if err != nil {
			return parts, false
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return parts, false
		}
		if p.FileName() != "" {
			parts = append(parts, data)
		} else {
			fields += len(data)
		}
	}
}

// checkUpload checks UploadBody on body against the reference reader: a
// file exactly when the body parses and holds one file part, and then
// exactly its bytes; otherwise ErrInvalid or a body cut short.
func checkUpload(t *testing.T, ct string, body []byte, boundary string) {
	t.Helper()
	got, err := upload(t, ct, body)
	parts, ok := fileParts(body, boundary)
	if err != nil {
		if !errors.Is(err, depot.ErrInvalid) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v is neither invalid nor cut short", err)
		}
		if ok && len(parts) == 1 && len(body) < maxEnvelopeBytes {
			t.Fatalf("a body with one file part (%d bytes) was refused: %v", len(parts[0]), err)
		}
		return
	}
	if !ok || len(parts) != 1 || !bytes.Equal(parts[0], got) {
		t.Fatalf("stored %q; the reference finds file parts %q (parsed %v)", got, parts, ok)
	}
}

func upload(t *testing.T, ct string, body []byte) ([]byte, error) {
	t.Helper()
	r := httptest.NewRequest("PUT", "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	rd, size, err := UploadBody(r)
	if err != nil {
		return nil, err
	}
	if size != -1 {
		t.Fatalf("multipart body with a known size %d", size)
	}
	return io.ReadAll(rd)
}
