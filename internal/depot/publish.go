package depot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Trusted publishing: a CI job proves who it is with the OIDC ID token its
// CI system issued for it, and depot trades that token for a short-lived
// depot token scoped to one owner, the publisher's package patterns and
// uploads. The rules live here; verifying the token's signature and times
// is an IDTokenVerifier's job (internal/oidc).

// DefaultPublisherTokenTTL is how long a token minted for a trusted
// publisher lasts when Options.PublisherTokenTTL is zero; MaxPublisherTokenTTL
// is the most it may be set to.
const (
	DefaultPublisherTokenTTL = 15 * time.Minute
	MaxPublisherTokenTTL     = 6 * time.Hour
)

// publisherTokenPrefix starts the secret of every minted token, so that it
// is recognised whatever header carries it.
const publisherTokenPrefix = "depot_oidc_"

// IDToken is a verified OIDC ID token: its registered claims and every
// claim as decoded (strings, numbers, booleans).
type IDToken struct {
	Issuer   string
	Subject  string
	ID       string // jti
	Audience []string
	Expiry   time.Time
	IssuedAt time.Time
	Claims   map[string]any
}

// Claim returns a claim as a string: strings as they are, numbers and
// booleans formatted; false when the claim is absent or of another type.
func (t *IDToken) Claim(name string) (string, bool) {
	switch v := t.Claims[name].(type) {
	case string:
		return v, true
	case fmt.Stringer: // json.Number
		return v.String(), true
	case float64, int64, int, bool:
		return fmt.Sprint(v), true
	}
	return "", false
}

// IDTokenVerifier verifies CI systems' ID tokens.
type IDTokenVerifier interface {
	// Issuer returns the iss claim of a raw token without verifying
	// anything, so the caller can see whether any publisher trusts that
	// issuer before the issuer is contacted. ErrUnauthenticated when raw
	// is not a JWT.
	Issuer(raw string) (string, error)
	// Verify checks raw against issuer's published keys (OIDC discovery
	// and JWKS) and its times: the signature (RS256 or ES256 only), iss
	// exactly issuer, exp, nbf and iat with a small leeway, and a jti.
	// ErrUnauthenticated with a message naming what failed, never
	// repeating the token.
	Verify(ctx context.Context, issuer, raw string) (*IDToken, error)
}

// ClaimCondition requires an ID token claim to match Pattern: exactly, or
// as a glob when Pattern holds *, ? or [ (path.Match: * and ? do not cross
// a /).
type ClaimCondition struct {
	Name, Pattern string
}

// TrustedPublisher is a CI identity an owner trusts to publish: ID tokens
// of Issuer, for Audience, whose claims match every condition.
type TrustedPublisher struct {
	ID      int64
	OwnerID int64
	// OwnerName is filled by reads.
	OwnerName string
	Issuer    string
	// Audience is the aud the token must carry; "" means the server's base
	// URL (Options.BaseURL).
	Audience string
	// Claims are sorted by name.
	Claims []ClaimCondition
	// Packages are package name patterns (path.Match, case-insensitive);
	// none means every package of the owner.
	Packages  []string
	CreatedAt time.Time
}

// PublisherQuery selects trusted publishers; zero fields select all.
type PublisherQuery struct {
	OwnerID int64
	Issuer  string
}

// PublisherExchange records one use of an ID token: an exchange for a
// minted token, or the token used directly on an upload. Files uploaded
// with it point to it, so they show which CI run published them.
type PublisherExchange struct {
	ID int64
	// PublisherID is 0 once the publisher was deleted (the record stays).
	PublisherID int64
	OwnerID     int64
	Issuer      string
	Subject     string
	// Repository, Workflow, RunID, SHA and Ref are the CI identity, from
	// the provider's claims (see ciIdentity).
	Repository, Workflow, RunID, SHA, Ref string
	// Direct is set when the ID token itself authenticated a request and
	// no token was minted.
	Direct bool
	// Hash and LastEight identify the minted token ("" when Direct).
	Hash, LastEight string
	CreatedAt       time.Time
	ExpiresAt       time.Time
}

// PublisherGrant is what a trusted publisher's token grants: uploads to one
// owner's packages that match the patterns, reads of that owner, nothing
// else.
type PublisherGrant struct {
	Exchange *PublisherExchange
	Packages []string
}

