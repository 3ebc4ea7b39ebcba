// Package resumable serves the IETF resumable upload protocol
// (draft-ietf-httpbis-resumable-upload, draft -09 and later: interop
// version 8) on depot's generic upload routes.
//
// A PUT to a dialect's upload route that carries Upload-Complete and
// Upload-Draft-Interop-Version: 8 creates an upload resource: the server
// answers 104 (Upload Resumption Supported) with its Location before it
// reads the body, and then takes the body like any append. The resource,
// /api/uploads/{token}, answers
//
//	HEAD    its offset, completeness, length and limits (204, no-store)
//	PATCH   an append (application/partial-upload) at Upload-Offset
//	DELETE  cancels the upload (204)
//
// When the last byte is in, the dialect commits the bytes through the same
// service call as a plain PUT and the answer is that PUT's answer, with
// Upload-Complete: ?1. The rules (who may continue an upload, its limits,
// its expiry, staging the bytes) are depot.Service's; this package parses
// the protocol's fields and writes its statuses and problem documents.
package resumable

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/digest"
	"github.com/depot-registry/depot/internal/httpapi"
)

// InteropVersion is the Upload-Draft-Interop-Version this package speaks
// (drafts -09 to -12 of draft-ietf-httpbis-resumable-upload).
const InteropVersion = "8"

// PartialUpload is the media type of an append.
const PartialUpload = "application/partial-upload"

// Prefix is the path of upload resources.
const Prefix = "/api/uploads/"

// Dialect is an API dialect whose upload route creates resumable uploads:
// requests to an upload resource are authenticated, committed and
// answered as that dialect's PUT would be.
type Dialect interface {
	// Authenticate returns the request's actor as the dialect's upload
	// route would.
	Authenticate(r *http.Request) (*depot.Actor, error)
	// Commit stores body, the upload's u.Offset bytes, as the PUT that
	// created u would have, and returns the writer of that PUT's answer.
	Commit(r *http.Request, a *depot.Actor, u *depot.ResumableUpload, body io.Reader) (respond func(w http.ResponseWriter), err error)
	// WriteError writes err as the dialect's upload route does.
	WriteError(w http.ResponseWriter, r *http.Request, a *depot.Actor, err error)
}

// Options configure a Handler.
type Options struct {
	// BaseURL is the server's public root URL, for Location; "" writes
	// an absolute path.
	BaseURL string
	// Uploads, when not nil, bounds the uploads in progress (appends
	// count as uploads).
	Uploads *httpapi.UploadLimiter
	// TakeoverWait bounds how long a request waits for the request it
	// takes an upload over from to stop; 0 means 10s.
	TakeoverWait time.Duration
}

// Handler serves upload resources and the creation requests dialects hand
// it.
type Handler struct {
	svc      *depot.Service
	log      *slog.Logger
	opts     Options
	dialects map[string]Dialect

	mu     sync.Mutex
	leases map[string]*lease
}

// New returns a Handler with no dialect; Register adds them.
func New(svc *depot.Service, log *slog.Logger, opts Options) *Handler {
	if opts.TakeoverWait <= 0 {
		opts.TakeoverWait = 10 * time.Second
	}
	return &Handler{svc: svc, log: log, opts: opts, dialects: map[string]Dialect{}, leases: map[string]*lease{}}
}

// Register makes d the dialect of uploads created as name
// (depot.DialectGitea, depot.DialectGitLab). Call it before serving.
func (h *Handler) Register(name string, d Dialect) { h.dialects[name] = d }

