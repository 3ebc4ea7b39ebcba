package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// ServeFile answers a GET or HEAD with a stored file: its bytes (ranges,
// conditional requests and HEAD handled by http.ServeContent, which sends an
// *os.File with sendfile), application/octet-stream, the file name as an
// attachment, its sha256 as ETag and X-Checksum-SHA256, its RFC 9530
// Repr-Digest (as Want-Repr-Digest prefers; see reprDigest), and its upload
// time as Last-Modified.
func ServeFile(w http.ResponseWriter, r *http.Request, f *depot.File, content depot.BlobReader) {
	fileHeaders(w, f)
	reprDigest(w, r, f)
	if f.Blob.Size == 0 && r.Header.Get("Range") != "" {
		// An empty file has no byte to select, and net/http answers a
		// suffix range of it ("bytes=-1") with a 206 whose Content-Range
		// is invalid ("bytes 0--1/0"; found by FuzzServeFile): send it
		// whole instead, as RFC 9110 lets a server ignore Range.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	if rng, changed := dropEmptySuffixRanges(r.Header.Get("Range")); changed {
		if rng == "" {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", f.Blob.Size))
			http.Error(w, "invalid range: failed to overlap", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Range", rng)
	}
	if small, ok := readSmall(r, f, content); ok {
		defer small.free()
		// Through Write, not ReadFrom: the headers and the body leave in one
		// write to the connection (one TCP segment) instead of a write of
		// the headers and the first 512 bytes followed by a sendfile.
		http.ServeContent(writeOnly{w}, r, "", f.CreatedAt, bytes.NewReader(small.b))
		return
	}
	if r.Method == http.MethodGet && f.Blob.Size > smallFile {
		defer corkFile(r)()
		if _, ok := content.(*os.File); !ok {
			// Not a file, so no sendfile: copy in larger pieces than
			// net/http's 32 KiB (an S3 download was then two system
			// calls per 32 KiB, nine tenths of depot's CPU).
			w = bigCopyWriter{w}
		}
	}
	http.ServeContent(w, r, "", f.CreatedAt, content)
}

// copyBufSize is the buffer of a download that is not a local file; 200
// such downloads at once hold 25 MiB of them.
const copyBufSize = 128 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// bigCopyWriter is a ResponseWriter whose ReadFrom copies through a
// copyBufSize buffer.
type bigCopyWriter struct{ http.ResponseWriter }

func (w bigCopyWriter) ReadFrom(src io.Reader) (int64, error) {
	// ServeContent copies a range (or the whole) as a LimitedReader of the
	// blob: a blob that comes off a socket moves socket to socket.
	if lr, ok := src.(*io.LimitedReader); ok {
		if ss, ok := lr.R.(depot.SocketSource); ok {
			if n, done, err := w.splice(ss, lr); done {
				return n, err
			}
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writeOnly(w), src, *bp)
}

func (w bigCopyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// splice sends lr's bytes from ss's connection with the ResponseWriter's
// own ReadFrom, which net/http hands to the client's *net.TCPConn: for a
// source that is a *net.TCPConn too, that is splice(2). done is false when
// ss cannot (nothing was read); lr.N counts down what was sent.
func (w bigCopyWriter) splice(ss depot.SocketSource, lr *io.LimitedReader) (n int64, done bool, err error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok || lr.N <= 0 {
		return 0, false, nil
	}
	head, conn, err := ss.Socket(lr.N)
	if err != nil {
		return 0, true, err
	}
	if conn == nil {
		return 0, false, nil
	}
	want := lr.N
	lr.N = 0
	if len(head) > 0 {
		k, err := w.ResponseWriter.Write(head)
		n += int64(k)
		if err != nil {
			return n, true, err
		}
	}
	m, err := rf.ReadFrom(&io.LimitedReader{R: conn, N: want - n})
	n += m
	if err == nil && n < want {
		err = fmt.Errorf("blob ended after %d of %d bytes: %w", n, want, io.ErrUnexpectedEOF)
	}
	return n, true, err
}

// dropEmptySuffixRanges removes zero-length suffix ranges ("-0") from a
// Range header: RFC 9110 makes them unsatisfiable, but net/http's
// ServeContent answers them with a 206 whose Content-Range is invalid
// ("bytes 10-9/10"; golang/go#81262, found by FuzzServeFile). It reports
// whether it changed anything; "" with changed means no range is left
// (416).
func dropEmptySuffixRanges(h string) (string, bool) {
	set, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return h, false
	}
	var kept []string
	changed := false
	for _, spec := range strings.Split(set, ",") {
		// As net/http reads a suffix: "-", then a number after spaces.
		if first, last, ok := strings.Cut(textproto.TrimString(spec), "-"); ok && textproto.TrimString(first) == "" {
			if n, err := strconv.ParseInt(textproto.TrimString(last), 10, 64); err == nil && n == 0 {
				changed = true
				continue
			}
		}
		kept = append(kept, spec)
	}
	if !changed {
		return h, false
	}
	if len(kept) == 0 {
		return "", true
	}
	return "bytes=" + strings.Join(kept, ","), true
}

// smallFile is the largest file ServeFile reads into memory to answer a
// plain GET in one write; larger ones go out with sendfile.
const smallFile = 16 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

type smallBody struct {
	b   []byte
	buf *[]byte
}

func (s smallBody) free() { smallBufs.Put(s.buf) }

// readSmall reads a small file whole for a plain GET: no Range and no
// conditional header (those, and HEAD, go through the file itself, so no
// byte is read for a 304 or a HEAD). ok is false when it did not read, or
// could not read all of it, after rewinding content.
func readSmall(r *http.Request, f *depot.File, content depot.BlobReader) (smallBody, bool) {
	size := f.Blob.Size
	if r.Method != http.MethodGet || size <= 0 || size > smallFile {
		return smallBody{}, false
	}
	for _, h := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if _, ok := r.Header[h]; ok {
			return smallBody{}, false
		}
	}
	buf := smallBufs.Get().(*[]byte)
	if _, err := io.ReadFull(content, (*buf)[:size]); err != nil {
		smallBufs.Put(buf)
		if _, err := content.Seek(0, io.SeekStart); err != nil {
			return smallBody{}, false
		}
		return smallBody{}, false
	}
	return smallBody{b: (*buf)[:size], buf: buf}, true
}

// writeOnly hides a ResponseWriter's ReadFrom, so copies into it use Write.
type writeOnly struct{ http.ResponseWriter }

// RedirectFile answers a GET of a stored file with 307 to url, where blob
// storage serves the bytes (and ranges). It sends the same identifying
// headers as ServeFile and answers conditional requests itself with 304, so
// a client revalidating its copy never leaves depot.
func RedirectFile(w http.ResponseWriter, r *http.Request, f *depot.File, url string) {
	fileHeaders(w, f)
	w.Header().Set("Last-Modified", f.CreatedAt.UTC().Format(http.TimeFormat))
	if notModified(r, f) {
		w.Header().Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // the URL expires; the file does not
	http.Redirect(w, r, url, http.StatusTemporaryRedirect)
}

func fileHeaders(w http.ResponseWriter, f *depot.File) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("ETag", etag(f))
	h.Set("X-Checksum-SHA256", f.Blob.SHA256)
	h.Set("X-Content-Type-Options", "nosniff")
}

func etag(f *depot.File) string { return `"` + f.Blob.SHA256 + `"` }

// notModified applies RFC 9110's rules for If-None-Match (which wins when
// present) and If-Modified-Since exactly as http.ServeContent does, so a
// revalidation answered here (RedirectFile) and one answered by ServeFile
// agree (FuzzServeFile checks it; it found "*0" and a list with a malformed
// tag read differently): the list is scanned tag by tag with weak
// comparison, an element starting with '*' matches, and a malformed tag ends
// the scan without a match.
func notModified(r *http.Request, f *depot.File) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		buf := inm
		for {
			buf = textproto.TrimString(buf)
			if buf == "" {
				return false
			}
			if buf[0] == ',' {
				buf = buf[1:]
				continue
			}
			if buf[0] == '*' {
				return true
			}
			tag, rest := scanETag(buf)
			if tag == "" {
				return false
			}
			if strings.TrimPrefix(tag, "W/") == etag(f) {
				return true
			}
			buf = rest
		}
	}
	t, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	return err == nil && !f.CreatedAt.Truncate(time.Second).After(t)
}

