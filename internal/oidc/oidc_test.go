package oidc_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/oidc"
	"github.com/depot-registry/depot/internal/oidc/issuertest"
)

type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }
func verify(v *oidc.Verifier, raw string) (*depot.IDToken, error) {
	iss, err := v.Issuer(raw)
	if err != nil {
		return nil, err
	}
	return v.Verify(context.Background(), iss, raw)
}

func TestVerify(t *testing.T) {
	is := issuertest.New(t)
	var c clock
	v := oidc.New(&oidc.Options{Now: c.now})
	claims := func() map[string]any { return issuertest.GitHub(is.URL, "https://depot.example", "acme/app", c.now()) }

	tok, err := verify(v, is.Sign(t, claims()))
	if err != nil {
		t.Fatalf("a good token: %v", err)
	}
	if tok.Issuer != is.URL || tok.ID == "" || len(tok.Audience) != 1 || tok.Audience[0] != "https://depot.example" {
		t.Errorf("token = %+v", tok)
	}
	if r, ok := tok.Claim("repository"); !ok || r != "acme/app" {
		t.Errorf("repository = %q, %v", r, ok)
	}
	if id, ok := issuertest.GitLab(is.URL, "a", "g/p", c.now())["runner_id"]; !ok || id == nil {
		t.Fatal("GitLab claims lack runner_id")
	}

	refused := func(t *testing.T, raw, reason string) {
		t.Helper()
		_, err := verify(v, raw)
		if !errors.Is(err, depot.ErrUnauthenticated) {
			t.Fatalf("err = %v, want ErrUnauthenticated", err)
		}
		if msg := depot.ErrorMessage(err); !strings.HasPrefix(msg, reason) || strings.Contains(msg, raw) {
			t.Errorf("reason %q, want it to start with %q and not hold the token", msg, reason)
		}
	}
	t.Run("expired", func(t *testing.T) {
		cl := claims()
		cl["exp"] = c.now().Add(-2 * time.Minute).Unix()
		refused(t, is.Sign(t, cl), "exp:")
	})
	t.Run("expired within the leeway", func(t *testing.T) {
		cl := claims()
		cl["exp"] = c.now().Add(-30 * time.Second).Unix()
		if _, err := verify(v, is.Sign(t, cl)); err != nil {
			t.Fatalf("30 s past exp: %v", err)
		}
	})
	t.Run("no expiry", func(t *testing.T) {
		cl := claims()
		delete(cl, "exp")
		refused(t, is.Sign(t, cl), "exp:")
	})
	t.Run("not yet valid", func(t *testing.T) {
		cl := claims()
		cl["nbf"] = c.now().Add(2 * time.Minute).Unix()
		refused(t, is.Sign(t, cl), "nbf:")
	})
	t.Run("issued in the future", func(t *testing.T) {
		cl := claims()
		cl["iat"] = c.now().Add(2 * time.Minute).Unix()
		refused(t, is.Sign(t, cl), "iat:")
	})
	t.Run("no jti", func(t *testing.T) {
		cl := claims()
		delete(cl, "jti")
		refused(t, is.Sign(t, cl), "jti:")
	})
	t.Run("bad signature", func(t *testing.T) {
		refused(t, issuertest.Tamper(t, is.Sign(t, claims()), "repository", "acme/evil"), "signature:")
	})
	t.Run("alg none", func(t *testing.T) {
		refused(t, issuertest.Unsigned(claims()), "alg:")
	})
	t.Run("HS256 keyed with the public key", func(t *testing.T) {
		refused(t, issuertest.HS256WithPublicKey(t, is.SigningKey(), claims()), "alg:")
	})
	t.Run("unknown kid", func(t *testing.T) {
		before := is.JWKSFetches.Load()
		refused(t, issuertest.SignWith(t, is.NewKey(t, jose.RS256), claims()), "signature:")
		if is.JWKSFetches.Load() == before {
			t.Error("an unknown kid did not make the verifier fetch the keys again")
		}
	})
	t.Run("wrong issuer", func(t *testing.T) {
		other := issuertest.New(t)
		raw := other.Sign(t, issuertest.GitHub(other.URL, "https://depot.example", "acme/app", c.now()))
		if _, err := v.Verify(context.Background(), is.URL, raw); !errors.Is(err, depot.ErrUnauthenticated) ||
			!strings.HasPrefix(depot.ErrorMessage(err), "iss:") {
			t.Fatalf("token of another issuer verified against %s: %v", is.URL, err)
		}
		// Signed by the other issuer's key but claiming to be from is.
		refused(t, other.Sign(t, claims()), "signature:")
	})
	t.Run("rotation to ES256", func(t *testing.T) {
		old := is.Sign(t, claims())
		is.Rotate(t, jose.ES256)
		if _, err := verify(v, is.Sign(t, claims())); err != nil {
			t.Fatalf("token signed with the rotated key: %v", err)
		}
		// Its key was withdrawn. go-oidc stores the keys it fetched just
		// after it answers the fetch's callers, so the withdrawn key may
		// verify for a moment more: wait for the store, boundedly.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := verify(v, old); err != nil {
				break
			}
		}
		refused(t, old, "signature:")
	})
}
