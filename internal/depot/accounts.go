package depot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// These are the account operations of the Gitea v1 API: each checks the
// token scope its route group needs first (as Gitea does), then the actor's
// rights.

// SeesPrivateDetails reports whether a may see u's private details (admin
// flag, activity): a site admin or u itself.
func (a *Actor) SeesPrivateDetails(u *Owner) bool {
	return !a.IsAnonymous() && (a.User.IsAdmin || a.User.ID == u.ID)
}

var (
	errTokenRequired = &Error{Kind: ErrUnauthenticated, Message: "token is required"}
	errNotSiteAdmin  = &Error{Kind: ErrForbidden, Message: "user should be the site admin"}
)

// signedIn returns errTokenRequired for anonymous actors, then checks want.
func signedIn(a *Actor, want ...Scope) error {
	if a.IsAnonymous() {
		return errTokenRequired
	}
	return requireScope(a, want...)
}

// apiSiteAdmin checks what Gitea's /admin routes check: a signed-in site
// admin whose token, if any, grants want. Unlike the web UI's siteAdmin, a
// token will do.
func apiSiteAdmin(a *Actor, want Scope) error {
	if err := signedIn(a, want); err != nil {
		return err
	}
	if !a.User.IsAdmin {
		return errNotSiteAdmin
	}
	return nil
}

// Me returns the actor's own account. ErrUnauthenticated, ErrForbidden.
func (s *Service) Me(ctx context.Context, a *Actor) (*User, error) {
	if err := signedIn(a, ScopeReadUser); err != nil {
		return nil, err
	}
	return a.User, nil
}

// Profile returns the named user or organization as a user profile. A
// private owner is invisible to those without access. ErrForbidden,
// ErrNotFound.
func (s *Service) Profile(ctx context.Context, a *Actor, name string) (*User, error) {
	if err := requireScope(a, ScopeReadUser); err != nil {
		return nil, err
	}
	o, err := s.visibleOwner(ctx, a, name)
	if err != nil {
		return nil, Errorf(ErrNotFound, "user %q does not exist", name)
	}
	if o.Kind == KindOrg {
		return &User{Owner: *o}, nil
	}
	return s.store.UserByName(ctx, o.Name)
}

// visibleOwner returns the named owner if a may see it; ErrNotFound
// otherwise.
func (s *Service) visibleOwner(ctx context.Context, a *Actor, name string) (*Owner, error) {
	o, err := s.store.OwnerByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "%q does not exist", name)
	} else if err != nil {
		return nil, fmt.Errorf("look up owner: %w", err)
	}
	role, err := s.Access(ctx, a, o)
	if err != nil {
		return nil, err
	}
	if role == AccessNone {
		return nil, Errorf(ErrNotFound, "%q does not exist", name)
	}
	return o, nil
}

// tokenManager checks that a may manage username's tokens: signed in with
// a password (as Gitea requires Basic authentication here) and the user
// itself or a site admin.
func (s *Service) tokenManager(ctx context.Context, a *Actor, username string) (*User, error) {
	if a.IsAnonymous() || a.Scopes != nil {
		return nil, Errorf(ErrUnauthenticated, "auth required")
	}
	if !a.User.IsAdmin && !strings.EqualFold(a.User.Name, username) {
		return nil, Errorf(ErrForbidden, "doer should be the site admin or be same as the contextUser")
	}
	return s.User(ctx, username)
}

// CreateTokenFor creates a token for username on behalf of a, who must
// have signed in with a password and be that user or a site admin. It
// returns the secret, shown only this once. ErrUnauthenticated,
// ErrForbidden, ErrNotFound, ErrInvalid, ErrConflict.
func (s *Service) CreateTokenFor(ctx context.Context, a *Actor, username, name string, scopes Scopes) (string, *Token, error) {
	if _, err := s.tokenManager(ctx, a, username); err != nil {
		return "", nil, err
	}
	if len(scopes) == 0 {
		return "", nil, Errorf(ErrInvalid, "access token must have a scope")
	}
	if name == "" {
		return "", nil, Errorf(ErrInvalid, "access token name is required")
	}
	return s.CreateToken(actingAs(ctx, a), username, name, scopes, nil)
}

