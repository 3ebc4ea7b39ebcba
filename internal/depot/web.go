package depot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// These are the operations of the web UI. Like the API's, they check every
// rule here, so a browser sees exactly what an API client sees.

// ErrRateLimited is the kind of error for too many attempts; HTTP answers
// 429.
var ErrRateLimited = errors.New("too many requests")

// SessionLifetime is how long a browser stays signed in.
const SessionLifetime = 7 * 24 * time.Hour

// sessionSecretLen is the length of a session secret in hex characters.
const sessionSecretLen = 64

var errSessionEnded = &Error{Kind: ErrUnauthenticated, Message: "your session has ended: sign in again"}

// SignInRequest is a browser's attempt to sign in with a password.
type SignInRequest struct {
	Username, Password string
	// Client identifies where the attempt comes from (the remote address),
	// for rate limiting.
	Client string
}

// SignIn checks a password and starts a session. It returns the session's
// secret, which only the browser's cookie keeps. Attempts are limited per
// client and user name (see SignInLimiter): over the limit it answers
// ErrRateLimited without checking the password. ErrUnauthenticated,
// ErrRateLimited.
func (s *Service) SignIn(ctx context.Context, lim *SignInLimiter, r SignInRequest) (string, *Session, error) {
	keys := signInKeys(r)
	if wait, ok := lim.Allow(keys...); !ok {
		s.auditSignInFailed(ctx, r.Username, "web (rate limited)")
		return "", nil, Errorf(ErrRateLimited, "too many sign-in attempts: try again in %s", wait.Round(time.Second))
	}
	// A session proves a password, never a token.
	u, err := s.store.UserByName(ctx, r.Username)
	if errors.Is(err, ErrNotFound) {
		_ = s.passwords.Verify("", r.Password)
		lim.Fail(keys...)
		s.auditSignInFailed(ctx, r.Username, "web")
		return "", nil, errBadCredentials
	} else if err != nil {
		return "", nil, fmt.Errorf("look up user: %w", err)
	}
	if err := s.passwords.Verify(u.PasswordHash, r.Password); err != nil || u.Disabled {
		lim.Fail(keys...)
		s.auditSignInFailed(ctx, r.Username, "web")
		return "", nil, errBadCredentials
	}
	lim.Succeed(keys[1:]...)
	raw := make([]byte, sessionSecretLen/2)
	if _, err := io.ReadFull(s.opts.Rand, raw); err != nil {
		return "", nil, fmt.Errorf("generate session: %w", err)
	}
	secret := hex.EncodeToString(raw)
	now := s.now()
	sess := &Session{Hash: hashSession(secret), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionLifetime)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	// Now and then, clear sessions that ended long ago.
	if raw[0] == 0 {
		if _, err := s.store.DeleteExpiredSessions(ctx, now); err != nil {
			s.opts.Logger.Warn("deleting expired sessions", "err", err)
		}
	}
	s.audit(ctx, &Actor{User: u}, AuditSignIn, u.Name, u.Name, map[string]any{"via": "web"})
	return secret, sess, nil
}

func signInKeys(r SignInRequest) []string {
	return []string{"client\x00" + r.Client, "user\x00" + r.Client + "\x00" + strings.ToLower(r.Username)}
}

func hashSession(secret string) string {
	sum := sha256.Sum256([]byte("depot-session\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// SessionActor returns the actor a session secret proves: the user, as if
// signed in with a password (no token scopes). ErrUnauthenticated when the
// session does not exist, has expired, or its user is disabled.
func (s *Service) SessionActor(ctx context.Context, secret string) (*Actor, *Session, error) {
	if len(secret) != sessionSecretLen {
		return nil, nil, errSessionEnded
	}
	if _, err := hex.DecodeString(secret); err != nil {
		return nil, nil, errSessionEnded
	}
	sess, err := s.store.SessionByHash(ctx, hashSession(secret))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errSessionEnded
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up session: %w", err)
	}
	if !s.now().Before(sess.ExpiresAt) {
		_ = s.store.DeleteSession(ctx, sess.Hash)
		return nil, nil, errSessionEnded
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errSessionEnded
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up session's user: %w", err)
	}
	if u.Disabled {
		return nil, nil, errSessionEnded
	}
	return &Actor{User: u}, sess, nil
}

// SignOut ends the session with that secret; an unknown one is not an
// error.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	if len(secret) != sessionSecretLen {
		return nil
	}
	return s.store.DeleteSession(ctx, hashSession(secret))
}

// ExplorePage is a page of packages across owners.
type ExplorePage struct {
	Packages []*PackageSummary
	Total    int64
}

