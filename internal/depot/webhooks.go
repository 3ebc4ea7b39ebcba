package depot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HookEventPackage is the one event a depot webhook reports, as Gitea's
// "package" event.
const HookEventPackage = "package"

// Hook content types, as Gitea's: the JSON payload as the body, or the
// payload as a form field "payload".
const (
	HookContentJSON = "json"
	HookContentForm = "form"
)

// PackageAction is what happened to a package version: Gitea's package
// event actions.
type PackageAction string

// Package actions.
const (
	PackageCreated PackageAction = "created"
	PackageDeleted PackageAction = "deleted"
)

// Hook is a webhook: an endpoint told of the package events of one owner,
// or of every owner (a system hook, OwnerID 0, managed by site admins).
type Hook struct {
	ID      int64
	OwnerID int64 // 0: a system hook
	Name    string
	// URL is the target, http or https, without credentials.
	URL string
	// ContentType is HookContentJSON or HookContentForm.
	ContentType string
	// Secret signs each delivery (HMAC-SHA256 of the body); "" signs with
	// an empty key, as Gitea does.
	Secret    string
	Events    []string
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PackageEvent is a package version created or deleted, recorded in the
// same transaction as the change (the outbox) and delivered afterwards.
type PackageEvent struct {
	ID        int64
	Action    PackageAction
	OwnerID   int64
	Type      PackageType
	Package   string
	Version   string
	VersionID int64
	// VersionCreatedAt and CreatorID describe the version (Gitea's
	// created_at and creator); SenderID is who acted.
	VersionCreatedAt time.Time
	CreatorID        int64
	SenderID         int64
	CreatedAt        time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event to be sent to one hook: the fan-out of an event,
// written with it. Its UUID is the X-Gitea-Delivery of every attempt.
type Delivery struct {
	ID   int64
	UUID string
	Hook Hook
	// HookOwnerKind is the kind of the hook's owner ("" for a system hook).
	HookOwnerKind OwnerKind
	Event         PackageEvent
	State         string
	Attempts      int
	NextAt        time.Time
	// Lease is the claim a worker holds until it finishes; FinishDelivery
	// succeeds only with the same lease.
	Lease     time.Time
	CreatedAt time.Time
	// Body is the payload, fixed by the first attempt so that retries and
	// redeliveries send the same bytes; "" before.
	Body string
}

// DeliveryAttempt is one try of a delivery, for the delivery log.
type DeliveryAttempt struct {
	ID             int64
	DeliveryID     int64
	HookID         int64
	UUID           string
	Action         PackageAction
	StartedAt      time.Time
	Duration       time.Duration
	URL            string
	RequestHeaders string
	RequestBody    string
	// StatusCode is 0 when no response came (Error says why).
	StatusCode      int
	ResponseHeaders string
	ResponseBody    string
	Error           string
	Success         bool
}

// HookStore keeps webhooks and their outbox. Events are recorded by the
// stores' CreateFile, CreateGitLabFile and delete methods themselves, in
// their transactions: when a version is created or deleted and an active
// hook of its owner, or a system hook, exists, they insert the event and
// one pending delivery per such hook.
type HookStore interface {
	// CreateHook inserts h and sets its ID. ErrNotFound if its owner does
	// not exist.
	CreateHook(ctx context.Context, h *Hook) error
	// HookByID returns a hook. ErrNotFound.
	HookByID(ctx context.Context, id int64) (*Hook, error)
	// ListHooks returns an owner's hooks (0: the system hooks) by ID.
	ListHooks(ctx context.Context, ownerID int64) ([]*Hook, error)
	// UpdateHook writes h's URL, content type, secret, events, active flag,
	// name and UpdatedAt. ErrNotFound.
	UpdateHook(ctx context.Context, h *Hook) error
	// DeleteHook removes a hook with its deliveries and their log.
	// ErrNotFound.
	DeleteHook(ctx context.Context, id int64) error
	// ClaimDeliveries leases up to limit pending deliveries due at now
	// whose lease has expired, until lease, and counts an attempt for each;
	// concurrent claimers (other replicas) never get the same delivery
	// while its lease holds.
	ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]*Delivery, error)
	// FinishDelivery records an attempt of a claimed delivery and its next
	// state: d.State, d.NextAt and d.Body are written, the lease released.
	// It records nothing and returns ErrConflict if d.Lease is no longer
	// the delivery's lease (it expired and another worker claimed it).
	FinishDelivery(ctx context.Context, d *Delivery, at *DeliveryAttempt) error
	// ListDeliveryAttempts returns a hook's most recent attempts, newest
	// first, at most limit.
	ListDeliveryAttempts(ctx context.Context, hookID int64, limit int) ([]*DeliveryAttempt, error)
	// Redeliver queues the delivery again as a new delivery of the same
	// hook and event (a new UUID, the same body), due at now, and returns
	// its ID. ErrNotFound if the hook has no such delivery.
	Redeliver(ctx context.Context, hookID, deliveryID int64, now time.Time) (int64, error)
	// PruneDeliveries deletes each hook's finished (delivered or failed)
	// deliveries but its newest keep, with their log, and the events no
	// delivery refers to any more; it returns how many deliveries it
	// deleted. Pending deliveries are never pruned.
	PruneDeliveries(ctx context.Context, keep int) (int64, error)
}

