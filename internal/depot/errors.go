package depot

import (
	"errors"
	"fmt"
	"time"
)

// Error kinds. Every error the service returns wraps exactly one of these (or
// none, which means an internal failure). Adapters translate their backend's
// errors into these kinds by code; the HTTP layer maps kinds to statuses in one
// table.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrInvalid         = errors.New("invalid argument")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrTooLarge        = errors.New("too large")
	// ErrInsufficientStorage is a write refused because the disk or the
	// object store holding blobs or metadata is full (ENOSPC, EDQUOT,
	// SQLITE_FULL, SQLSTATE 53100, S3's StorageFull); HTTP 507. Nothing
	// stored before is affected, and writes succeed again once space is
	// freed.
	ErrInsufficientStorage = errors.New("insufficient storage")
	// ErrUnavailable is a request the server cannot take now (too many
	// uploads in progress in all); HTTP 503, with a Retry-After when the
	// *Error carries one.
	ErrUnavailable = errors.New("service unavailable")
)

// Error is a domain error: a kind and a message that is safe to show to a
// client. Context added by wrapping it with fmt.Errorf stays in logs only.
type Error struct {
	Kind    error
	Message string
	// RetryAfter, when positive, is how long the client should wait before
	// trying again (HTTP's Retry-After), for ErrRateLimited and
	// ErrUnavailable.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is match the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of the given kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// ErrorMessage returns the client-safe message carried by err: the message of
// the outermost *Error in its chain, or the kind's own text when err wraps a
// kind directly. It returns "" for internal errors, whose details must not
// reach clients.
func ErrorMessage(err error) string {
	var de *Error
	if errors.As(err, &de) {
		return de.Message
	}
	for _, k := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrUnauthenticated, ErrForbidden, ErrTooLarge, ErrInsufficientStorage, ErrUnavailable, ErrRateLimited} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return ""
}

// RetryAfter returns how long err asks the client to wait before trying
// again: the RetryAfter of the outermost *Error in its chain, or 0.
func RetryAfter(err error) time.Duration {
	var de *Error
	if errors.As(err, &de) {
		return de.RetryAfter
	}
	return 0
}