// ListTokensFor lists username's tokens for a (see CreateTokenFor).
func (s *Service) ListTokensFor(ctx context.Context, a *Actor, username string) ([]*Token, error) {
	u, err := s.tokenManager(ctx, a, username)
	if err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, u.ID)
}

// DeleteTokenFor deletes username's token named by its ID or its name, for
// a (see CreateTokenFor). ErrNotFound.
func (s *Service) DeleteTokenFor(ctx context.Context, a *Actor, username, idOrName string) error {
	u, err := s.tokenManager(ctx, a, username)
	if err != nil {
		return err
	}
	tokens, err := s.store.ListTokens(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	name := ""
	if id, err := strconv.ParseInt(idOrName, 10, 64); err == nil {
		for _, t := range tokens {
			if t.ID == id {
				name = t.Name
			}
		}
	}
	if name == "" {
		for _, t := range tokens {
			if t.Name == idOrName {
				name = t.Name
			}
		}
	}
	if name == "" {
		return Errorf(ErrNotFound, "access token %q does not exist", idOrName)
	}
	return s.RevokeToken(actingAs(ctx, a), u.Name, name)
}

// Org returns an organization a may see. ErrForbidden, ErrNotFound.
func (s *Service) Org(ctx context.Context, a *Actor, name string) (*Owner, error) {
	if err := requireScope(a, ScopeReadOrganization); err != nil {
		return nil, err
	}
	o, err := s.visibleOwner(ctx, a, name)
	if err != nil || o.Kind != KindOrg {
		if err == nil || errors.Is(err, ErrNotFound) {
			return nil, Errorf(ErrNotFound, "organization %q does not exist", name)
		}
		return nil, err
	}
	return o, nil
}

// CreateOrgAs creates an organization whose first admin is a.
// ErrUnauthenticated, ErrForbidden, ErrInvalid, ErrConflict.
func (s *Service) CreateOrgAs(ctx context.Context, a *Actor, name string, vis Visibility) (*Owner, error) {
	if err := signedIn(a, ScopeWriteOrganization); err != nil {
		return nil, err
	}
	if vis == "" {
		vis = Public
	}
	return s.CreateOrg(actingAs(ctx, a), name, a.User.Name, vis)
}

// MyOrgs returns the organizations a is a member of. A token needs
// read:user and read:organization, as Gitea's /user/orgs.
// ErrUnauthenticated, ErrForbidden.
func (s *Service) MyOrgs(ctx context.Context, a *Actor) ([]*Owner, error) {
	if err := signedIn(a, ScopeReadUser, ScopeReadOrganization); err != nil {
		return nil, err
	}
	return s.store.OrgsOfUser(ctx, a.User.ID)
}

// depot has no public memberships: who belongs to an organization is shown
// to its members and site admins only. It is Gitea's default (new
// memberships are concealed unless DEFAULT_ORG_MEMBER_VISIBLE is set), and
// depot has no route to publicize one, so the rules below are Gitea's with
// every membership concealed.

// UserOrgs returns the organizations of the named user that a may see: all
// of them to the user itself and to site admins, none to others (Gitea
// shows them public memberships only). An organization's name answers
// none. A token needs read:user and read:organization. A private user is
// invisible to those without access. ErrUnauthenticated, ErrForbidden,
// ErrNotFound.
func (s *Service) UserOrgs(ctx context.Context, a *Actor, username string) ([]*Owner, error) {
	if err := signedIn(a, ScopeReadUser, ScopeReadOrganization); err != nil {
		return nil, err
	}
	o, err := s.visibleOwner(ctx, a, username)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "user %q does not exist", username)
	} else if err != nil {
		return nil, err
	}
	if o.Kind != KindUser || !a.SeesPrivateDetails(o) {
		return nil, nil
	}
	return s.store.OrgsOfUser(ctx, o.ID)
}

