package depot

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// tokenStore is a Store holding one user and its tokens, counting lookups.
// Methods the tests do not use panic (the embedded nil Store).
type tokenStore struct {
	Store
	user    *User
	tokens  map[string]*Token // by name
	lookups atomic.Int64
}

func (s *tokenStore) TokensByLastEight(ctx context.Context, lastEight string) ([]*Token, error) {
	s.lookups.Add(1)
	var out []*Token
	for _, t := range s.tokens {
		if t.LastEight == lastEight {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *tokenStore) UserByID(ctx context.Context, id int64) (*User, error) {
	if id != s.user.ID {
		return nil, ErrNotFound
	}
	return s.user, nil
}

func (s *tokenStore) UserByName(ctx context.Context, name string) (*User, error) {
	if name != s.user.Name {
		return nil, ErrNotFound
	}
	return s.user, nil
}

// InsertAuditEvents keeps nothing: these tests are not about the log.
func (s *tokenStore) InsertAuditEvents(context.Context, []*AuditEvent) error { return nil }

func (s *tokenStore) CreateToken(ctx context.Context, t *Token) error {
	s.tokens[t.Name] = t
	return nil
}

func (s *tokenStore) DeleteToken(ctx context.Context, userID int64, name string) error {
	if _, ok := s.tokens[name]; !ok {
		return ErrNotFound
	}
	delete(s.tokens, name)
	return nil
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTokenService(t *testing.T, ttl time.Duration) (*Service, *tokenStore, *fakeClock, string) {
	t.Helper()
	st := &tokenStore{user: &User{Owner: Owner{ID: 7, Name: "alice", Kind: KindUser}}, tokens: map[string]*Token{}}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := NewService(st, nil, nil, &Options{Now: clock.now, TokenCacheTTL: ttl})
	secret, _, err := s.CreateToken(t.Context(), "alice", "ci", Scopes{ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, st, clock, secret
}

func mustAuthenticate(t *testing.T, s *Service, secret string) *Actor {
	t.Helper()
	a, err := s.Authenticate(t.Context(), Credentials{Token: secret})
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if a.User.ID != 7 || !a.Scopes.Has(ScopeWritePackage) {
		t.Fatalf("Authenticate: actor %+v, want alice with write:package", a)
	}
	return a
}

func TestTokenCache(t *testing.T) {
	t.Run("hit skips the store", func(t *testing.T) {
		s, st, _, secret := newTokenService(t, time.Minute)
		for range 5 {
			mustAuthenticate(t, s, secret)
		}
		if n := st.lookups.Load(); n != 1 {
			t.Errorf("%d store lookups for 5 requests, want 1", n)
		}
	})
	t.Run("revoke here takes effect at once", func(t *testing.T) {
		s, _, _, secret := newTokenService(t, time.Hour)
		mustAuthenticate(t, s, secret)
		if err := s.RevokeToken(t.Context(), "alice", "ci"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(t.Context(), Credentials{Token: secret}); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("revoked token: %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("revoke elsewhere takes effect within the TTL", func(t *testing.T) {
		s, st, clock, secret := newTokenService(t, 10*time.Second)
		mustAuthenticate(t, s, secret)
		delete(st.tokens, "ci") // another process revoked it
		clock.advance(9 * time.Second)
		mustAuthenticate(t, s, secret) // still cached: the documented staleness
		clock.advance(time.Second)
		if _, err := s.Authenticate(t.Context(), Credentials{Token: secret}); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("token revoked %v ago, TTL 10s: %v, want ErrUnauthenticated", 10*time.Second, err)
		}
	})
	t.Run("expiry is checked on a hit", func(t *testing.T) {
		s, st, clock, secret := newTokenService(t, time.Hour)
		exp := clock.t.Add(time.Minute)
		st.tokens["ci"].ExpiresAt = &exp
		mustAuthenticate(t, s, secret)
		clock.advance(time.Minute)
		_, err := s.Authenticate(t.Context(), Credentials{Token: secret})
		if !errors.Is(err, ErrUnauthenticated) || ErrorMessage(err) != "token has expired" {
			t.Fatalf("expired cached token: %v, want ErrUnauthenticated: token has expired", err)
		}
	})
	t.Run("wrong tokens are not cached", func(t *testing.T) {
		s, st, _, secret := newTokenService(t, time.Hour)
		wrong := secret[:tokenLen-1] + string("0123456789abcdef"[(int(secret[tokenLen-1])+1)%16])
		for range 3 {
			if _, err := s.Authenticate(t.Context(), Credentials{Token: wrong}); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("wrong token: %v, want ErrUnauthenticated", err)
			}
		}
		if n := st.lookups.Load(); n != 3 {
			t.Errorf("%d store lookups for 3 wrong tokens, want 3", n)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		s, st, _, secret := newTokenService(t, -1)
		mustAuthenticate(t, s, secret)
		mustAuthenticate(t, s, secret)
		if n := st.lookups.Load(); n != 2 {
			t.Errorf("%d store lookups for 2 requests without cache, want 2", n)
		}
	})
}

// ownerStore counts owner lookups.
type ownerStore struct {
	tokenStore
	ownerLookups atomic.Int64
}

func (s *ownerStore) OwnerByName(ctx context.Context, name string) (*Owner, error) {
	s.ownerLookups.Add(1)
	if name != s.user.Name {
		return nil, ErrNotFound
	}
	o := s.user.Owner
	return &o, nil
}

func TestOwnerCache(t *testing.T) {
	st := &ownerStore{tokenStore: tokenStore{user: &User{Owner: Owner{ID: 7, Name: "alice", Kind: KindUser, Visibility: Public}}}}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := NewService(st, nil, nil, &Options{Now: clock.now, TokenCacheTTL: 10 * time.Second})
	for _, name := range []string{"alice", "ALICE", "Alice"} {
		if _, err := s.ownerFor(t.Context(), nil, name, AccessRead); err != nil {
			t.Fatalf("ownerFor(%q): %v", name, err)
		}
	}
	if n := st.ownerLookups.Load(); n != 1 {
		t.Errorf("%d owner lookups for 3 requests within the TTL, want 1", n)
	}
	for range 2 {
		if _, err := s.ownerFor(t.Context(), nil, "bob", AccessRead); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing owner: %v, want ErrNotFound", err)
		}
	}
	if n := st.ownerLookups.Load(); n != 3 {
		t.Errorf("%d owner lookups after 2 of a missing owner, want 3 (misses are not cached)", n)
	}
	clock.advance(10 * time.Second)
	if _, err := s.ownerFor(t.Context(), nil, "alice", AccessRead); err != nil {
		t.Fatal(err)
	}
	if n := st.ownerLookups.Load(); n != 4 {
		t.Errorf("%d owner lookups after the TTL, want 4", n)
	}
}