// HookTargets checks a webhook's target against the configured allowed
// hosts (Gitea's [webhook] ALLOWED_HOST_LIST).
type HookTargets interface {
	// CheckTarget returns nil if u's host may be called, else an error
	// whose message names the host and the setting.
	CheckTarget(ctx context.Context, u *url.URL) error
}

// EventNotifier is told when a change may have recorded events, so a
// delivery worker in this process looks at once instead of at its next
// poll.
type EventNotifier interface {
	Notify()
}

// HookInput is what a client sets on a hook; nil fields of an edit keep
// their value.
type HookInput struct {
	Type        string
	URL         *string
	ContentType *string
	Secret      *string
	Events      []string
	Active      *bool
	Name        *string
}

// hookOwner returns the owner whose hooks actor a manages: an owner's
// admins (the user itself, an organization's admins, site admins) manage
// its hooks; organizations hide from non-members as always.
func (s *Service) hookOwner(ctx context.Context, a *Actor, name string, write bool) (*Owner, error) {
	if a.IsAnonymous() {
		return nil, Errorf(ErrUnauthenticated, "authentication required")
	}
	if err := requireScope(a, hookScope(a, name, write)); err != nil {
		return nil, err
	}
	owner, role, err := s.ownerWithRole(ctx, a, name)
	if err != nil {
		return nil, err
	}
	if role < AccessAdmin {
		return nil, Errorf(ErrForbidden, "Must be an organization owner")
	}
	return owner, nil
}

// hookScope is the token scope Gitea's hook routes need: user for a user's
// own hooks, organization for an organization's; write to change them.
func hookScope(a *Actor, owner string, write bool) Scope {
	switch {
	case strings.EqualFold(a.User.Name, owner) && write:
		return ScopeWriteUser
	case strings.EqualFold(a.User.Name, owner):
		return ScopeReadUser
	case write:
		return ScopeWriteOrganization
	}
	return ScopeReadOrganization
}

// requireSiteAdmin allows site admins only (system hooks).
func requireSiteAdmin(a *Actor, write bool) error {
	if a.IsAnonymous() {
		return Errorf(ErrUnauthenticated, "authentication required")
	}
	scope := ScopeReadAdmin
	if write {
		scope = ScopeWriteAdmin
	}
	if err := requireScope(a, scope); err != nil {
		return err
	}
	if !a.User.IsAdmin {
		return Errorf(ErrForbidden, "reqSiteAdmin")
	}
	return nil
}

// ListHooks returns the hooks of an owner whose admin a is. ErrNotFound,
// ErrUnauthenticated, ErrForbidden.
func (s *Service) ListHooks(ctx context.Context, a *Actor, owner string) ([]*Hook, error) {
	o, err := s.hookOwner(ctx, a, owner, false)
	if err != nil {
		return nil, err
	}
	return s.store.ListHooks(ctx, o.ID)
}