// PublisherStore keeps trusted publishers, their exchanges and the ID
// token ids already used.
type PublisherStore interface {
	// CreateTrustedPublisher inserts p and sets its ID. ErrNotFound if the
	// owner does not exist.
	CreateTrustedPublisher(ctx context.Context, p *TrustedPublisher) error
	// TrustedPublishers returns the publishers q selects, with their
	// OwnerName, ordered by id.
	TrustedPublishers(ctx context.Context, q PublisherQuery) ([]*TrustedPublisher, error)
	// TrustedPublisherByID returns a publisher with its OwnerName.
	// ErrNotFound.
	TrustedPublisherByID(ctx context.Context, id int64) (*TrustedPublisher, error)
	// DeleteTrustedPublisher removes a publisher; its exchanges stay, with
	// PublisherID 0. ErrNotFound.
	DeleteTrustedPublisher(ctx context.Context, id int64) error
	// UseTokenID records that the ID token of issuer with that jti was
	// used, until expires, and reports whether it was new: of concurrent
	// calls with one issuer and jti (on any replica) exactly one gets
	// true. Records that expired before now are removed first, so a jti
	// may be used again once its token has expired.
	UseTokenID(ctx context.Context, issuer, jti string, expires, now time.Time) (bool, error)
	// CreatePublisherExchange inserts e and sets its ID. ErrNotFound if its
	// publisher or owner does not exist.
	CreatePublisherExchange(ctx context.Context, e *PublisherExchange) error
	// PublisherTokensByLastEight returns the exchanges whose minted token
	// ends with lastEight.
	PublisherTokensByLastEight(ctx context.Context, lastEight string) ([]*PublisherExchange, error)
	// PublisherExchanges returns an owner's newest exchanges, at most
	// limit, newest first.
	PublisherExchanges(ctx context.Context, ownerID int64, limit int) ([]*PublisherExchange, error)
	// FilePublications returns, by file id, the exchange each file of the
	// version was uploaded with; files uploaded otherwise are absent.
	FilePublications(ctx context.Context, versionID int64) (map[int64]*PublisherExchange, error)
}

// NewTrustedPublisher is what CreateTrustedPublisher needs.
type NewTrustedPublisher struct {
	Owner    string
	Issuer   string
	Audience string
	// Claims are NAME=PATTERN conditions.
	Claims   []string
	Packages []string
}

var claimNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// registeredClaims are checked by the verifier, not by conditions.
var registeredClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti"}

// CreateTrustedPublisher lets ID tokens of an issuer whose claims match the
// conditions publish to owner (for the admin CLI; CreateTrustedPublisherAs
// checks the actor). The issuer must be an https URL (http only on a
// loopback host); at least one condition is needed and none may be a bare
// "*", so that no publisher trusts every job of a CI service.
// ErrInvalid, ErrNotFound.
func (s *Service) CreateTrustedPublisher(ctx context.Context, np NewTrustedPublisher) (*TrustedPublisher, error) {
	o, err := s.store.OwnerByName(ctx, np.Owner)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", np.Owner)
	} else if err != nil {
		return nil, fmt.Errorf("look up owner: %w", err)
	}
	if err := ValidateIssuerURL(np.Issuer); err != nil {
		return nil, err
	}
	if len(np.Audience) > 255 || strings.TrimSpace(np.Audience) != np.Audience {
		return nil, Errorf(ErrInvalid, "invalid audience %q", np.Audience)
	}
	p := &TrustedPublisher{OwnerID: o.ID, OwnerName: o.Name, Issuer: np.Issuer, Audience: np.Audience, CreatedAt: s.now()}
	seen := map[string]bool{}
	for _, c := range np.Claims {
		name, pattern, ok := strings.Cut(c, "=")
		if !ok || !claimNameRE.MatchString(name) {
			return nil, Errorf(ErrInvalid, "claim condition %q is not NAME=PATTERN", c)
		}
		if slices.Contains(registeredClaims, name) {
			return nil, Errorf(ErrInvalid, "claim %q is checked by depot itself, not by a condition", name)
		}
		if seen[name] {
			return nil, Errorf(ErrInvalid, "claim %q has two conditions", name)
		}
		seen[name] = true
		if pattern == "" || strings.Trim(pattern, "*") == "" || len(pattern) > 1024 {
			return nil, Errorf(ErrInvalid, "claim %q needs a pattern that does not match everything", name)
		}
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, Errorf(ErrInvalid, "claim %q: malformed pattern %q", name, pattern)
		}
		p.Claims = append(p.Claims, ClaimCondition{Name: name, Pattern: pattern})
	}
	if len(p.Claims) == 0 {
		return nil, Errorf(ErrInvalid, "at least one claim condition is required (e.g. repository_id=... or project_path=...)")
	}
	sort.Slice(p.Claims, func(i, j int) bool { return p.Claims[i].Name < p.Claims[j].Name })
	for _, pkg := range np.Packages {
		if _, err := path.Match(pkg, ""); err != nil || pkg == "" || len(pkg) > MaxNameLen {
			return nil, Errorf(ErrInvalid, "malformed package pattern %q", pkg)
		}
		p.Packages = append(p.Packages, strings.ToLower(pkg))
	}
	if err := s.store.CreateTrustedPublisher(ctx, p); errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", np.Owner)
	} else if err != nil {
		return nil, fmt.Errorf("create trusted publisher: %w", err)
	}
	s.audit(ctx, nil, AuditPublisherCreate, o.Name, strconv.FormatInt(p.ID, 10), map[string]any{
		"issuer": p.Issuer, "audience": p.Audience, "claims": p.Claims, "packages": p.Packages})
	return p, nil
}

