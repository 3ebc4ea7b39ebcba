package depot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Actor is who makes a request. A nil *Actor, or one without a User, is
// anonymous.
type Actor struct {
	User *User
	// Scopes limits what a token may do; nil when the user signed in with a
	// password, which is limited only by the user's roles.
	Scopes Scopes
	// ProjectToken is set when a deploy token or job token authenticated
	// the request; User is then a stand-in with no account (ID 0).
	ProjectToken *ProjectToken
	// Publisher is set when a trusted publisher's minted token, or a CI
	// job's ID token itself, authenticated the request; User is then a
	// stand-in with no account (ID 0).
	Publisher *PublisherGrant
}

// IsAnonymous reports whether a is nobody in particular.
func (a *Actor) IsAnonymous() bool { return a == nil || a.User == nil }

// Credentials are what a client presented. Adapters fill them from their
// protocol's headers; Authenticate decides.
type Credentials struct {
	// Username and Password come from HTTP Basic authentication.
	Username, Password string
	// Basic is true when HTTP Basic credentials were sent.
	Basic bool
	// Token is a bearer token from a header.
	Token string
}

// Empty reports whether no credentials were presented.
func (c Credentials) Empty() bool { return !c.Basic && c.Token == "" }

// tokenLen is the length of a token secret: 40 hex characters, as Gitea's.
const tokenLen = 40

var errBadCredentials = &Error{Kind: ErrUnauthenticated, Message: "invalid credentials"}

// Authenticate returns the actor the credentials prove, or the anonymous
// actor (nil) when there are none. As Gitea does, a Basic password may be a
// token (the user name is then not checked), and a Basic user name may be a
// token when the password is empty or "x-oauth-basic". ErrUnauthenticated.
// A token's actor may be cached and shared by requests (see Options.
// TokenCacheTTL): callers must not modify it.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (*Actor, error) {
	switch {
	case c.Empty():
		return nil, nil
	case c.Token != "":
		return s.authenticateToken(ctx, c.Token)
	case c.Password == "" || c.Password == "x-oauth-basic":
		return s.authenticateToken(ctx, c.Username)
	}
	if strings.HasPrefix(c.Password, publisherTokenPrefix) || looksLikeJWT(c.Password) && s.opts.Verifier != nil {
		// A trusted publisher's token, or a CI job's ID token, as the
		// password: its own reason if refused.
		return s.authenticateToken(ctx, c.Password)
	}
	if looksLikeToken(c.Password) {
		if a, err := s.authenticateToken(ctx, c.Password); err == nil {
			return a, nil
		} else if !errors.Is(err, ErrUnauthenticated) {
			return nil, err
		}
	}
	u, err := s.store.UserByName(ctx, c.Username)
	if errors.Is(err, ErrNotFound) {
		// Spend the same time as a wrong password, so user names cannot be
		// probed by timing.
		_ = s.passwords.Verify("", c.Password)
		s.auditSignInFailed(ctx, c.Username, "basic")
		return nil, errBadCredentials
	} else if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if err := s.passwords.Verify(u.PasswordHash, c.Password); err != nil || u.Disabled {
		s.auditSignInFailed(ctx, c.Username, "basic")
		return nil, errBadCredentials
	}
	return &Actor{User: u}, nil
}

func looksLikeToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func (s *Service) authenticateToken(ctx context.Context, secret string) (*Actor, error) {
	switch {
	case strings.HasPrefix(secret, publisherTokenPrefix):
		return s.authenticatePublisherToken(ctx, secret)
	case looksLikeJWT(secret) && s.opts.Verifier != nil:
		return s.authenticateIDToken(ctx, secret)
	}
	if !looksLikeToken(secret) {
		return nil, errBadCredentials
	}
	l, a, err := s.cachedToken(secret)
	if a != nil || err != nil {
		return a, err
	}
	candidates, err := s.store.TokensByLastEight(ctx, secret[tokenLen-8:])
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	for _, t := range candidates {
		if !l.matches(t.Hash) {
			continue
		}
		if t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt) {
			return nil, &Error{Kind: ErrUnauthenticated, Message: "token has expired"}
		}
		u, err := s.store.UserByID(ctx, t.UserID)
		if err != nil {
			return nil, fmt.Errorf("look up token's user: %w", err)
		}
		if u.Disabled {
			return nil, errBadCredentials
		}
		a := &Actor{User: u, Scopes: t.Scopes}
		s.tokens.put(l.key, a, t.ExpiresAt, l.now, l.gen)
		return a, nil
	}
	return nil, errBadCredentials
}

// tokenLookup is a token secret being verified: its cache key, the cache
// generation and time of the lookup, and its hash as stored.
type tokenLookup struct {
	key  [sha256.Size]byte
	gen  uint64
	now  time.Time
	hash string
}

// matches compares a stored hash with the secret's in constant time.
func (l tokenLookup) matches(hash string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(l.hash)) == 1
}

// cachedToken answers from the token cache when it can: the cached actor,
// or ErrUnauthenticated for a cached token that has expired since. On a
// miss both are nil, and the lookup is what to put the verified actor with.
func (s *Service) cachedToken(secret string) (tokenLookup, *Actor, error) {
	sum := sha256.Sum256([]byte(secret))
	l := tokenLookup{key: sum, now: s.opts.Now(), hash: hex.EncodeToString(sum[:])}
	cached, gen, ok := s.tokens.get(sum, l.now)
	l.gen = gen
	if !ok {
		return l, nil, nil
	}
	if cached.expires != nil && !l.now.Before(*cached.expires) {
		return l, nil, &Error{Kind: ErrUnauthenticated, Message: "token has expired"}
	}
	return l, cached.actor, nil
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username, Email, Password string
	Admin                     bool
	Visibility                Visibility // "" means public
}

