package depot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OwnerSettings are the settings an owner's admins choose (site admins set
// quotas: QuotaOverride).
type OwnerSettings struct {
	OwnerID int64
	// ImmutableVersions makes a version's files impossible to add,
	// replace or delete, except by site admins, once the version is
	// ImmutableGrace old (GitHub's immutable releases, with a window for
	// pipelines that upload a version's files one request at a time).
	ImmutableVersions bool
	ImmutableGrace    time.Duration
}

// MaxImmutableGrace bounds the grace window.
const MaxImmutableGrace = 30 * 24 * time.Hour

// OwnerSettingsStore keeps owner settings.
type OwnerSettingsStore interface {
	// OwnerSettings returns an owner's settings, the defaults (mutable
	// versions) when none were set.
	OwnerSettings(ctx context.Context, ownerID int64) (*OwnerSettings, error)
	// SetOwnerSettings stores an owner's settings. ErrNotFound if the owner
	// does not exist.
	SetOwnerSettings(ctx context.Context, set *OwnerSettings) error
}

// ErrImmutable is the error of a change to a sealed version. It is a
// conflict (409): the version's state, not the caller's role, forbids the
// change (the caller may write to the owner), and Gitea answers an upload
// over an existing file 409 too.
var ErrImmutable = &Error{Kind: ErrConflict, Message: "version is immutable"}

// Sealed reports whether a version created at created is immutable at now
// under these settings.
func (o *OwnerSettings) Sealed(created, now time.Time) bool {
	return o != nil && o.ImmutableVersions && !now.Before(created.Add(o.ImmutableGrace))
}

func immutableError(pkg, version string, grace time.Duration, what string) error {
	return &Error{Kind: ErrImmutable, Message: fmt.Sprintf("%s: package %q version %q is immutable (owner setting immutable_versions, %s after the version's first upload); %s is refused",
		ErrImmutable.Message, pkg, version, grace, what)}
}

// checkMutable returns ErrImmutable when the owner's settings seal the
// version pkg/version and a is not a site admin. A missing version is
// mutable. what names the refused change for the message. The check is
// made when the request arrives: a change checked a moment before the
// version seals may commit a moment after.
func (s *Service) checkMutable(ctx context.Context, a *Actor, owner *Owner, typ PackageType, pkg, version, what string) error {
	if !a.IsAnonymous() && a.User.IsAdmin {
		return nil
	}
	set, err := s.store.OwnerSettings(ctx, owner.ID)
	if err != nil {
		return fmt.Errorf("read owner settings: %w", err)
	}
	if !set.ImmutableVersions {
		return nil
	}
	pv, err := s.store.VersionByName(ctx, owner.ID, typ, pkg, version)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("look up version: %w", err)
	}
	if set.Sealed(pv.Version.CreatedAt, s.now()) {
		return immutableError(pv.Package.Name, pv.Version.Version, set.ImmutableGrace, what)
	}
	return nil
}

// OwnerSettingsOf returns an owner's settings for anyone who may read its
// packages. ErrNotFound, ErrForbidden.
func (s *Service) OwnerSettingsOf(ctx context.Context, a *Actor, owner string) (*OwnerSettings, error) {
	o, err := s.ownerFor(ctx, a, owner, AccessRead)
	if err != nil {
		return nil, err
	}
	return s.store.OwnerSettings(ctx, o.ID)
}

// SetOwnerSettings stores an owner's settings. It needs the admin role on
// the owner (the user itself, an organization's admin, a site admin) and,
// with a token, write:organization for an organization or write:user for
// a user. ErrInvalid, ErrNotFound, ErrForbidden, ErrUnauthenticated.
func (s *Service) SetOwnerSettings(ctx context.Context, a *Actor, owner string, set OwnerSettings) (*OwnerSettings, error) {
	if err := validateOwnerSettings(set); err != nil {
		return nil, err
	}
	if a.IsAnonymous() {
		return nil, Errorf(ErrUnauthenticated, "authentication required")
	}
	o, err := s.ownerFor(ctx, a, owner, AccessRead)
	if err != nil {
		return nil, err
	}
	scope := ScopeWriteUser
	if o.Kind == KindOrg {
		scope = ScopeWriteOrganization
	}
	if err := requireScope(a, scope); err != nil {
		return nil, err
	}
	role, err := s.Access(ctx, a, o)
	if err != nil {
		return nil, err
	}
	if role < AccessAdmin {
		return nil, Errorf(ErrForbidden, "only admins of %q may change its settings", o.Name)
	}
	return s.storeOwnerSettings(actingAs(ctx, a), o, set)
}

// AdminSetOwnerSettings is SetOwnerSettings for the admin CLI.
// ErrInvalid, ErrNotFound.
func (s *Service) AdminSetOwnerSettings(ctx context.Context, owner string, set OwnerSettings) (*OwnerSettings, error) {
	if err := validateOwnerSettings(set); err != nil {
		return nil, err
	}
	o, err := s.ownerNamed(ctx, owner)
	if err != nil {
		return nil, err
	}
	return s.storeOwnerSettings(ctx, o, set)
}

// AdminOwnerSettings returns an owner's settings for the admin CLI.
// ErrNotFound.
func (s *Service) AdminOwnerSettings(ctx context.Context, owner string) (*OwnerSettings, error) {
	o, err := s.ownerNamed(ctx, owner)
	if err != nil {
		return nil, err
	}
	return s.store.OwnerSettings(ctx, o.ID)
}

func validateOwnerSettings(set OwnerSettings) error {
	if set.ImmutableGrace < 0 || set.ImmutableGrace > MaxImmutableGrace || set.ImmutableGrace%time.Second != 0 {
		return Errorf(ErrInvalid, "immutable_grace must be whole seconds between 0 and %s, not %s", MaxImmutableGrace, set.ImmutableGrace)
	}
	return nil
}

func (s *Service) storeOwnerSettings(ctx context.Context, o *Owner, set OwnerSettings) (*OwnerSettings, error) {
	set.OwnerID = o.ID
	if !set.ImmutableVersions {
		set.ImmutableGrace = 0
	}
	if err := s.store.SetOwnerSettings(ctx, &set); errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", o.Name)
	} else if err != nil {
		return nil, fmt.Errorf("set owner settings: %w", err)
	}
	s.audit(ctx, nil, AuditSettingsSet, o.Name, "settings", map[string]any{
		"immutable_versions": set.ImmutableVersions, "immutable_grace": set.ImmutableGrace.String()})
	return &set, nil
}
