package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error kinds. Every error the client returns for a refused request or a
// failed check wraps one of these, so callers (the CLI's exit codes) can
// tell them apart with errors.Is.
var (
	// ErrInvalid: a malformed reference or argument, or a 400/422 answer.
	ErrInvalid = errors.New("invalid")
	// ErrAuth: 401 or 403, missing or insufficient credentials.
	ErrAuth = errors.New("not authorized")
	// ErrNotFound: 404, or no version matching a range.
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, a file of that name exists with other content.
	ErrConflict = errors.New("conflict")
	// ErrVerify: downloaded or uploaded bytes whose sha256 is not the
	// server's, or an upload the server refused because its bytes did not
	// have the sha256 declared with it.
	ErrVerify = errors.New("verification failed")
)

// HTTPError is an answer with an unexpected status.
type HTTPError struct {
	Method, URL string
	Status      int
	// Message is the server's error message (Gitea's {"message"} or the
	// plain-text body), shortened.
	Message string
	// Identical is depot's X-Depot-Identical on a refused upload to an
	// existing name: "true" when the stored content is the upload's,
	// "false" when not, "" when the server did not say.
	Identical string
	// ExistingSHA256 is the stored file's sha256 (X-Depot-Existing-Sha256).
	ExistingSHA256 string
	// Mismatch is set on depot's 400 for an upload whose bytes do not have
	// the digest it declared (its JSON body names "expected" and
	// "actual"): the bytes changed on the way or while being read.
	Mismatch bool
}

func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, msg)
}

// Unwrap returns the error kind of the status.
func (e *HTTPError) Unwrap() error {
	switch {
	case e.Mismatch:
		return ErrVerify
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAuth
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	}
	return nil
}

// retryable reports whether the status is worth another attempt.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// newHTTPError reads (at most 4 KiB of) resp's body into an HTTPError.
func newHTTPError(resp *http.Response) *HTTPError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := strings.TrimSpace(string(b))
	var j struct {
		Message  string `json:"message"`
		Error    string `json:"error"`
		Expected string `json:"expected"`
		Actual   string `json:"actual"`
	}
	if json.Unmarshal(b, &j) == nil {
		switch {
		case j.Message != "":
			msg = j.Message
		case j.Error != "":
			msg = j.Error
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return &HTTPError{Method: resp.Request.Method, URL: redact(resp.Request.URL.String()), Status: resp.StatusCode, Message: msg,
		Identical: resp.Header.Get("X-Depot-Identical"), ExistingSHA256: resp.Header.Get("X-Depot-Existing-Sha256"),
		Mismatch: resp.StatusCode == http.StatusBadRequest && j.Expected != "" && j.Actual != ""}
}

// redact drops a URL's query (a presigned storage URL's signature).
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