// ValidateIssuerURL accepts an https URL without query or fragment, or an
// http one on a loopback host (127.0.0.1, ::1, localhost), for tests and
// issuers on the same machine. ErrInvalid.
func ValidateIssuerURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	host, _, _ := strings.Cut(rest, "/")
	switch {
	case !ok || host == "" || strings.ContainsAny(raw, "?#@ \t\r\n") || len(raw) > 255:
	case scheme == "https":
		return nil
	case scheme == "http" && isLoopbackHost(host):
		return nil
	}
	return Errorf(ErrInvalid, "issuer %q must be an https URL (http only on a loopback host)", raw)
}

func isLoopbackHost(hostport string) bool {
	h := hostport
	if strings.HasPrefix(h, "[") {
		h, _, _ = strings.Cut(h[1:], "]")
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return h == "localhost" || ip != nil && ip.IsLoopback()
}

// ownerAdmin returns the owner if a administers it. ErrNotFound for owners
// a may not see, ErrUnauthenticated, ErrForbidden.
func (s *Service) ownerAdmin(ctx context.Context, a *Actor, name string) (*Owner, error) {
	if a.IsAnonymous() {
		return nil, Errorf(ErrUnauthenticated, "sign in first")
	}
	if a.Publisher != nil || a.ProjectToken != nil {
		return nil, Errorf(ErrForbidden, "this token may not manage trusted publishers")
	}
	o, role, err := s.ownerWithRole(ctx, a, name)
	if err != nil {
		return nil, err
	}
	if role < AccessAdmin {
		return nil, Errorf(ErrForbidden, "only admins of %q may manage its trusted publishers", o.Name)
	}
	return o, nil
}

// CreateTrustedPublisherAs is CreateTrustedPublisher for an admin of the
// owner, whose token (if any) grants write:organization or all.
// ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrInvalid.
func (s *Service) CreateTrustedPublisherAs(ctx context.Context, a *Actor, np NewTrustedPublisher) (*TrustedPublisher, error) {
	if _, err := s.ownerAdmin(ctx, a, np.Owner); err != nil {
		return nil, err
	}
	if err := requireScope(a, ScopeWriteOrganization); err != nil {
		return nil, err
	}
	return s.CreateTrustedPublisher(actingAs(ctx, a), np)
}

// TrustedPublishers lists the publishers of owner, or of every owner when
// owner is "" (admin CLI). ErrNotFound.
func (s *Service) TrustedPublishers(ctx context.Context, owner string) ([]*TrustedPublisher, error) {
	var q PublisherQuery
	if owner != "" {
		o, err := s.store.OwnerByName(ctx, owner)
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(ErrNotFound, "owner %q not found", owner)
		} else if err != nil {
			return nil, err
		}
		q.OwnerID = o.ID
	}
	return s.store.TrustedPublishers(ctx, q)
}

// PublisherSettings is an owner's trusted publishing page: its publishers
// and its latest exchanges.
type PublisherSettings struct {
	Owner      *Owner
	Publishers []*TrustedPublisher
	Exchanges  []*PublisherExchange
}

// exchangesShown is how many exchanges PublisherSettingsAs returns.
const exchangesShown = 50