// OrgMembers returns the members of an organization a may see, with their
// roles, ordered by name: all of them to its members and to site admins,
// none to others (Gitea shows them public memberships only). A token needs
// read:organization. ErrUnauthenticated, ErrForbidden, ErrNotFound.
func (s *Service) OrgMembers(ctx context.Context, a *Actor, org string) ([]*OrgMember, error) {
	if err := signedIn(a, ScopeReadOrganization); err != nil {
		return nil, err
	}
	o, sees, err := s.seesMembers(ctx, a, org)
	if err != nil || !sees {
		return nil, err
	}
	ms, err := s.store.OrgMembers(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return ms, nil
}

// SeesMembers reports whether a, signed in, may see an organization's
// memberships: its members and site admins may, others see public
// memberships only (of which depot has none), as in Gitea. A token needs
// read:organization. ErrUnauthenticated, ErrForbidden, ErrNotFound.
func (s *Service) SeesMembers(ctx context.Context, a *Actor, org string) (bool, error) {
	if err := signedIn(a, ScopeReadOrganization); err != nil {
		return false, err
	}
	_, sees, err := s.seesMembers(ctx, a, org)
	return sees, err
}

func (s *Service) seesMembers(ctx context.Context, a *Actor, org string) (*Owner, bool, error) {
	o, err := s.Org(ctx, a, org)
	if err != nil {
		return nil, false, err
	}
	if a.User.IsAdmin {
		return o, true, nil
	}
	role, err := s.store.MemberRole(ctx, o.ID, a.User.ID)
	if err != nil {
		return nil, false, fmt.Errorf("look up membership: %w", err)
	}
	return o, role != AccessNone, nil
}

// IsPublicMember answers whether username is a public member of org: never,
// since depot has no public memberships, so ErrNotFound once the
// organization and the user are found. Anyone may ask, as in Gitea; a token
// needs read:organization. ErrForbidden, ErrNotFound.
func (s *Service) IsPublicMember(ctx context.Context, a *Actor, org, username string) error {
	if err := requireScope(a, ScopeReadOrganization); err != nil {
		return err
	}
	o, err := s.Org(ctx, a, org)
	if err != nil {
		return err
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return err
	}
	return Errorf(ErrNotFound, "%s is not a public member of %s", u.Name, o.Name)
}

// PublicOrgMembers returns the public members of an organization a may
// see: none, since depot has no public memberships. Anyone may ask, as in
// Gitea; a token needs read:organization. ErrForbidden, ErrNotFound.
func (s *Service) PublicOrgMembers(ctx context.Context, a *Actor, org string) ([]*OrgMember, error) {
	if _, err := s.Org(ctx, a, org); err != nil {
		return nil, err
	}
	return nil, nil
}

// OwnerPage is one page of users or organizations.
type OwnerPage struct {
	Owners []*User
	// Total counts the owners of every page.
	Total int64
}

// Orgs returns a page of organizations, ordered by name: public ones, and
// private ones too for site admins. As in Gitea, members of a private
// organization do not find it here (MyOrgs lists it). A token needs
// read:organization. ErrForbidden, ErrInvalid.
func (s *Service) Orgs(ctx context.Context, a *Actor, limit, offset int) (*OwnerPage, error) {
	if err := requireScope(a, ScopeReadOrganization); err != nil {
		return nil, err
	}
	return s.searchOwners(ctx, OwnerQuery{Kind: KindOrg, PublicOnly: a.IsAnonymous() || !a.User.IsAdmin, Limit: limit, Offset: offset})
}

func (s *Service) searchOwners(ctx context.Context, q OwnerQuery) (*OwnerPage, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, Errorf(ErrInvalid, "page size and offset must not be negative")
	}
	owners, total, err := s.store.SearchOwners(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search owners: %w", err)
	}
	return &OwnerPage{Owners: owners, Total: total}, nil
}

// SearchUsersAs returns a page of the users q selects (its Kind is set to
// users), ordered by name, for a site admin; a token needs read:admin.
// ErrUnauthenticated, ErrForbidden, ErrInvalid.
func (s *Service) SearchUsersAs(ctx context.Context, a *Actor, q OwnerQuery) (*OwnerPage, error) {
	if err := apiSiteAdmin(a, ScopeReadAdmin); err != nil {
		return nil, err
	}
	q.Kind = KindUser
	q.Search = strings.TrimSpace(q.Search)
	return s.searchOwners(ctx, q)
}

// UserEdit changes a user's flags; a nil field is left as it is.
type UserEdit struct {
	IsAdmin  *bool
	Disabled *bool
	// Check, when set, is called with the user once the actor's rights are
	// checked and before anything changes; an error it returns is returned
	// as it is. An adapter validates its dialect's request with it, in the
	// order Gitea answers: rights, then the user, then the request.
	Check func(u *User) error
}