// Explore returns a page of the packages a may see, most recently updated
// first, whose package or owner name contains search. ErrInvalid.
func (s *Service) Explore(ctx context.Context, a *Actor, search string, limit, offset int) (*ExplorePage, error) {
	if limit < 0 || offset < 0 {
		return nil, Errorf(ErrInvalid, "page size and offset must not be negative")
	}
	if err := requireScope(a, ScopeReadPackage); err != nil {
		return nil, err
	}
	q := ExploreQuery{Search: strings.TrimSpace(search), Limit: limit, Offset: offset}
	if !a.IsAnonymous() {
		q.ViewerID, q.All = a.User.ID, a.User.IsAdmin
	}
	pkgs, total, err := s.store.ExplorePackages(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("explore packages: %w", err)
	}
	return &ExplorePage{Packages: pkgs, Total: total}, nil
}

// PackageRow is a package with the sizes of its content, as the owner page
// shows it.
type PackageRow struct {
	PackageStat
	// Latest is the package's latest version (see LatestVersion), nil if it
	// has none left.
	Latest *Version
}

// OwnerOverview is an owner with one page of its packages.
type OwnerOverview struct {
	Owner *Owner
	// Packages are one page of those whose name contains the filter, most
	// recently uploaded to first (ties by ascending ID).
	Packages []*PackageRow
	// Total counts the packages whose name contains the filter.
	Total int64
	// Page is the page number, from 1; PerPage its size.
	Page, PerPage int
	// StorageUsed is the size of every file of the owner (whatever the
	// filter), counting a blob shared by several files once per file.
	StorageUsed int64
	// Role is the viewer's role on the owner.
	Role Role
}

// Pages is the number of pages of the packages whose name contains the
// filter (1 when there are none).
func (ov *OwnerOverview) Pages() int64 {
	return max(1, (ov.Total+int64(ov.PerPage)-1)/int64(ov.PerPage))
}

// MaxOwnerPageSize is the largest page OwnerPackages returns.
const MaxOwnerPageSize = 100

// OwnerPackages returns page page (from 1) of perPage of the owner's generic
// packages whose name contains filter, case-insensitively, with their latest
// version and sizes. A page past the last is empty. Versions count whatever
// their GitLab status, as in ListVersions. A private owner is invisible.
// ErrNotFound, ErrForbidden, ErrInvalid.
func (s *Service) OwnerPackages(ctx context.Context, a *Actor, owner, filter string, page, perPage int) (*OwnerOverview, error) {
	if err := requireScope(a, ScopeReadPackage); err != nil {
		return nil, err
	}
	if page < 1 || perPage < 1 || perPage > MaxOwnerPageSize {
		return nil, Errorf(ErrInvalid, "page must be at least 1 and page size between 1 and %d", MaxOwnerPageSize)
	}
	if page > math.MaxInt/perPage {
		return nil, Errorf(ErrInvalid, "page %d is too far", page)
	}
	o, err := s.ownerFor(ctx, a, owner, AccessRead)
	if err != nil {
		return nil, err
	}
	role, err := s.Access(ctx, a, o)
	if err != nil {
		return nil, err
	}
	res, err := s.store.OwnerPackageStats(ctx, OwnerPackageQuery{
		OwnerID: o.ID, Type: TypeGeneric, Search: strings.TrimSpace(filter), Limit: perPage, Offset: (page - 1) * perPage,
	})
	if err != nil {
		return nil, fmt.Errorf("owner packages: %w", err)
	}
	ov := &OwnerOverview{Owner: o, Total: res.Total, Page: page, PerPage: perPage, StorageUsed: res.StorageUsed, Role: role}
	if len(res.Packages) == 0 {
		return ov, nil
	}
	ids := make([]int64, len(res.Packages))
	for i, ps := range res.Packages {
		ids[i] = ps.Package.ID
	}
	versions, err := s.store.VersionsOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("versions of packages: %w", err)
	}
	byPackage := map[int64][]*PackageVersion{}
	for _, v := range versions {
		byPackage[v.PackageID] = append(byPackage[v.PackageID], &PackageVersion{Version: v})
	}
	for _, ps := range res.Packages {
		row := &PackageRow{PackageStat: *ps}
		if latest := LatestVersion(byPackage[ps.Package.ID]); latest != nil {
			row.Latest = &latest.Version
		}
		ov.Packages = append(ov.Packages, row)
	}
	return ov, nil
}

func (s *Service) versionStats(ctx context.Context, packageID int64) (map[int64]VersionStat, error) {
	list, err := s.store.VersionStats(ctx, packageID)
	if err != nil {
		return nil, fmt.Errorf("version stats: %w", err)
	}
	out := make(map[int64]VersionStat, len(list))
	for _, st := range list {
		out[st.VersionID] = st
	}
	return out, nil
}