// Requested reports whether r asks for a resumable upload: it carries
// Upload-Complete and this interop version (the draft forbids a 104 to
// any other), and its body is not a multipart form. Otherwise the upload
// is a plain PUT.
func (h *Handler) Requested(r *http.Request) bool {
	if h == nil || !h.svc.ResumableEnabled() || r.Header.Get("Upload-Complete") == "" ||
		strings.TrimSpace(r.Header.Get("Upload-Draft-Interop-Version")) != InteropVersion {
		return false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return !strings.EqualFold(mt, "multipart/form-data")
}

// protocolError is a request the protocol refuses before the service sees
// it: malformed fields. It is answered 400 with a problem document.
type protocolError struct{ msg string }

func (e protocolError) Error() string { return e.msg }

// Create serves a creation request for t (Requested said yes) by a,
// in dialect name: it checks and records the upload, answers 104 with its
// Location, and takes the body as the first append. An error before the
// 104 is the caller's to write, as for a plain PUT.
func (h *Handler) Create(w http.ResponseWriter, r *http.Request, name string, a *depot.Actor, t depot.NewUploadTarget) error {
	d := h.dialects[name]
	complete, err := boolField(r, "Upload-Complete", true)
	if err != nil {
		return depot.Errorf(depot.ErrInvalid, "%s", err.Error())
	}
	length, err := intField(r, "Upload-Length", false)
	if err != nil {
		return depot.Errorf(depot.ErrInvalid, "%s", err.Error())
	}
	if complete && r.ContentLength >= 0 {
		if length >= 0 && length != r.ContentLength {
			h.problem(w, http.StatusBadRequest, "inconsistent-upload-length", "Upload-Length and Content-Length disagree", nil)
			return nil
		}
		length = r.ContentLength
	}
	repr, err := ReprSHA256(r.Header.Get("Repr-Digest"))
	if err != nil {
		return depot.Errorf(depot.ErrInvalid, "%s", err.Error())
	}
	t.Dialect, t.Length, t.ReprSHA256 = name, length, repr
	release, err := h.opts.Uploads.Acquire(r)
	if err != nil {
		return err
	}
	defer release()
	u, err := h.svc.BeginResumableUpload(r.Context(), a, t)
	if err != nil {
		return err
	}
	done, err := h.acquire(w, r, u.Token)
	if err != nil {
		return err
	}
	defer done()
	hd := w.Header()
	hd.Set("Location", h.location(u.Token))
	hd.Set("Upload-Draft-Interop-Version", InteropVersion)
	h.limitHeader(w, u)
	w.WriteHeader(104)
	hd.Del("Upload-Draft-Interop-Version")
	if complete {
		h.createWhole(w, r, d, a, u)
		return nil
	}
	return h.appendAndAnswer(w, r, d, a, u, 0, length, complete)
}

// createWhole serves a creation that carries the whole file: the body
// goes through the dialect's ordinary upload path, as a plain PUT's (no
// second copy or hash), while a tee stages it; when the body breaks off,
// the staged bytes are recorded so that the client can resume after them.
func (h *Handler) createWhole(w http.ResponseWriter, r *http.Request, d Dialect, a *depot.Actor, u *depot.ResumableUpload) {
	tee := h.svc.NewStagingTee(r.Context(), u, r.Body)
	whole := *u
	whole.Offset = u.Length // the declared size, -1 if unknown
	respond, err := d.Commit(r.WithContext(tee.Bind(r.Context())), a, &whole, tee)
	if err == nil {
		if ferr := h.svc.FinishResumableUpload(r.Context(), u, tee.Size()); ferr != nil {
			h.log.Warn("marking an upload complete", "upload", u.Token, "err", ferr)
		}
		w.Header().Set("Upload-Complete", "?1")
		w.Header().Del("Location")
		respond(w)
		return
	}
	if tee.Cut() {
		if rerr := tee.Record(); rerr != nil {
			h.log.Warn("recording the bytes of a broken upload", "upload", u.Token, "err", rerr)
		}
		w.Header().Set("Upload-Complete", "?0")
		d.WriteError(w, r, a, err)
		return
	}
	// Refused with all its bytes sent: resuming would not help.
	if status := httpapi.Status(err); status >= 400 && status < 500 {
		if cerr := h.svc.CancelResumableUpload(r.Context(), u); cerr != nil {
			h.log.Warn("discarding a refused upload", "upload", u.Token, "err", cerr)
		}
	}
	w.Header().Set("Upload-Complete", "?1")
	w.Header().Del("Location")
	d.WriteError(w, r, a, err)
}

// appendAndAnswer appends r's body to u at offset and answers: the
// commit's answer when the upload is complete, else the new offset.
func (h *Handler) appendAndAnswer(w http.ResponseWriter, r *http.Request, d Dialect, a *depot.Actor, u *depot.ResumableUpload, offset, length int64, complete bool) error {
	u, err := h.svc.AppendResumableUpload(r.Context(), u, offset, r.Body, length, complete)
	if err != nil {
		w.Header().Set("Upload-Complete", "?0")
		h.writeAppendError(w, r, d, a, u, offset, err)
		return nil
	}
	if !complete {
		hd := w.Header()
		hd.Set("Upload-Complete", "?0")
		hd.Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
		h.limitHeader(w, u)
		if r.Method == http.MethodPatch {
			w.WriteHeader(http.StatusNoContent)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
		return nil
	}
	h.commit(w, r, d, a, u)
	return nil
}

// commit stores a complete upload through its dialect and answers as that
// dialect's PUT. A refusal (4xx) ends the upload: its bytes were all sent,
// and sending them again would not change the answer. A server error keeps
// it: an empty final PATCH retries the commit.
func (h *Handler) commit(w http.ResponseWriter, r *http.Request, d Dialect, a *depot.Actor, u *depot.ResumableUpload) {
	w.Header().Set("Upload-Complete", "?1")
	w.Header().Del("Location")
	body, err := h.svc.OpenResumableUpload(r.Context(), u)
	var respond func(http.ResponseWriter)
	if err == nil {
		respond, err = d.Commit(r.WithContext(h.svc.CommitContext(r.Context(), u)), a, u, body)
		body.Close()
	}
	if err == nil {
		err = h.svc.FinishResumableUpload(r.Context(), u, u.Offset)
	}
	if err != nil {
		if status := httpapi.Status(err); status >= 400 && status < 500 {
			if cerr := h.svc.CancelResumableUpload(r.Context(), u); cerr != nil {
				h.log.Warn("discarding a refused upload", "upload", u.Token, "err", cerr)
			}
		}
		d.WriteError(w, r, a, err)
		return
	}
	respond(w)
}

// writeAppendError answers an append the service refused, with the
// draft's problem types where it defines one.
func (h *Handler) writeAppendError(w http.ResponseWriter, r *http.Request, d Dialect, a *depot.Actor, u *depot.ResumableUpload, offset int64, err error) {
	msg := depot.ErrorMessage(err)
	switch {
	case errors.Is(err, depot.ErrOffsetMismatch):
		w.Header().Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
		h.problem(w, http.StatusConflict, "mismatching-upload-offset", msg, map[string]any{"expected-offset": u.Offset, "provided-offset": offset})
	case errors.Is(err, depot.ErrUploadCompleted):
		h.problem(w, http.StatusBadRequest, "completed-upload", msg, nil)
	case errors.Is(err, depot.ErrInconsistentLength):
		h.problem(w, http.StatusBadRequest, "inconsistent-upload-length", msg, nil)
	case errors.Is(err, depot.ErrTooLarge):
		h.limitHeader(w, u)
		d.WriteError(w, r, a, err)
	default:
		d.WriteError(w, r, a, err)
	}
}

// problem writes an RFC 9457 problem document of one of the draft's types.
func (h *Handler) problem(w http.ResponseWriter, status int, typ, title string, extra map[string]any) {
	uri := "about:blank"
	if typ != "" {
		uri = "https://iana.org/assignments/http-problem-types#" + typ
	}
	body := map[string]any{"type": uri, "title": title}
	for k, v := range extra {
		body[k] = v
	}
	httpapi.WriteJSONAs(w, status, "application/problem+json", body)
}

func (h *Handler) location(token string) string {
	return strings.TrimRight(h.opts.BaseURL, "/") + Prefix + token
}

// limitHeader sets Upload-Limit: the upload's size bound and its
// remaining lifetime.
func (h *Handler) limitHeader(w http.ResponseWriter, u *depot.ResumableUpload) {
	var parts []string
	if u.MaxSize >= 0 {
		parts = append(parts, "max-size="+strconv.FormatInt(u.MaxSize, 10))
	}
	if age := int64(time.Until(u.ExpiresAt) / time.Second); age > 0 {
		parts = append(parts, "max-age="+strconv.FormatInt(age, 10))
	}
	if len(parts) > 0 {
		w.Header().Set("Upload-Limit", strings.Join(parts, ", "))
	}
}

// ServeHTTP serves an upload resource.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || strings.Contains(token, "/") {
		httpapi.WriteError(w, r, h.log, httpapi.JSON, depot.Errorf(depot.ErrNotFound, "no such route"))
		return
	}
	switch r.Method {
	case http.MethodHead, http.MethodPatch, http.MethodDelete:
	default:
		httpapi.MethodNotAllowed(w, r, httpapi.JSON, "HEAD, PATCH, DELETE")
		return
	}
	dialect, err := h.svc.ResumableUploadDialect(r.Context(), token)
	d := h.dialects[dialect]
	if err != nil || d == nil {
		httpapi.WriteError(w, r, h.log, httpapi.JSON, depot.Errorf(depot.ErrNotFound, "no such upload"))
		return
	}
	a, err := d.Authenticate(r)
	if err == nil {
		err = h.serveResource(w, r, d, a, token)
	}
	if err != nil {
		var pe protocolError
		if errors.As(err, &pe) {
			h.problem(w, http.StatusBadRequest, "", pe.msg, nil)
			return
		}
		d.WriteError(w, r, a, err)
	}
}