// ListSystemHooks returns the system hooks, for site admins.
func (s *Service) ListSystemHooks(ctx context.Context, a *Actor) ([]*Hook, error) {
	if err := requireSiteAdmin(a, false); err != nil {
		return nil, err
	}
	return s.store.ListHooks(ctx, 0)
}

// Hook returns an owner's hook (owner "" for a system hook). ErrNotFound
// also for a hook of another owner.
func (s *Service) Hook(ctx context.Context, a *Actor, owner string, id int64) (*Hook, error) {
	return s.hook(ctx, a, owner, id, false)
}

// hookOwnerID returns the ID of the owner whose hooks a manages (0 for the
// system hooks, owner "").
func (s *Service) hookOwnerID(ctx context.Context, a *Actor, owner string, write bool) (int64, error) {
	if owner == "" {
		return 0, requireSiteAdmin(a, write)
	}
	o, err := s.hookOwner(ctx, a, owner, write)
	if err != nil {
		return 0, err
	}
	return o.ID, nil
}

func (s *Service) hook(ctx context.Context, a *Actor, owner string, id int64, write bool) (*Hook, error) {
	ownerID, err := s.hookOwnerID(ctx, a, owner, write)
	if err != nil {
		return nil, err
	}
	h, err := s.store.HookByID(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && h.OwnerID != ownerID) {
		return nil, Errorf(ErrNotFound, "hook %d not found", id)
	}
	return h, err
}

// CreateHook creates a hook of owner (or a system hook when owner is "")
// after validating it as Gitea does, and more: the target must be http or
// https with a host and no credentials, and allowed by Options.HookTargets.
// ErrInvalid, ErrNotFound, ErrUnauthenticated, ErrForbidden.
func (s *Service) CreateHook(ctx context.Context, a *Actor, owner string, in HookInput) (*Hook, error) {
	ownerID, err := s.hookOwnerID(ctx, a, owner, true)
	if err != nil {
		return nil, err
	}
	if in.Type != "gitea" && in.Type != "forgejo" {
		return nil, Errorf(ErrInvalid, "Invalid hook type: %s", in.Type)
	}
	if in.URL == nil {
		return nil, Errorf(ErrInvalid, "Missing config option: url")
	}
	if in.ContentType == nil {
		return nil, Errorf(ErrInvalid, "Missing config option: content_type")
	}
	now := s.now()
	h := &Hook{OwnerID: ownerID, CreatedAt: now, Events: []string{HookEventPackage}}
	if err := s.applyHook(ctx, h, in); err != nil {
		return nil, err
	}
	h.UpdatedAt = now
	if err := s.store.CreateHook(ctx, h); err != nil {
		return nil, fmt.Errorf("create hook: %w", err)
	}
	s.audit(ctx, a, AuditHookCreate, owner, hookTarget(h.ID), hookDetail(h))
	return h, nil
}

// EditHook changes a hook with in's non-nil fields, validated as at
// creation. ErrInvalid, ErrNotFound, ErrUnauthenticated, ErrForbidden.
func (s *Service) EditHook(ctx context.Context, a *Actor, owner string, id int64, in HookInput) (*Hook, error) {
	h, err := s.hook(ctx, a, owner, id, true)
	if err != nil {
		return nil, err
	}
	if err := s.applyHook(ctx, h, in); err != nil {
		return nil, err
	}
	h.UpdatedAt = s.now()
	if err := s.store.UpdateHook(ctx, h); err != nil {
		return nil, fmt.Errorf("update hook: %w", err)
	}
	s.audit(ctx, a, AuditHookEdit, owner, hookTarget(h.ID), hookDetail(h))
	return h, nil
}

// DeleteHook deletes a hook with its deliveries.
func (s *Service) DeleteHook(ctx context.Context, a *Actor, owner string, id int64) error {
	if _, err := s.hook(ctx, a, owner, id, true); err != nil {
		return err
	}
	if err := s.store.DeleteHook(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, a, AuditHookDelete, owner, hookTarget(id), nil)
	return nil
}

// hookTarget is a hook's audit target.
func hookTarget(id int64) string { return "hook " + strconv.FormatInt(id, 10) }