// PublisherSettingsAs returns an owner's publishers and latest exchanges for
// its admins (read:organization if a token). ErrUnauthenticated,
// ErrForbidden, ErrNotFound.
func (s *Service) PublisherSettingsAs(ctx context.Context, a *Actor, owner string) (*PublisherSettings, error) {
	o, err := s.ownerAdmin(ctx, a, owner)
	if err != nil {
		return nil, err
	}
	if err := requireScope(a, ScopeReadOrganization); err != nil {
		return nil, err
	}
	pubs, err := s.store.TrustedPublishers(ctx, PublisherQuery{OwnerID: o.ID})
	if err != nil {
		return nil, err
	}
	ex, err := s.store.PublisherExchanges(ctx, o.ID, exchangesShown)
	if err != nil {
		return nil, err
	}
	return &PublisherSettings{Owner: o, Publishers: pubs, Exchanges: ex}, nil
}

// DeleteTrustedPublisher removes a publisher; tokens minted for it stop
// working at once in this process (the token cache is dropped) and within
// the token cache TTL elsewhere. ErrNotFound.
func (s *Service) DeleteTrustedPublisher(ctx context.Context, id int64) error {
	owner := ""
	if p, err := s.store.TrustedPublisherByID(ctx, id); err == nil {
		owner = p.OwnerName
	}
	err := s.store.DeleteTrustedPublisher(ctx, id)
	s.tokens.dropAll()
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "no trusted publisher with id %d", id)
	}
	if err == nil {
		s.audit(ctx, nil, AuditPublisherDelete, owner, strconv.FormatInt(id, 10), nil)
	}
	return err
}