func (h *Handler) serveResource(w http.ResponseWriter, r *http.Request, d Dialect, a *depot.Actor, token string) error {
	// Look the upload up (and check its creator) before taking it over,
	// so nobody else's request stops a transfer.
	if _, err := h.svc.ResumableUploadAs(r.Context(), a, token); err != nil {
		return err
	}
	var offset, length int64
	var complete bool
	var repr string
	if r.Method == http.MethodPatch {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if !strings.EqualFold(mt, PartialUpload) {
			w.Header().Set("Accept-Patch", PartialUpload)
			h.problem(w, http.StatusUnsupportedMediaType, "", fmt.Sprintf("an append must be %s, not %q", PartialUpload, r.Header.Get("Content-Type")), nil)
			return nil
		}
		var err error
		if offset, err = intField(r, "Upload-Offset", true); err != nil {
			return err
		}
		if complete, err = boolField(r, "Upload-Complete", true); err != nil {
			return err
		}
		if length, err = intField(r, "Upload-Length", false); err != nil {
			return err
		}
		if repr, err = ReprSHA256(r.Header.Get("Repr-Digest")); err != nil {
			return protocolError{err.Error()}
		}
		if complete && r.ContentLength >= 0 {
			if n := offset + r.ContentLength; length >= 0 && length != n {
				h.problem(w, http.StatusBadRequest, "inconsistent-upload-length", "Upload-Length disagrees with Upload-Offset and Content-Length", nil)
				return nil
			} else {
				length = n
			}
		}
		release, err := h.opts.Uploads.Acquire(r)
		if err != nil {
			return err
		}
		defer release()
	}
	done, err := h.acquire(w, r, token)
	if err != nil {
		return err
	}
	defer done()
	// Read again: the request taken over may have moved it.
	u, err := h.svc.ResumableUploadAs(r.Context(), a, token)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodHead:
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
		hd.Set("Upload-Complete", sfBool(u.Complete))
		if u.Length >= 0 {
			hd.Set("Upload-Length", strconv.FormatInt(u.Length, 10))
		}
		if !u.Complete {
			h.limitHeader(w, u)
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if err := h.svc.CancelResumableUpload(r.Context(), u); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if u.Complete {
			if r.ContentLength == 0 {
				w.Header().Set("Upload-Complete", "?1")
				h.problem(w, http.StatusBadRequest, "completed-upload", "the upload is already complete", nil)
				return nil
			}
			h.problem(w, http.StatusBadRequest, "inconsistent-upload-length", "the upload is already complete: no bytes may be appended", nil)
			return nil
		}
		if repr != "" && complete {
			// The digest of the whole file may come with its last part.
			if u.ReprSHA256 != "" && u.ReprSHA256 != repr {
				return protocolError{"Repr-Digest differs from the one the upload was created with"}
			}
			u.ReprSHA256 = repr
		}
		return h.appendAndAnswer(w, r, d, a, u, offset, length, complete)
	}
	return nil
}

