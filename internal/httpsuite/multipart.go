package httpsuite

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// formPart is one part of a multipart body: a file when fileName is set,
// else a form field.
type formPart struct {
	field, fileName string
	body            []byte
}

// formBody builds a multipart/form-data body as curl -F does and returns it
// with its Content-Type.
func formBody(t *testing.T, parts ...formPart) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.fileName != "" {
			w, err = mw.CreateFormFile(p.field, p.fileName)
		} else {
			w, err = mw.CreateFormField(p.field)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

// testMultipart uploads with Content-Type multipart/form-data (what
// `curl -F file=@x` sends): the one file part is stored, as Gitea 1.26
// does, never the envelope; an envelope without exactly one file part, or
// malformed, is a 400 that stores nothing; the size limit applies to the
// file, not the envelope.
func (fx *fixture) testMultipart(t *testing.T) {
	a := basic("alice", pw)
	// A file whose bytes look like a multipart envelope themselves.
	file := append(content("multipart", 200<<10), []byte("\r\n--notaboundary\r\nContent-Disposition: form-data\r\n\r\n")...)

	t.Run("one file part", func(t *testing.T) {
		body, ct := formBody(t, formPart{field: "file", fileName: "local-name.bin", body: file})
		p := pkgPath("alice", "form", "1.0", "app.bin")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, body, "Content-Type", ct)
		fx.mustGetBody(t, p, a, file)
	})
	t.Run("file among form fields", func(t *testing.T) {
		body, ct := formBody(t, formPart{field: "note", body: []byte("before")}, formPart{field: "upload", fileName: "x", body: file},
			formPart{field: "other", body: []byte("after")})
		p := pkgPath("alice", "form", "1.0", "fields.bin")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, body, "Content-Type", strings.Replace(ct, "multipart/form-data", "Multipart/Form-Data", 1))
		fx.mustGetBody(t, p, a, file)
	})
	t.Run("empty file part", func(t *testing.T) {
		body, ct := formBody(t, formPart{field: "file", fileName: "empty", body: nil})
		p := pkgPath("alice", "form", "1.0", "empty.bin")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, body, "Content-Type", ct)
		fx.mustGetBody(t, p, a, []byte{})
	})

	twoFiles, twoCT := formBody(t, formPart{field: "file", fileName: "a", body: []byte("first")}, formPart{field: "file", fileName: "b", body: []byte("second")})
	noFile, noFileCT := formBody(t, formPart{field: "file", body: []byte("a field, not a file")})
	tooManyFields, tooManyFieldsCT := formBody(t, formPart{field: "big", body: bytes.Repeat([]byte("f"), 2<<20)}, formPart{field: "file", fileName: "a", body: []byte("x")})
	for _, c := range []struct {
		name, ct, want string
		body           []byte
	}{
		{"two file parts", twoCT, "more than one file part", twoFiles},
		{"no file part", noFileCT, "no file part", noFile},
		{"no parts", "multipart/form-data; boundary=xyz", "no file part", []byte("--xyz--\r\n")},
		{"not multipart inside", "multipart/form-data; boundary=xyz", "malformed multipart", []byte("a=1&b=2 plain bytes")},
		{"no boundary", "multipart/form-data", "without a boundary", []byte("--xyz\r\n\r\nx\r\n--xyz--\r\n")},
		{"cut short", twoCT, "", twoFiles[:40]},
		{"form fields too large", tooManyFieldsCT, "fields exceed", tooManyFields},
		{"endless preamble", "multipart/form-data; boundary=xyz", "besides its file", append(bytes.Repeat([]byte("preamble without a boundary\r\n"), 200_000), "--xyz\r\n"...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := pkgPath("alice", "form", "1.0", "refused.bin")
			resp, got := fx.mustStatus(t, http.StatusBadRequest, http.MethodPut, p, a, c.body, "Content-Type", c.ct, "Accept", "application/json")
			var msg struct{ Message string }
			if err := json.Unmarshal(got, &msg); err != nil || msg.Message == "" {
				t.Fatalf("400 body %q (%s) is not a JSON message: %v", got, resp.Header.Get("Content-Type"), err)
			}
			mustContain(t, "message", msg.Message, c.want)
			fx.mustStatus(t, http.StatusNotFound, http.MethodGet, p, a, nil)
		})
	}

	t.Run("limit applies to the file", func(t *testing.T) {
		limit := fx.env.MaxUploadSize
		// Exactly the limit, in an envelope larger than the limit: stored.
		exact := content("form-exact", int(limit))
		body, ct := formBody(t, formPart{field: "note", body: []byte("some field")}, formPart{field: "file", fileName: "f", body: exact})
		p := pkgPath("alice", "form", "1.0", "exact.bin")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, p, a, body, "Content-Type", ct)
		fx.mustGetBody(t, p, a, exact)
		// One byte over: 413, nothing stored.
		body, ct = formBody(t, formPart{field: "file", fileName: "f", body: append(exact, 'x')})
		over := pkgPath("alice", "form", "1.0", "over.bin")
		fx.mustRefuseTooLarge(t, over, a, bytes.NewReader(body), "Content-Type", ct)
	})
	// A refused envelope is decided before it is read, as any upload.
	t.Run("conflict before the body", func(t *testing.T) {
		body, ct := formBody(t, formPart{field: "file", fileName: "f", body: []byte("again")})
		fx.mustStatus(t, http.StatusConflict, http.MethodPut, pkgPath("alice", "form", "1.0", "app.bin"), a, body, "Content-Type", ct)
		fx.mustGetBody(t, pkgPath("alice", "form", "1.0", "app.bin"), a, file)
	})
	fx.mustNoTempUploads(t)
}
