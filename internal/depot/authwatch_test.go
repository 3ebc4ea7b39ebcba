package depot

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// watchStore is a tokenStore that is an AuthWatcher: the test announces
// changes on its channel; each WatchAuth call counts, and the first fails
// after its first change when failFirst is set.
type watchStore struct {
	*tokenStore
	changes   chan struct{}
	watches   atomic.Int32
	failFirst bool
}

func (s *watchStore) WatchAuth(ctx context.Context, changed func()) error {
	n := s.watches.Add(1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.changes:
			changed()
			if s.failFirst && n == 1 {
				return errors.New("connection lost")
			}
		}
	}
}

func TestWatchAuth(t *testing.T) {
	_, ts, clock, secret := newTokenService(t, time.Hour)
	st := &watchStore{tokenStore: ts, changes: make(chan struct{}), failFirst: true}
	s := NewService(st, nil, nil, &Options{Now: clock.now, TokenCacheTTL: time.Hour})
	defer s.Close()
	s.WatchAuth()
	mustAuthenticate(t, s, secret)
	// Revoked by another process: the store no longer has it, the cache does.
	delete(ts.tokens, "ci")
	if _, err := s.Authenticate(t.Context(), Credentials{Token: secret}); err != nil {
		t.Fatalf("before the change is announced, the cached token: %v, want it still accepted", err)
	}
	st.changes <- struct{}{}
	// changed runs before the next receive, so once a second send is
	// taken the first change has been handled. That one also fails the
	// watch, which starts again after authWatchRetry.
	deadline := time.After(5 * time.Second)
	select {
	case st.changes <- struct{}{}:
	case <-deadline:
		t.Fatal("WatchAuth was not called again within 5 s of failing")
	}
	if _, err := s.Authenticate(t.Context(), Credentials{Token: secret}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after the change: %v, want ErrUnauthenticated", err)
	}
	if n := st.watches.Load(); n != 2 {
		t.Errorf("WatchAuth called %d times, want 2 (once, and again after it failed)", n)
	}
	s.Close()
	// Closed: nobody watches any more.
	select {
	case st.changes <- struct{}{}:
		t.Error("still watching after Close")
	case <-time.After(50 * time.Millisecond):
	}
}