// DeleteTrustedPublisherAs is DeleteTrustedPublisher for an admin of the
// publisher's owner. ErrUnauthenticated, ErrForbidden, ErrNotFound.
func (s *Service) DeleteTrustedPublisherAs(ctx context.Context, a *Actor, owner string, id int64) error {
	o, err := s.ownerAdmin(ctx, a, owner)
	if err != nil {
		return err
	}
	if err := requireScope(a, ScopeWriteOrganization); err != nil {
		return err
	}
	p, err := s.store.TrustedPublisherByID(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && p.OwnerID != o.ID {
		return Errorf(ErrNotFound, "%s has no trusted publisher with id %d", o.Name, id)
	} else if err != nil {
		return err
	}
	return s.DeleteTrustedPublisher(actingAs(ctx, a), id)
}

// MintedToken is the answer to an exchange.
type MintedToken struct {
	Token     string
	ExpiresAt time.Time
	Exchange  *PublisherExchange
}

func (s *Service) publisherTokenTTL() time.Duration {
	ttl := s.opts.PublisherTokenTTL
	if ttl <= 0 {
		ttl = DefaultPublisherTokenTTL
	}
	return min(ttl, MaxPublisherTokenTTL)
}

// ExchangeIDToken trades a CI job's ID token for a depot token of the
// trusted publisher it matches (see matchPublisher; owner, when not empty,
// picks among the owners whose publishers match). The token may upload to
// that owner's packages that match the publisher's patterns, for
// Options.PublisherTokenTTL. Each ID token is exchanged once (its jti is
// recorded until it expires). ErrUnauthenticated naming the claim that
// failed, ErrInvalid, ErrNotFound when trusted publishing is off.
func (s *Service) ExchangeIDToken(ctx context.Context, raw, owner string) (*MintedToken, error) {
	tok, pub, err := s.verifyIDToken(ctx, raw, owner)
	if err != nil {
		return nil, err
	}
	body := make([]byte, tokenLen/2)
	if _, err := io.ReadFull(s.opts.Rand, body); err != nil {
		return nil, fmt.Errorf("generate token: %w", err)
	}
	hexBody := hex.EncodeToString(body)
	secret := publisherTokenPrefix + hexBody
	now := s.now()
	e := newExchange(tok, pub, now)
	e.Hash, e.LastEight, e.ExpiresAt = hashToken(secret), hexBody[tokenLen-8:], now.Add(s.publisherTokenTTL())
	if err := s.store.CreatePublisherExchange(ctx, e); err != nil {
		return nil, fmt.Errorf("record exchange: %w", err)
	}
	s.audit(ctx, &Actor{User: &User{}, Publisher: &PublisherGrant{Exchange: e}}, AuditPublisherExchange, pub.OwnerName,
		strconv.FormatInt(e.ID, 10), map[string]any{"issuer": e.Issuer, "subject": e.Subject, "repository": e.Repository,
			"workflow": e.Workflow, "run_id": e.RunID, "ref": e.Ref, "sha": e.SHA, "expires_at": e.ExpiresAt})
	return &MintedToken{Token: secret, ExpiresAt: e.ExpiresAt, Exchange: e}, nil
}

func newExchange(tok *IDToken, pub *TrustedPublisher, now time.Time) *PublisherExchange {
	e := &PublisherExchange{PublisherID: pub.ID, OwnerID: pub.OwnerID, Issuer: tok.Issuer, Subject: tok.Subject, CreatedAt: now}
	e.Repository, e.Workflow, e.RunID, e.SHA, e.Ref = ciIdentity(tok)
	return e
}

// ciIdentity picks the CI identity out of the claims of GitHub Actions,
// Forgejo/Gitea Actions (GitHub's claim names) and GitLab CI.
func ciIdentity(t *IDToken) (repository, workflow, runID, sha, ref string) {
	first := func(names ...string) string {
		for _, n := range names {
			if v, ok := t.Claim(n); ok && v != "" {
				return v
			}
		}
		return ""
	}
	return first("repository", "project_path"), first("workflow", "ci_config_ref_uri", "workflow_ref"),
		first("run_id", "pipeline_id"), first("sha"), first("ref")
}

// verifyIDToken verifies raw and returns it with the publisher it matches.
// The jti is recorded last, once everything else passed, so a token refused
// for a mismatch may be retried after the publisher is fixed.
func (s *Service) verifyIDToken(ctx context.Context, raw, owner string) (*IDToken, *TrustedPublisher, error) {
	v := s.opts.Verifier
	if v == nil {
		return nil, nil, Errorf(ErrNotFound, "trusted publishing is not enabled on this server")
	}
	iss, err := v.Issuer(raw)
	if err != nil {
		return nil, nil, err
	}
	pubs, err := s.store.TrustedPublishers(ctx, PublisherQuery{Issuer: iss})
	if err != nil {
		return nil, nil, fmt.Errorf("look up trusted publishers: %w", err)
	}
	if len(pubs) == 0 {
		return nil, nil, Errorf(ErrUnauthenticated, "iss: no trusted publisher trusts this issuer")
	}
	if owner != "" {
		pubs = slices.DeleteFunc(pubs, func(p *TrustedPublisher) bool { return !strings.EqualFold(p.OwnerName, owner) })
		if len(pubs) == 0 {
			return nil, nil, Errorf(ErrUnauthenticated, "iss: no trusted publisher of %q trusts this issuer", owner)
		}
	}
	tok, err := v.Verify(ctx, iss, raw)
	if err != nil {
		return nil, nil, err
	}
	pub, err := s.matchPublisher(tok, pubs)
	if err != nil {
		return nil, nil, err
	}
	fresh, err := s.store.UseTokenID(ctx, tok.Issuer, tok.ID, tok.Expiry.Add(idTokenLeeway), s.now())
	if err != nil {
		return nil, nil, fmt.Errorf("record jti: %w", err)
	}
	if !fresh {
		return nil, nil, Errorf(ErrUnauthenticated, "jti: this ID token was already used")
	}
	return tok, pub, nil
}

// idTokenLeeway is kept with a used jti beyond its token's expiry, since a
// verifier accepts a token that long after exp.
const idTokenLeeway = time.Minute

// matchPublisher returns the publisher of lowest id whose audience and
// conditions the token meets. When publishers of several owners match the
// exchange must name one (ErrInvalid). When none matches, the reason of the
// first publisher's first failure is given (ErrUnauthenticated).
func (s *Service) matchPublisher(tok *IDToken, pubs []*TrustedPublisher) (*TrustedPublisher, error) {
	var matched []*TrustedPublisher
	reason := ""
	for _, p := range pubs {
		if why := s.mismatch(tok, p); why != "" {
			if reason == "" {
				reason = why
			}
			continue
		}
		matched = append(matched, p)
	}
	if len(matched) == 0 {
		return nil, Errorf(ErrUnauthenticated, "%s", reason)
	}
	for _, p := range matched[1:] {
		if p.OwnerID != matched[0].OwnerID {
			return nil, Errorf(ErrInvalid, "trusted publishers of several owners match this token: name one in \"owner\"")
		}
	}
	return matched[0], nil
}

// mismatch says why tok does not match p, "" when it does.
func (s *Service) mismatch(tok *IDToken, p *TrustedPublisher) string {
	aud := p.Audience
	if aud == "" {
		aud = s.opts.BaseURL
	}
	if aud == "" {
		return "aud: the trusted publisher has no audience and the server no --base-url"
	}
	if !slices.Contains(tok.Audience, aud) {
		return fmt.Sprintf("aud: the token is not for %q", aud)
	}
	for _, c := range p.Claims {
		v, ok := tok.Claim(c.Name)
		if !ok {
			return fmt.Sprintf("claim %q is missing", c.Name)
		}
		if !matchPattern(c.Pattern, v) {
			return fmt.Sprintf("claim %q does not match the trusted publisher", c.Name)
		}
	}
	return ""
}

// matchPattern matches exactly, or as path.Match does when pattern holds a
// glob character.
func matchPattern(pattern, v string) bool {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return pattern == v
	}
	ok, err := path.Match(pattern, v)
	return ok && err == nil
}

