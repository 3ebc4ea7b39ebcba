// Package httpapi holds what every HTTP adapter of depot shares: the one
// table from error kinds to statuses, the one function that writes error
// responses, credential parsing, file serving and middleware. API dialects
// (Gitea, GitLab) build on it; it knows none of them.
package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// statusTable maps each error kind to its HTTP status. Errors of no kind are
// internal (500).
var statusTable = []struct {
	kind   error
	status int
}{
	{depot.ErrNotFound, http.StatusNotFound},
	{depot.ErrConflict, http.StatusConflict},
	{depot.ErrInvalid, http.StatusBadRequest},
	{depot.ErrUnauthenticated, http.StatusUnauthorized},
	{depot.ErrForbidden, http.StatusForbidden},
	{depot.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{depot.ErrRateLimited, http.StatusTooManyRequests},
	{depot.ErrInsufficientStorage, http.StatusInsufficientStorage},
	{depot.ErrUnavailable, http.StatusServiceUnavailable},
}

// Status returns the HTTP status for err.
func Status(err error) int {
	for _, e := range statusTable {
		if errors.Is(err, e.kind) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// Format is how an error body is written.
type Format int

// Error body formats.
const (
	// Negotiated writes JSON when the client accepts application/json and
	// plain text otherwise (Gitea's package routes answer plain text).
	Negotiated Format = iota
	// JSON always writes {"message": ...}.
	JSON
)

// Realm is sent in WWW-Authenticate challenges.
const Realm = `Basic realm="depot"`

// WriteError writes err as a response: its status from the table and its
// client-safe message. Internal errors are logged with the request and
// answered with a generic message, so their details never reach clients.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, format Format, err error) {
	status, msg := Problem(r, log, err)
	ErrorHeaders(w, err)
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", Realm)
	}
	// Headers a file download may have set do not describe an error body.
	h.Del("Content-Disposition")
	h.Del("ETag")
	h.Del("Last-Modified")
	writeMessage(w, r, format, status, msg, ErrorFields(err))
}

// Problem returns the status (from the one table) and the client-safe
// message for err. An internal error is logged with the request and gets a
// generic message, so its details never reach clients. Dialects that write
// their own error bodies start from it.
func Problem(r *http.Request, log *slog.Logger, err error) (status int, msg string) {
	status = Status(err)
	msg = depot.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal server error"
	} else if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	return status, msg
}

// ErrorHeaders sets the headers an error answer carries whatever the
// dialect (Retry-After, in whole seconds, when err asks the client to wait)
// and the checksum answers' headers (X-Depot-Identical,
// Want-Repr-Digest; see checksumHeaders), and lets Logged see err, which it needs to log a full disk once per
// episode. Every dialect's error writer calls it.
func ErrorHeaders(w http.ResponseWriter, err error) {
	checksumHeaders(w, err)
	if d := depot.RetryAfter(err); d > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
	for {
		switch v := w.(type) {
		case *statusWriter:
			v.err = err
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return
		}
	}
}

// MethodNotAllowed answers 405 with the allowed methods.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, format Format, allowed string) {
	w.Header().Set("Allow", allowed)
	writeMessage(w, r, format, http.StatusMethodNotAllowed, "method not allowed", nil)
}

// writeMessage writes msg, with the extra fields when the body is JSON.
func writeMessage(w http.ResponseWriter, r *http.Request, format Format, status int, msg string, extra map[string]any) {
	if format == JSON || acceptsJSON(r) {
		if extra != nil {
			body := map[string]any{"message": msg}
			for k, v := range extra {
				body[k] = v
			}
			WriteJSON(w, status, body)
			return
		}
		WriteJSON(w, status, map[string]string{"message": msg})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

func acceptsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
				return true
			}
		}
	}
	return false
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONAs writes v as a JSON response of the given status and media
// type (application/problem+json, say).
func WriteJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