// VersionRow is a version with the sizes of its content.
type VersionRow struct {
	*PackageVersion
	Files      int64
	Size       int64
	LastUpload time.Time
	Latest     bool
	// Downloads counts the version's downloads recorded so far (written
	// in batches a moment after they happen).
	Downloads int64
}

// PackageDetail is a package with its versions.
type PackageDetail struct {
	Owner   *Owner
	Package Package
	// Versions are sorted by semantic version, highest first, where they
	// parse; the others follow, newest first.
	Versions []*VersionRow
	Role     Role
	// Downloads is the package's downloads per day over the last
	// DownloadDays days.
	Downloads *DownloadChart
}

// PackageVersions returns a package with every version. ErrNotFound,
// ErrForbidden.
func (s *Service) PackageVersions(ctx context.Context, a *Actor, owner, name string) (*PackageDetail, error) {
	page, err := s.ListVersions(ctx, a, PackageQuery{Owner: owner, Type: TypeGeneric, Name: name, ExactName: true})
	if err != nil {
		return nil, err
	}
	if len(page.Versions) == 0 {
		return nil, Errorf(ErrNotFound, "package %q does not exist", name)
	}
	stats, err := s.versionStats(ctx, page.Versions[0].Package.ID)
	if err != nil {
		return nil, err
	}
	role, err := s.Access(ctx, a, page.Owner)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(page.Versions))
	for i, v := range page.Versions {
		ids[i] = v.Version.ID
	}
	counts, err := s.store.VersionDownloads(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("version downloads: %w", err)
	}
	chart, err := s.PackageDownloadChart(ctx, page.Versions[0].Package.ID)
	if err != nil {
		return nil, err
	}
	latest := LatestVersion(page.Versions)
	d := &PackageDetail{Owner: page.Owner, Package: page.Versions[0].Package, Role: role, Downloads: chart}
	for _, v := range page.Versions {
		st := stats[v.Version.ID]
		d.Versions = append(d.Versions, &VersionRow{PackageVersion: v, Files: st.Files, Size: st.Size, LastUpload: st.LastUpload, Latest: v == latest, Downloads: counts[v.Version.ID]})
	}
	slices.SortStableFunc(d.Versions, func(x, y *VersionRow) int {
		if c := CompareVersions(y.Version.Version, x.Version.Version); c != 0 {
			return c
		}
		if newer(&x.Version, &y.Version) {
			return -1
		}
		return 1
	})
	return d, nil
}

// VersionDetail is a version with its files.
type VersionDetail struct {
	Owner   *Owner
	Version *PackageVersion
	Files   []*File
	Latest  bool
	// Downloads counts the version's downloads, FileDownloads each file's
	// by file id.
	Downloads     int64
	FileDownloads map[int64]int64
	// CanDelete says whether the viewer may delete files and the version.
	CanDelete bool
	// Publications are the trusted publisher exchanges files were
	// uploaded with, by file id; PublishedBy is the first file's, when it
	// was uploaded so.
	Publications map[int64]*PublisherExchange
	PublishedBy  *PublisherExchange
}