// CreateUser creates an account. ErrInvalid, ErrConflict.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	if err := ValidateOwnerName(nu.Username); err != nil {
		return nil, err
	}
	if at := strings.IndexByte(nu.Email, '@'); at < 1 || at == len(nu.Email)-1 || strings.ContainsAny(nu.Email, " \t\r\n") {
		return nil, Errorf(ErrInvalid, "invalid email address %q", nu.Email)
	}
	if len(nu.Password) < 8 || len(nu.Password) > MaxPasswordLn {
		return nil, Errorf(ErrInvalid, "password must have 8 to %d bytes", MaxPasswordLn)
	}
	if nu.Visibility == "" {
		nu.Visibility = Public
	}
	if _, err := ParseVisibility(string(nu.Visibility)); err != nil {
		return nil, err
	}
	hash, err := s.passwords.Hash(nu.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u := &User{
		Owner:        Owner{Name: nu.Username, Kind: KindUser, Visibility: nu.Visibility, CreatedAt: s.now()},
		Email:        nu.Email,
		PasswordHash: hash,
		IsAdmin:      nu.Admin,
	}
	if err := s.store.CreateUser(ctx, u); errors.Is(err, ErrConflict) {
		return nil, Errorf(ErrConflict, "name %q is already taken", nu.Username)
	} else if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.audit(ctx, nil, AuditUserCreate, u.Name, u.Name, map[string]any{"admin": u.IsAdmin, "email": u.Email, "visibility": u.Visibility})
	return u, nil
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]*User, error) { return s.store.ListUsers(ctx) }

// User returns the named user. ErrNotFound.
func (s *Service) User(ctx context.Context, name string) (*User, error) {
	u, err := s.store.UserByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "user %q not found", name)
	}
	return u, err
}

// CreateOrg creates an organization whose first member, with the admin role,
// is the user named admin. ErrInvalid, ErrConflict, ErrNotFound.
func (s *Service) CreateOrg(ctx context.Context, name, admin string, vis Visibility) (*Owner, error) {
	if err := ValidateOwnerName(name); err != nil {
		return nil, err
	}
	if _, err := ParseVisibility(string(vis)); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, admin)
	if err != nil {
		return nil, err
	}
	org := &Owner{Name: name, Kind: KindOrg, Visibility: vis, CreatedAt: s.now()}
	if err := s.store.CreateOrg(ctx, org, u.ID); errors.Is(err, ErrConflict) {
		return nil, Errorf(ErrConflict, "name %q is already taken", name)
	} else if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	s.audit(ctx, nil, AuditOrgCreate, org.Name, org.Name, map[string]any{"admin": u.Name, "visibility": vis})
	return org, nil
}

// SetMember gives a user a role in an organization. ErrNotFound, ErrInvalid.
func (s *Service) SetMember(ctx context.Context, org, username string, role Role) error {
	if role < AccessRead || role > AccessAdmin {
		return Errorf(ErrInvalid, "invalid role")
	}
	o, err := s.store.OwnerByName(ctx, org)
	if err != nil || o.Kind != KindOrg {
		if err == nil || errors.Is(err, ErrNotFound) {
			return Errorf(ErrNotFound, "organization %q not found", org)
		}
		return err
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return err
	}
	if err := s.store.SetMember(ctx, Member{OrgID: o.ID, UserID: u.ID, Role: role}); err != nil {
		return err
	}
	s.audit(ctx, nil, AuditMemberSet, o.Name, u.Name, map[string]any{"role": role.String()})
	return nil
}

// CreateToken creates a token for the user and returns its secret, which is
// not stored and cannot be shown again. expires may be nil (never).
// ErrInvalid, ErrNotFound, ErrConflict.
func (s *Service) CreateToken(ctx context.Context, username, name string, scopes Scopes, expires *time.Time) (string, *Token, error) {
	if err := ValidateTokenName(name); err != nil {
		return "", nil, err
	}
	if len(scopes) == 0 {
		return "", nil, Errorf(ErrInvalid, "at least one scope is required")
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return "", nil, err
	}
	raw := make([]byte, tokenLen/2)
	if _, err := io.ReadFull(s.opts.Rand, raw); err != nil {
		return "", nil, fmt.Errorf("generate token: %w", err)
	}
	secret := hex.EncodeToString(raw)
	t := &Token{
		UserID: u.ID, Name: name, Hash: hashToken(secret), LastEight: secret[tokenLen-8:],
		Scopes: scopes, CreatedAt: s.now(), ExpiresAt: expires,
	}
	if err := s.store.CreateToken(ctx, t); errors.Is(err, ErrConflict) {
		return "", nil, Errorf(ErrConflict, "user %q already has a token named %q", username, name)
	} else if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	detail := map[string]any{"scopes": scopes.String()}
	if expires != nil {
		detail["expires_at"] = expires.UTC()
	}
	s.audit(ctx, nil, AuditTokenCreate, u.Name, name, detail)
	return secret, t, nil
}

// ListTokens returns the user's tokens (without secrets). ErrNotFound.
func (s *Service) ListTokens(ctx context.Context, username string) ([]*Token, error) {
	u, err := s.User(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, u.ID)
}

// RevokeToken deletes the user's token of that name. ErrNotFound.
func (s *Service) RevokeToken(ctx context.Context, username, name string) error {
	u, err := s.User(ctx, username)
	if err != nil {
		return err
	}
	err = s.store.DeleteToken(ctx, u.ID, name)
	// Whatever the outcome, forget the user's cached tokens: the next
	// request of each is verified against the store.
	s.tokens.dropUser(u.ID)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "user %q has no token named %q", username, name)
	}
	if err == nil {
		s.audit(ctx, nil, AuditTokenRevoke, u.Name, name, nil)
	}
	return err
}