// hookDetail is what the audit log keeps of a hook: never its secret.
func hookDetail(h *Hook) map[string]any {
	return map[string]any{"url": h.URL, "content_type": h.ContentType, "events": h.Events, "active": h.Active, "name": h.Name}
}

// HookDeliveries returns a hook's delivery log, newest attempt first.
func (s *Service) HookDeliveries(ctx context.Context, a *Actor, owner string, id int64, limit int) ([]*DeliveryAttempt, error) {
	if _, err := s.Hook(ctx, a, owner, id); err != nil {
		return nil, err
	}
	return s.store.ListDeliveryAttempts(ctx, id, limit)
}

// RedeliverHook sends a hook's delivery again, as a new delivery with the
// same payload (Gitea's "Replay"). ErrNotFound.
func (s *Service) RedeliverHook(ctx context.Context, a *Actor, owner string, id, deliveryID int64) error {
	if _, err := s.hook(ctx, a, owner, id, true); err != nil {
		return err
	}
	if _, err := s.store.Redeliver(ctx, id, deliveryID, s.now()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Errorf(ErrNotFound, "delivery %d of hook %d not found", deliveryID, id)
		}
		return err
	}
	s.notifyEvents()
	s.audit(ctx, a, AuditHookRedeliver, owner, hookTarget(id), map[string]any{"delivery_id": deliveryID})
	return nil
}

// applyHook validates in and sets its fields on h.
func (s *Service) applyHook(ctx context.Context, h *Hook, in HookInput) error {
	if in.URL != nil {
		u, err := s.ValidateHookURL(ctx, *in.URL)
		if err != nil {
			return err
		}
		h.URL = u
	}
	if in.ContentType != nil {
		switch *in.ContentType {
		case HookContentJSON, HookContentForm:
			h.ContentType = *in.ContentType
		default:
			return Errorf(ErrInvalid, "Invalid content type")
		}
	}
	if in.Secret != nil {
		h.Secret = *in.Secret
	}
	if in.Events != nil {
		events := []string{}
		for _, e := range in.Events {
			if e != HookEventPackage {
				return Errorf(ErrInvalid, "Invalid event: %q (depot reports only %q)", e, HookEventPackage)
			}
			if !slices.Contains(events, e) {
				events = append(events, e)
			}
		}
		if len(events) == 0 {
			events = []string{HookEventPackage}
		}
		h.Events = events
	}
	if in.Active != nil {
		h.Active = *in.Active
	}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if len(name) > 255 {
			return Errorf(ErrInvalid, "Name must be at most 255 characters")
		}
		h.Name = name
	}
	return nil
}

// ValidateHookURL checks a webhook target: http or https, a host, no
// user or password, and allowed by Options.HookTargets. It returns the URL
// as given. ErrInvalid.
func (s *Service) ValidateHookURL(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return "", Errorf(ErrInvalid, "Invalid url")
	}
	if u.User != nil {
		return "", Errorf(ErrInvalid, "Invalid url: credentials in the URL are not allowed (use the secret)")
	}
	if u.Hostname() == "" {
		return "", Errorf(ErrInvalid, "Invalid url: no host")
	}
	if s.opts.HookTargets != nil {
		if err := s.opts.HookTargets.CheckTarget(ctx, u); err != nil {
			return "", Errorf(ErrInvalid, "Invalid url: %v", err)
		}
	}
	return u.String(), nil
}

// PackageEventParties returns the owner, the sender and the version's
// creator of an event, for its payload; an account gone since is nil.
func (s *Service) PackageEventParties(ctx context.Context, ev *PackageEvent) (owner *Owner, sender, creator *User, err error) {
	owner, err = s.store.OwnerByID(ctx, ev.OwnerID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, nil, err
	}
	user := func(id int64) (*User, error) {
		u, err := s.store.UserByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return u, err
	}
	if sender, err = user(ev.SenderID); err != nil {
		return nil, nil, nil, err
	}
	if creator, err = user(ev.CreatorID); err != nil {
		return nil, nil, nil, err
	}
	return owner, sender, creator, nil
}

// notifyEvents wakes the delivery worker of this process, if any.
func (s *Service) notifyEvents() {
	if s.opts.Events != nil {
		s.opts.Events.Notify()
	}
}
