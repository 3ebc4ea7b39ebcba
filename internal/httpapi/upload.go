package httpapi

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// Bounds on what a multipart upload may hold besides its file.
const (
	// maxFormFieldBytes is the most bytes of form fields (parts without a
	// file name) read and discarded in all.
	maxFormFieldBytes = 1 << 20
	// maxFormParts is the most parts a multipart upload may have.
	maxFormParts = 100
	// maxEnvelopeBytes is the most bytes of a multipart body that are not
	// its file (boundaries, part headers, fields, preamble, read-ahead)
	// read before the upload is refused, so an envelope with no end of
	// preamble or padding is not read forever.
	maxEnvelopeBytes = 4 << 20
)

// UploadBody returns the file an upload request carries and its size (-1
// when unknown). A multipart/form-data body (what `curl -F file=@x` sends)
// carries its file in its one part with a file name, as Gitea 1.26's
// UploadStream reads it; any other body is the file itself. The multipart
// body is read as a stream, part by part, only when the returned reader is
// first read, so a refused upload is answered before any byte of it is read
// (Expect: 100-continue). The reader fails with ErrInvalid when the
// envelope is malformed or has no file part or more than one (checked to
// its end before the file's last byte is given), so the envelope is never
// stored, and neither is a file that came with a second one.
func UploadBody(r *http.Request) (io.Reader, int64, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.EqualFold(mt, "multipart/form-data") {
		// Not a form upload (a malformed Content-Type too: the body is
		// the file, as for any other content type).
		return r.Body, r.ContentLength, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, 0, depot.Errorf(depot.ErrInvalid, "multipart/form-data body without a boundary")
	}
	// The file is smaller than the envelope by an amount only the parsing
	// tells: its size is unknown, and limits apply to the file's bytes as
	// they arrive.
	f := &formFile{}
	f.mr = multipart.NewReader(&envelopeReader{r: r.Body, f: f}, boundary)
	return f, -1, nil
}

// envelopeReader reads a multipart body, failing once more than
// maxEnvelopeBytes of it were not file bytes.
type envelopeReader struct {
	r    io.Reader
	f    *formFile
	read int64
}

func (e *envelopeReader) Read(p []byte) (int, error) {
	if e.read-e.f.delivered > maxEnvelopeBytes {
		return 0, depot.Errorf(depot.ErrInvalid, "multipart/form-data body holds more than %d bytes besides its file", maxEnvelopeBytes)
	}
	n, err := e.r.Read(p)
	e.read += int64(n)
	return n, err
}

// formFile reads the one file part of a multipart body.
type formFile struct {
	mr       *multipart.Reader
	file     *multipart.Part // the file part, once found
	parts    int
	discards int64
	// delivered counts the file bytes read so far.
	delivered int64
	done      bool
	err       error
}

func (f *formFile) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if f.done {
		return 0, io.EOF
	}
	if f.file == nil {
		part, err := f.next()
		if err == io.EOF {
			return 0, f.fail(depot.Errorf(depot.ErrInvalid, "multipart/form-data body has no file part"))
		} else if err != nil {
			return 0, f.fail(err)
		}
		f.file = part
	}
	n, err := f.file.Read(p)
	f.delivered += int64(n)
	if err == io.EOF {
		// The file is complete: the rest of the envelope must hold no
		// other file.
		if _, err := f.next(); err == nil {
			return 0, f.fail(depot.Errorf(depot.ErrInvalid, "multipart/form-data body has more than one file part; send exactly one"))
		} else if err != io.EOF {
			return 0, f.fail(err)
		}
		f.done = true
		return n, io.EOF
	}
	if err != nil {
		return n, f.fail(malformed(err))
	}
	return n, nil
}

// next returns the next part with a file name, discarding form fields, or
// io.EOF at the end of the body.
func (f *formFile) next() (*multipart.Part, error) {
	for {
		part, err := f.mr.NextPart()
		if err == io.EOF {
			return nil, io.EOF
		} else if err != nil {
			return nil, malformed(err)
		}
		f.parts++
		if f.parts > maxFormParts {
			return nil, depot.Errorf(depot.ErrInvalid, "multipart/form-data body has more than %d parts", maxFormParts)
		}
		if part.FileName() != "" {
			return part, nil
		}
		n, err := io.Copy(io.Discard, io.LimitReader(part, maxFormFieldBytes-f.discards+1))
		f.discards += n
		if err != nil {
			return nil, malformed(err)
		}
		if f.discards > maxFormFieldBytes {
			return nil, depot.Errorf(depot.ErrInvalid, "multipart/form-data fields exceed %d bytes", maxFormFieldBytes)
		}
	}
}

func (f *formFile) fail(err error) error {
	f.err = err
	return err
}

// malformed turns a multipart parsing error into a client error; a body cut
// short stays io.ErrUnexpectedEOF, which uploads report as such.
func malformed(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF
	}
	var de *depot.Error
	if errors.As(err, &de) {
		return err
	}
	return depot.Errorf(depot.ErrInvalid, "malformed multipart/form-data body: %v", err)
}
