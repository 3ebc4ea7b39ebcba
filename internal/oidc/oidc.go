// Package oidc verifies the OIDC ID tokens CI systems issue to their jobs
// (GitHub Actions, GitLab CI, Forgejo/Gitea Actions), for depot's trusted
// publishing. It implements depot.IDTokenVerifier over
// github.com/coreos/go-oidc/v3 (itself over go-jose): each issuer's
// discovery document is fetched once and cached, its JWKS is cached by
// go-oidc's RemoteKeySet, which fetches it again when a token names a key
// id it does not know (key rotation). Only RS256 and ES256 signatures are
// accepted, whatever the token's header says. go-oidc checks the signature,
// iss and the discovery document's issuer; this package adds exp, nbf and
// iat with its own small leeway (go-oidc checks exp without leeway and nbf
// with five minutes, and not iat) and requires a jti.
package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/depot-registry/depot/internal/depot"
)

// Algorithms are the signature algorithms accepted: RSA PKCS#1 v1.5 and
// ECDSA P-256, both with SHA-256, what GitHub, GitLab and Forgejo sign
// with. "none" and HMAC (whose key a confused verifier would take from the
// public key) are refused.
var Algorithms = []string{gooidc.RS256, gooidc.ES256}

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = time.Minute

// rediscoverAfter is how long a discovery document is trusted before it is
// fetched again (keys are refreshed on unknown key ids in between).
const rediscoverAfter = time.Hour

// Options configure a Verifier. The zero value is usable.
type Options struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed; zero means DefaultLeeway.
	Leeway time.Duration
	// Client fetches discovery documents and keys; nil means a client with
	// a 10-second timeout.
	Client *http.Client
}

// Verifier verifies ID tokens of any issuer it is asked about, caching one
// provider per issuer. It is safe for concurrent use.
type Verifier struct {
	opts      Options
	mu        sync.Mutex
	providers map[string]*provider
}

type provider struct {
	verifier *gooidc.IDTokenVerifier
	fetched  time.Time
}

var _ depot.IDTokenVerifier = (*Verifier)(nil)

// New returns a Verifier. opts may be nil.
func New(opts *Options) *Verifier {
	v := &Verifier{providers: map[string]*provider{}}
	if opts != nil {
		v.opts = *opts
	}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	if v.opts.Leeway == 0 {
		v.opts.Leeway = DefaultLeeway
	}
	if v.opts.Client == nil {
		v.opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return v
}

func unauthenticated(format string, args ...any) error {
	return depot.Errorf(depot.ErrUnauthenticated, format, args...)
}

// header and claims read without verification, to choose the issuer and
// to refuse an algorithm with a precise reason.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// Issuer implements depot.IDTokenVerifier.
func (v *Verifier) Issuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", unauthenticated("malformed ID token: not a compact JWT")
	}
	var h header
	if err := decodeSegment(parts[0], &h); err != nil {
		return "", unauthenticated("malformed ID token header")
	}
	if !slices.Contains(Algorithms, h.Alg) {
		return "", unauthenticated("alg: only RS256 and ES256 signatures are accepted, not %q", h.Alg)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		return "", unauthenticated("malformed ID token claims")
	}
	if c.Iss == "" {
		return "", unauthenticated("iss: the token has no issuer")
	}
	return c.Iss, nil
}

// provider returns the cached verifier of issuer, discovering it first.
func (v *Verifier) provider(ctx context.Context, issuer string) (*gooidc.IDTokenVerifier, error) {
	now := v.opts.Now()
	v.mu.Lock()
	p := v.providers[issuer]
	v.mu.Unlock()
	if p != nil && now.Sub(p.fetched) < rediscoverAfter {
		return p.verifier, nil
	}
	dctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, v.opts.Client), 15*time.Second)
	defer cancel()
	prov, err := gooidc.NewProvider(dctx, issuer)
	if err != nil {
		if p != nil {
			// Keep what worked if the issuer is briefly unreachable.
			return p.verifier, nil
		}
		return nil, fmt.Errorf("discover issuer %s: %w", issuer, err)
	}
	ver := prov.VerifierContext(gooidc.ClientContext(context.Background(), v.opts.Client), &gooidc.Config{
		SkipClientIDCheck:    true, // depot checks aud against each publisher
		SkipExpiryCheck:      true, // checked below, with the leeway
		SupportedSigningAlgs: Algorithms,
		Now:                  v.opts.Now,
	})
	v.mu.Lock()
	v.providers[issuer] = &provider{verifier: ver, fetched: now}
	v.mu.Unlock()
	return ver, nil
}

// Verify implements depot.IDTokenVerifier. A failure to reach the issuer is
// an internal error (the client may retry); everything about the token is
// ErrUnauthenticated.
func (v *Verifier) Verify(ctx context.Context, issuer, raw string) (*depot.IDToken, error) {
	if iss, err := v.Issuer(raw); err != nil {
		return nil, err
	} else if iss != issuer {
		return nil, unauthenticated("iss: the token is not from %q", issuer)
	}
	ver, err := v.provider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil && !isNetError(err) {
		// go-oidc's RemoteKeySet wakes the callers of a key fetch before
		// it stores the keys and frees the fetch, so a call right after
		// one may join that finished fetch and see the keys from before a
		// rotation. Once more, after it settled, sees the new keys.
		time.Sleep(10 * time.Millisecond)
		tok, err = ver.Verify(ctx, raw)
	}
	if err != nil {
		var netErr net.Error
		if errors.As(err, &netErr) {
			// The issuer's keys could not be fetched: not the token's fault.
			return nil, fmt.Errorf("fetch keys of %s: %w", issuer, err)
		}
		return nil, unauthenticated("signature: no key of the issuer verifies the token")
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(claimsJSON(tok)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, unauthenticated("malformed ID token claims")
	}
	now, leeway := v.opts.Now(), v.opts.Leeway
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, unauthenticated("exp: the token has no expiry")
	}
	if now.After(exp.Add(leeway)) {
		return nil, unauthenticated("exp: the token has expired")
	}
	if nbf, ok := numericDate(claims["nbf"]); claims["nbf"] != nil && (!ok || now.Add(leeway).Before(nbf)) {
		return nil, unauthenticated("nbf: the token is not valid yet")
	}
	iat, ok := numericDate(claims["iat"])
	if claims["iat"] != nil && (!ok || now.Add(leeway).Before(iat)) {
		return nil, unauthenticated("iat: the token was issued in the future")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return nil, unauthenticated("jti: the token has no jti")
	}
	return &depot.IDToken{
		Issuer: tok.Issuer, Subject: tok.Subject, ID: jti, Audience: tok.Audience,
		Expiry: exp, IssuedAt: iat, Claims: claims,
	}, nil
}

func claimsJSON(tok *gooidc.IDToken) string {
	var raw json.RawMessage
	if err := tok.Claims(&raw); err != nil {
		return ""
	}
	return string(raw)
}

// numericDate reads a JWT NumericDate (seconds since the epoch).
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*float64(time.Second))).UTC(), true
}

// isNetError reports whether err is a failure to reach the issuer.
func isNetError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr)
}
