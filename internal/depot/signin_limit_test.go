package depot

import (
	"testing"
	"time"
)

func TestSignInLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewSignInLimiter(func() time.Time { return now })
	alice := signInKeys(SignInRequest{Username: "Alice", Client: "10.0.0.1"})
	aliceLower := signInKeys(SignInRequest{Username: "alice", Client: "10.0.0.1"})
	bob := signInKeys(SignInRequest{Username: "bob", Client: "10.0.0.1"})
	other := signInKeys(SignInRequest{Username: "alice", Client: "10.0.0.2"})

	for range SignInFailsPerUser {
		if _, ok := l.Allow(alice...); !ok {
			t.Fatal("refused before the limit")
		}
		l.Fail(alice...)
	}
	if wait, ok := l.Allow(aliceLower...); ok || wait != SignInWindow {
		t.Errorf("at the limit (any case of the name): ok=%v wait=%v, want refused for %v", ok, wait, SignInWindow)
	}
	if _, ok := l.Allow(bob...); !ok {
		t.Error("another name from the same client is refused before the client limit")
	}
	if _, ok := l.Allow(other...); !ok {
		t.Error("the same name from another client is refused")
	}
	// The client limit counts every name.
	for range SignInFailsPerClient - SignInFailsPerUser {
		l.Fail(bob...)
	}
	if _, ok := l.Allow(signInKeys(SignInRequest{Username: "carol", Client: "10.0.0.1"})...); ok {
		t.Error("a client over its limit may still try new names")
	}
	now = now.Add(SignInWindow)
	if _, ok := l.Allow(alice...); !ok {
		t.Error("refused after the window")
	}
	var nilLimiter *SignInLimiter
	nilLimiter.Fail(alice...)
	if _, ok := nilLimiter.Allow(alice...); !ok {
		t.Error("a nil limiter refuses")
	}
}