// EditUserAs changes a user's admin and disabled flags for a site admin,
// with the web UI's rule (see SetUserFlagsAs): nobody demotes or disables
// itself. A token needs write:admin. It returns the user as it now is.
// ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrInvalid.
func (s *Service) EditUserAs(ctx context.Context, a *Actor, username string, e UserEdit) (*User, error) {
	if err := apiSiteAdmin(a, ScopeWriteAdmin); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return nil, err
	}
	if e.Check != nil {
		if err := e.Check(u); err != nil {
			return nil, err
		}
	}
	isAdmin, disabled := u.IsAdmin, u.Disabled
	if e.IsAdmin != nil {
		isAdmin = *e.IsAdmin
	}
	if e.Disabled != nil {
		disabled = *e.Disabled
	}
	if err := s.setUserFlags(ctx, a, u, isAdmin, disabled); err != nil {
		return nil, err
	}
	return u, nil
}

// orgAdmin returns the organization and user named if a administers the
// organization: ErrNotFound if a may not see it, ErrForbidden if a may see
// but not administer it.
func (s *Service) orgAdmin(ctx context.Context, a *Actor, org, username string) (*Owner, *User, error) {
	if err := signedIn(a, ScopeWriteOrganization); err != nil {
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
	u, err := s.User(ctx, username)
	if err != nil {
		return nil, nil, err
	}
	return o, u, nil
}

// SetMemberAs gives a user a role in an organization that a administers.
// ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrInvalid.
func (s *Service) SetMemberAs(ctx context.Context, a *Actor, org, username string, role Role) error {
	if role < AccessRead || role > AccessAdmin {
		return Errorf(ErrInvalid, "role must be read, write or admin")
	}
	o, u, err := s.orgAdmin(ctx, a, org, username)
	if err != nil {
		return err
	}
	if err := s.store.SetMember(ctx, Member{OrgID: o.ID, UserID: u.ID, Role: role}); err != nil {
		return err
	}
	s.audit(ctx, a, AuditMemberSet, o.Name, u.Name, map[string]any{"role": role.String()})
	return nil
}

// RemoveMemberAs removes a user from an organization that a administers;
// removing a non-member changes nothing, as in Gitea. ErrConflict for the
// last admin; ErrUnauthenticated, ErrForbidden, ErrNotFound.
func (s *Service) RemoveMemberAs(ctx context.Context, a *Actor, org, username string) error {
	o, u, err := s.orgAdmin(ctx, a, org, username)
	if err != nil {
		return err
	}
	err = s.store.RemoveMember(ctx, o.ID, u.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case errors.Is(err, ErrConflict):
		return Errorf(ErrConflict, "%s is the last admin of %s: an organization keeps at least one", u.Name, o.Name)
	case err == nil:
		s.audit(ctx, a, AuditMemberRemove, o.Name, u.Name, nil)
	}
	return err
}

// MemberRoleOf returns username's role in an organization a may see; a must
// be signed in. ErrNotFound when the user is not a member.
func (s *Service) MemberRoleOf(ctx context.Context, a *Actor, org, username string) (Role, error) {
	if err := signedIn(a, ScopeReadOrganization); err != nil {
		return AccessNone, err
	}
	o, sees, err := s.seesMembers(ctx, a, org)
	if err != nil {
		return AccessNone, err
	}
	u, err := s.User(ctx, username)
	if err != nil {
		return AccessNone, err
	}
	if !sees {
		return AccessNone, Errorf(ErrNotFound, "%s is not a public member of %s", u.Name, o.Name)
	}
	role, err := s.store.MemberRole(ctx, o.ID, u.ID)
	if err != nil {
		return AccessNone, err
	}
	if role == AccessNone {
		return AccessNone, Errorf(ErrNotFound, "%s is not a member of %s", u.Name, o.Name)
	}
	return role, nil
}

// CreateUserAs creates an account on behalf of a, who must be a site admin.
// ErrUnauthenticated, ErrForbidden, ErrInvalid, ErrConflict.
func (s *Service) CreateUserAs(ctx context.Context, a *Actor, nu NewUser) (*User, error) {
	if err := apiSiteAdmin(a, ScopeWriteAdmin); err != nil {
		return nil, err
	}
	return s.CreateUser(actingAs(ctx, a), nu)
}
