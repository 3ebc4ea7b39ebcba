package depot

import (
	"errors"
	"fmt"
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
)

// Error is a domain error: a kind and a message that is safe to show to a
// client. Context added by wrapping it with fmt.Errorf stays in logs only.
type Error struct {
	Kind    error
	Message string
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
	for _, k := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrUnauthenticated, ErrForbidden, ErrTooLarge} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return ""
}