// VersionFilesDetail returns a version with its files and whether a may
// delete them. With allDigests it fills every file's md5, sha1 and sha512
// (see CompleteDigests: for a large file just uploaded that may wait);
// without, a file may lack them, which its Blob shows as empty strings.
// ErrNotFound, ErrForbidden.
func (s *Service) VersionFilesDetail(ctx context.Context, a *Actor, ref VersionRef, allDigests bool) (*VersionDetail, error) {
	owner, pv, err := s.PackageVersion(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	files, err := s.store.ListFiles(ctx, pv.Version.ID)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	if allDigests {
		for _, f := range files {
			if err := s.CompleteDigests(ctx, &f.Blob); err != nil {
				return nil, fmt.Errorf("digests of file %d: %w", f.ID, err)
			}
		}
	}
	role, err := s.Access(ctx, a, owner)
	if err != nil {
		return nil, err
	}
	d := &VersionDetail{Owner: owner, Version: pv, Files: files, CanDelete: role >= AccessWrite && requireScope(a, ScopeWritePackage) == nil}
	if d.Publications, err = s.filePublications(ctx, pv.Version.ID); err != nil {
		return nil, fmt.Errorf("file publications: %w", err)
	}
	if len(files) > 0 {
		d.PublishedBy = d.Publications[files[0].ID]
	}
	if d.FileDownloads, err = s.store.FileDownloads(ctx, pv.Version.ID); err != nil {
		return nil, fmt.Errorf("file downloads: %w", err)
	}
	counts, err := s.store.VersionDownloads(ctx, []int64{pv.Version.ID})
	if err != nil {
		return nil, fmt.Errorf("version downloads: %w", err)
	}
	d.Downloads = counts[pv.Version.ID]
	if _, latest, err := s.LatestPackageVersion(ctx, a, owner.Name, pv.Package.Type, pv.Package.Name); err == nil {
		d.Latest = latest.Version.ID == pv.Version.ID
	}
	return d, nil
}

// CreateTokenExpiring creates a token for a's own account, valid for
// expiresIn (0: no expiry); a must have signed in with a password. It
// returns the secret, shown only this once. ErrUnauthenticated,
// ErrInvalid, ErrConflict.
func (s *Service) CreateTokenExpiring(ctx context.Context, a *Actor, name string, scopes Scopes, expiresIn time.Duration) (string, *Token, error) {
	if a.IsAnonymous() || a.Scopes != nil {
		return "", nil, Errorf(ErrUnauthenticated, "sign in with your password to create tokens")
	}
	if expiresIn < 0 {
		return "", nil, Errorf(ErrInvalid, "expiry must not be in the past")
	}
	var expires *time.Time
	if expiresIn > 0 {
		t := s.now().Add(expiresIn)
		expires = &t
	}
	return s.CreateToken(actingAs(ctx, a), a.User.Name, name, scopes, expires)
}

// siteAdmin returns ErrForbidden unless a is a site admin signed in with a
// password.
func siteAdmin(a *Actor) error {
	if a.IsAnonymous() {
		return Errorf(ErrUnauthenticated, "sign in first")
	}
	if !a.User.IsAdmin || a.Scopes != nil {
		return Errorf(ErrForbidden, "only site administrators may do this")
	}
	return nil
}

// UsersAs lists every user for a site admin. ErrUnauthenticated,
// ErrForbidden.
func (s *Service) UsersAs(ctx context.Context, a *Actor) ([]*User, error) {
	if err := siteAdmin(a); err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx)
}

// SetUserFlagsAs makes a user a site admin or not and disables or enables
// it, for a site admin, who may not demote or disable itself (a registry
// keeps an admin). ErrUnauthenticated, ErrForbidden, ErrNotFound,
// ErrInvalid.
func (s *Service) SetUserFlagsAs(ctx context.Context, a *Actor, username string, isAdmin, disabled bool) error {
	if err := siteAdmin(a); err != nil {
		return err
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return err
	}
	return s.setUserFlags(ctx, a, u, isAdmin, disabled)
}

// setUserFlags sets u's flags for a site admin a, and updates u. It holds
// the rule the web UI and the API share: an admin may not demote or
// disable itself, so a registry keeps an admin. ErrInvalid, ErrNotFound.
func (s *Service) setUserFlags(ctx context.Context, a *Actor, u *User, isAdmin, disabled bool) error {
	if u.ID == a.User.ID && (!isAdmin || disabled) {
		return Errorf(ErrInvalid, "you cannot remove your own admin rights or disable yourself")
	}
	if err := s.store.SetUserFlags(ctx, u.ID, isAdmin, disabled); errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "user %q not found", u.Name)
	} else if err != nil {
		return fmt.Errorf("set user flags: %w", err)
	}
	// Cached tokens carry the user's old flags: a disabled user's tokens
	// must stop at once in this process (other processes within the
	// cache's TTL, as for a revoked token).
	s.tokens.dropUser(u.ID)
	s.audit(ctx, a, AuditUserEdit, u.Name, u.Name, map[string]any{
		"admin": map[string]bool{"old": u.IsAdmin, "new": isAdmin}, "disabled": map[string]bool{"old": u.Disabled, "new": disabled}})
	u.IsAdmin, u.Disabled = isAdmin, disabled
	return nil
}

// OrgMembersAs returns an organization's members for one of its admins.
// ErrNotFound when a may not see it, ErrForbidden when a may see but not
// administer it.
func (s *Service) OrgMembersAs(ctx context.Context, a *Actor, org string) (*Owner, []*OrgMember, error) {
	if err := signedIn(a, ScopeReadOrganization); err != nil {
		return nil, nil, err
	}
	o, err := s.Org(ctx, a, org)
	if err != nil {
		return nil, nil, err
	}
	role, err := s.Access(ctx, a, o)
	if err != nil {
		return nil, nil, err
	}
	if role < AccessAdmin {
		return nil, nil, Errorf(ErrForbidden, "you must be an admin of organization %q", o.Name)
	}
	ms, err := s.store.OrgMembers(ctx, o.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("list members: %w", err)
	}
	return o, ms, nil
}