// looksLikeJWT reports whether s has a compact JWS's shape.
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2 && len(s) < 16<<10
}

// authenticatePublisherToken checks a minted token.
func (s *Service) authenticatePublisherToken(ctx context.Context, secret string) (*Actor, error) {
	rest, _ := strings.CutPrefix(secret, publisherTokenPrefix)
	if !looksLikeToken(rest) {
		return nil, errBadCredentials
	}
	l, a, err := s.cachedToken(secret)
	if a != nil || err != nil {
		return a, err
	}
	candidates, err := s.store.PublisherTokensByLastEight(ctx, rest[tokenLen-8:])
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	for _, e := range candidates {
		if !l.matches(e.Hash) {
			continue
		}
		if !s.now().Before(e.ExpiresAt) {
			return nil, &Error{Kind: ErrUnauthenticated, Message: "token has expired"}
		}
		if e.PublisherID == 0 {
			return nil, errBadCredentials
		}
		p, err := s.store.TrustedPublisherByID(ctx, e.PublisherID)
		if errors.Is(err, ErrNotFound) {
			return nil, errBadCredentials
		} else if err != nil {
			return nil, fmt.Errorf("look up trusted publisher: %w", err)
		}
		a := publisherActor(e, p)
		exp := e.ExpiresAt
		s.tokens.put(l.key, a, &exp, l.now, l.gen)
		return a, nil
	}
	return nil, errBadCredentials
}

// authenticateIDToken lets a CI job's ID token stand for a minted token on
// one request: it is verified, matched and its jti used up as in an
// exchange, and the use is recorded. The owner is not known here, so the
// token must match publishers of a single owner.
func (s *Service) authenticateIDToken(ctx context.Context, raw string) (*Actor, error) {
	tok, pub, err := s.verifyIDToken(ctx, raw, "")
	if err != nil {
		return nil, err
	}
	e := newExchange(tok, pub, s.now())
	e.Direct, e.ExpiresAt = true, tok.Expiry
	if err := s.store.CreatePublisherExchange(ctx, e); err != nil {
		return nil, fmt.Errorf("record exchange: %w", err)
	}
	return publisherActor(e, pub), nil
}

func publisherActor(e *PublisherExchange, p *TrustedPublisher) *Actor {
	return &Actor{
		User:      &User{Owner: Owner{Name: fmt.Sprintf("trusted-publisher-%d", p.ID), Kind: KindUser, Visibility: Private}},
		Scopes:    Scopes{ScopeWritePackage},
		Publisher: &PublisherGrant{Exchange: e, Packages: p.Packages},
	}
}

var errPublisherUploadOnly = &Error{Kind: ErrForbidden, Message: "a trusted publisher's token may only upload files"}

// publisherUpload checks that a trusted publisher's actor may upload pkg to
// owner: its own owner, a package its patterns allow.
func publisherUpload(a *Actor, owner *Owner, pkg string) error {
	g := a.Publisher
	if g.Exchange.OwnerID != owner.ID {
		return Errorf(ErrForbidden, "this trusted publisher's token is not for %q", owner.Name)
	}
	if len(g.Packages) == 0 {
		return nil
	}
	for _, p := range g.Packages {
		if ok, _ := path.Match(p, strings.ToLower(pkg)); ok {
			return nil
		}
	}
	return Errorf(ErrForbidden, "package %q is outside this trusted publisher's package patterns", pkg)
}

// filePublications returns the exchanges a version's files were uploaded
// with, by file id.
func (s *Service) filePublications(ctx context.Context, versionID int64) (map[int64]*PublisherExchange, error) {
	return s.store.FilePublications(ctx, versionID)
}