// scanETag reads an entity tag (W/"text" or "text") from the start of s,
// as net/http does, and returns it with the rest of s; "" when s does not
// start with one.
func scanETag(s string) (tag, rest string) {
	s = textproto.TrimString(s)
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s[start:]) < 2 || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0x21 || c >= 0x23 && c <= 0x7E || c >= 0x80:
		case c == '"':
			return s[:i+1], s[i+1:]
		default:
			return "", ""
		}
	}
	return "", ""
}

// Download answers a GET or HEAD of ref's file as every dialect does: a 307
// to blob storage when the service links downloads (GET only; HEAD and
// revalidation stay here) and the blob is in blob storage, else the bytes
// through ServeFile (a blob kept inline has no URL).
func Download(w http.ResponseWriter, r *http.Request, svc *depot.Service, a *depot.Actor, ref depot.FileRef) error {
	if r.Method == http.MethodGet && svc.LinksDownloads() {
		f, link, err := svc.FileLink(r.Context(), a, ref)
		if err != nil {
			return err
		}
		if link != "" {
			svc.CountDownload(f)
			RedirectFile(w, r, f, link)
			return nil
		}
	}
	f, content, err := svc.OpenFile(r.Context(), a, ref)
	if err != nil {
		return err
	}
	defer content.Close()
	if r.Method == http.MethodGet {
		svc.CountDownload(f)
	}
	ServeFile(w, r, f, content)
	return nil
}