// takeoverGrace is how long a request taken over may still read.
const takeoverGrace = 500 * time.Millisecond

// lease marks the request that is writing to (or reading) an upload in
// this process.
type lease struct {
	done  chan struct{}
	abort func()
}

// acquire makes r the one request on token in this process. A request
// already there is stopped (its body's read deadline is set to
// takeoverGrace from now: it records what it received and ends), as the draft recommends, since a
// client only sends a new request once it considers the previous one
// failed. Across replicas, the store's offset check keeps the offsets
// right and the recorded sha256 state keeps a stale request's bytes from
// being committed.
func (h *Handler) acquire(w http.ResponseWriter, r *http.Request, token string) (func(), error) {
	rc := http.NewResponseController(w)
	// The request taken over gets a moment to take in what already
	// reached this host (after a dropped link it then sees the end of its
	// body at once); a link that went silent times out then.
	mine := &lease{done: make(chan struct{}), abort: func() { _ = rc.SetReadDeadline(time.Now().Add(takeoverGrace)) }}
	for range 3 {
		h.mu.Lock()
		cur := h.leases[token]
		if cur == nil {
			h.leases[token] = mine
			h.mu.Unlock()
			return func() {
				h.mu.Lock()
				delete(h.leases, token)
				h.mu.Unlock()
				close(mine.done)
			}, nil
		}
		h.mu.Unlock()
		cur.abort()
		t := time.NewTimer(h.opts.TakeoverWait)
		select {
		case <-cur.done:
			t.Stop()
		case <-t.C:
			return nil, &depot.Error{Kind: depot.ErrUnavailable, RetryAfter: time.Second, Message: "another request on this upload did not stop: try again"}
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		}
	}
	return nil, &depot.Error{Kind: depot.ErrUnavailable, RetryAfter: time.Second, Message: "the upload is busy: try again"}
}

