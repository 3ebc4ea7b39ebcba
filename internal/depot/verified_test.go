package depot

import (
	"errors"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/digest"
)

// TestVerifiedErrors: the errors of verified uploads keep their kinds, so
// the one status table and the dialects' conflict checks see them, and
// carry what the answer names.
func TestVerifiedErrors(t *testing.T) {
	m := &digest.MismatchError{Header: digest.HeaderSHA256, Alg: digest.SHA256, Expected: []byte{1}, Actual: []byte{2}}
	var err error = &DigestMismatchError{Mismatch: m}
	var got *digest.MismatchError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &got) || got != m {
		t.Errorf("mismatch error: Is(ErrInvalid) %v, As %v", errors.Is(err, ErrInvalid), got)
	}
	if msg := ErrorMessage(err); !strings.Contains(msg, "expected 01, actual 02") || !strings.Contains(msg, "nothing was stored") {
		t.Errorf("mismatch message %q", msg)
	}
	ex := &ExistingFileError{Err: ErrDuplicatePackage, Identical: true}
	if !errors.Is(ex, ErrDuplicatePackage) || !errors.Is(ex, ErrConflict) || ErrorMessage(ex) != ErrDuplicatePackage.Message {
		t.Errorf("existing file error over ErrDuplicatePackage: %v", ex)
	}
	ex = &ExistingFileError{Err: existsError(FileRef{File: "f", Version: "1"})(false)}
	if !errors.Is(ex, ErrConflict) || !strings.Contains(ErrorMessage(ex), "with different content") {
		t.Errorf("existing file error: %q", ErrorMessage(ex))
	}
	for _, c := range []struct {
		set  digest.Set
		only bool
	}{
		{nil, true},
		{digest.Set{{Alg: digest.SHA256}}, true},
		{digest.Set{{Alg: digest.SHA256}, {Alg: digest.SHA1}}, false},
		{digest.Set{{Alg: digest.SHA512}}, false},
	} {
		if onlySHA256(c.set) != c.only {
			t.Errorf("onlySHA256(%v) = %v", c.set, !c.only)
		}
	}
}