// boolField parses a Structured Fields Boolean header (?0 or ?1).
func boolField(r *http.Request, name string, required bool) (bool, error) {
	v := strings.TrimSpace(r.Header.Get(name))
	v, _, _ = strings.Cut(v, ";") // parameters are allowed and ignored
	switch v {
	case "?1":
		return true, nil
	case "?0":
		return false, nil
	case "":
		if !required {
			return false, nil
		}
		return false, protocolError{name + " is required (?0 or ?1)"}
	}
	return false, protocolError{fmt.Sprintf("%s must be ?0 or ?1, not %q", name, v)}
}

// intField parses a Structured Fields Integer header that must not be
// negative; -1 when absent and not required.
func intField(r *http.Request, name string, required bool) (int64, error) {
	v := strings.TrimSpace(r.Header.Get(name))
	v, _, _ = strings.Cut(v, ";")
	if v == "" {
		if required {
			return 0, protocolError{name + " is required"}
		}
		return -1, nil
	}
	if len(v) > 15 || strings.Trim(v, "0123456789") != "" {
		return 0, protocolError{fmt.Sprintf("%s must be a non-negative integer of at most 15 digits, not %q", name, v)}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, protocolError{fmt.Sprintf("malformed %s %q", name, v)}
	}
	return n, nil
}

func sfBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

// ReprSHA256 returns the sha-256 member of a Repr-Digest field (RFC 9530:
// a Dictionary of Byte Sequences) as hex, "" when the field is absent. A
// field that is malformed, or names only algorithms resumable uploads do
// not check (sha-512 included: the upload's recorded hash state is a
// sha256), is refused, so a digest the client counts on is never silently
// ignored. The parsing is internal/digest's, shared with plain uploads.
func ReprSHA256(field string) (string, error) {
	if strings.TrimSpace(field) == "" {
		return "", nil
	}
	ds, err := digest.ParseField(field)
	if he := (*digest.HeaderError)(nil); errors.As(err, &he) {
		he.Header = digest.HeaderReprDigest
	}
	if err != nil {
		return "", err
	}
	for _, d := range ds {
		if d.Alg == digest.SHA256 {
			return hex.EncodeToString(d.Sum), nil
		}
	}
	return "", fmt.Errorf("Repr-Digest names %s only: resumable uploads check sha-256", ds[0].Alg)
}
