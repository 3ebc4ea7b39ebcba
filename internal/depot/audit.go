package depot

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Audit actions: what an AuditEvent records. A filter on a prefix before a
// dot ("file", "token") selects every action of that family.
const (
	AuditFileUpload          = "file.upload"
	AuditFileDelete          = "file.delete"
	AuditVersionDelete       = "version.delete"
	AuditPackageDelete       = "package.delete"
	AuditPackageLink         = "package.link"
	AuditPackageUnlink       = "package.unlink"
	AuditTokenCreate         = "token.create"
	AuditTokenRevoke         = "token.revoke"
	AuditProjectTokenCreate  = "project_token.create"
	AuditProjectTokenRevoke  = "project_token.revoke"
	AuditPublisherExchange   = "publisher.exchange"
	AuditPublisherCreate     = "publisher.create"
	AuditPublisherDelete     = "publisher.delete"
	AuditMemberSet           = "member.set"
	AuditMemberRemove        = "member.remove"
	AuditUserCreate          = "user.create"
	AuditUserEdit            = "user.edit"
	AuditOrgCreate           = "org.create"
	AuditProjectCreate       = "project.create"
	AuditSettingsSet         = "settings.set"
	AuditQuotaSet            = "quota.set"
	AuditPackageSettingsSet  = "package_settings.set"
	AuditHookCreate          = "hook.create"
	AuditHookEdit            = "hook.edit"
	AuditHookDelete          = "hook.delete"
	AuditHookRedeliver       = "hook.redeliver"
	AuditSignIn              = "signin"
	AuditSignInFailed        = "signin.failed"
	AuditActorAdminCLI       = "admin CLI"
	auditActorSystem         = "system"
	maxAuditDetail           = 4096
	maxAuditFilterLen        = 255
	auditTargetSep           = "/"
	auditFailedAttemptsField = "attempts"
)

// AuditEvent is one entry of the audit log: who did what to which target
// of which owner, when and from where.
type AuditEvent struct {
	ID   int64
	Time time.Time
	// ActorID is the user who acted, 0 for a system actor (a cleanup rule,
	// a trusted publisher, the admin CLI) or an unknown one (a failed
	// sign-in).
	ActorID int64
	// Actor is the user's name, or the system actor's description
	// ("cleanup rule 3", "trusted publisher 5", "admin CLI"), or for a
	// failed sign-in the user name that was tried.
	Actor string
	// Addr is the client's IP address, "" when the change did not come
	// from a request (the admin CLI, a scheduled job).
	Addr string
	// Action is one of the Audit* actions.
	Action string
	// Owner is the name of the user or organization whose thing changed,
	// "" for site-wide changes.
	Owner string
	// Target names what changed within the owner: "generic/pkg/1.0/a.tgz"
	// for a file, a token's or member's name, a hook's ID.
	Target string
	// Detail is a JSON object with what else is worth knowing (sizes,
	// digests, old and new values); "" or "{}" for nothing.
	Detail string
}

// AuditQuery selects audit events. Empty fields select everything.
type AuditQuery struct {
	// Owner and Actor match case-insensitively.
	Owner, Actor string
	// Action matches the action itself or, without a dot, its family
	// ("token" selects token.create and token.revoke).
	Action string
	// Since and Until bound the time, inclusive and exclusive.
	Since, Until time.Time
	// Before, when not 0, selects events with smaller IDs (the next page
	// newest first); After, when not 0, larger IDs (oldest first).
	Before, After int64
	// Oldest orders oldest first; the default is newest first.
	Oldest bool
	// Limit is the page size: 0 means DefaultAuditLimit, at most
	// MaxAuditLimit.
	Limit int
}

// Audit page sizes.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditStore keeps the audit log.
type AuditStore interface {
	// InsertAuditEvents appends events in one transaction and sets their
	// IDs.
	InsertAuditEvents(ctx context.Context, evs []*AuditEvent) error
	// ListAuditEvents returns one page of the events q selects, by ID in
	// q's order (IDs grow with time within one database).
	ListAuditEvents(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)
	// PruneAuditEvents deletes at most limit of the oldest events older
	// than before and returns how many it deleted.
	PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Auditor receives the audit events of the Service, complete (time,
// actor, address). Record must not fail the change it reports, which has
// already happened: it handles its own errors.
type Auditor interface {
	Record(ctx context.Context, ev AuditEvent)
}

type (
	auditActorKey struct{}
	clientAddrKey struct{}
	actingKey     struct{}
)

// WithAuditActor marks ctx's changes as made by a system actor, such as
// "admin CLI" or "cleanup rule 3", when no user acts: the audit log names
// it as the actor.
func WithAuditActor(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, auditActorKey{}, name)
}

// WithClientAddr records the client address of the request ctx serves;
// the HTTP adapters set it (see httpapi.ClientAddr).
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr returns the address WithClientAddr recorded, "" if none.
func ClientAddr(ctx context.Context) string {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	return s
}

// actingAs passes a to the actor-less methods the ...As methods call, so
// their audit events name a.
func actingAs(ctx context.Context, a *Actor) context.Context {
	if a.IsAnonymous() {
		return ctx
	}
	return context.WithValue(ctx, actingKey{}, a)
}

// auditActor names who acts: a, else the actor actingAs passed, else the
// system actor WithAuditActor set, else "system".
func auditActor(ctx context.Context, a *Actor) (int64, string) {
	if a.IsAnonymous() {
		a, _ = ctx.Value(actingKey{}).(*Actor)
	}
	switch {
	case a.IsAnonymous() || a.User.ID == 0 && a.Publisher == nil && a.ProjectToken == nil:
		// Nobody, or a stand-in with no account (a scheduled job's).
		if name, ok := ctx.Value(auditActorKey{}).(string); ok && name != "" {
			return 0, name
		}
		if !a.IsAnonymous() && a.User.Name != "" {
			return 0, a.User.Name
		}
		return 0, auditActorSystem
	case a.Publisher != nil:
		e := a.Publisher.Exchange
		return 0, fmt.Sprintf("trusted publisher %d (%s)", e.PublisherID, cmpOr(e.Repository, e.Subject))
	case a.ProjectToken != nil:
		return 0, fmt.Sprintf("%s token %d (%s)", a.ProjectToken.Kind, a.ProjectToken.ID, a.ProjectToken.Name)
	}
	return a.User.ID, a.User.Name
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// audit records one event of a change a made (a may be nil: see
// auditActor). detail is marshalled to a JSON object; nil for none.
func (s *Service) audit(ctx context.Context, a *Actor, action, owner, target string, detail map[string]any) {
	s.recordAudit(ctx, s.auditEvent(ctx, a, action, owner, target, detail))
}

// auditEvent returns the complete event (time, actor, address, detail) of
// a change a makes.
func (s *Service) auditEvent(ctx context.Context, a *Actor, action, owner, target string, detail map[string]any) AuditEvent {
	id, name := auditActor(ctx, a)
	return s.completeAudit(ctx, AuditEvent{ActorID: id, Actor: name, Action: action, Owner: owner, Target: target}, detail)
}

// completeAudit sets ev's time, address and detail.
func (s *Service) completeAudit(ctx context.Context, ev AuditEvent, detail map[string]any) AuditEvent {
	ev.Time = s.now()
	ev.Addr = ClientAddr(ctx)
	if len(detail) > 0 {
		b, err := json.Marshal(detail)
		if err == nil && len(b) <= maxAuditDetail {
			ev.Detail = string(b)
		}
	}
	return ev
}

// recordAudit hands a complete event to the Auditor, after its change
// committed.
func (s *Service) recordAudit(ctx context.Context, ev AuditEvent) {
	// The change is made: a request cancelled since must not lose its
	// entry.
	s.auditor().Record(context.WithoutCancel(ctx), ev)
}

// auditor is Options.Audit, or one writing straight to the store.
func (s *Service) auditor() Auditor {
	if s.opts.Audit != nil {
		return s.opts.Audit
	}
	return storeAuditor{s}
}

// storeAuditor writes each event at once; errors are logged.
type storeAuditor struct{ s *Service }

func (d storeAuditor) Record(ctx context.Context, ev AuditEvent) {
	if err := d.s.store.InsertAuditEvents(ctx, []*AuditEvent{&ev}); err != nil {
		d.s.opts.Logger.ErrorContext(ctx, "audit log: event lost", "action", ev.Action, "actor", ev.Actor, "err", err)
	}
}

// fileTarget is the audit target of a file or version: its path within
// the owner.
func fileTarget(typ PackageType, parts ...string) string {
	return string(typ) + auditTargetSep + strings.Join(parts, auditTargetSep)
}

// auditSignInFailed records a refused sign-in: via is "web" or "basic".
func (s *Service) auditSignInFailed(ctx context.Context, username, via string) {
	if len(username) > maxAuditFilterLen {
		username = username[:maxAuditFilterLen]
	}
	s.recordAudit(ctx, s.completeAudit(ctx, AuditEvent{Actor: username, Action: AuditSignInFailed, Target: username},
		map[string]any{"via": via, auditFailedAttemptsField: 1}))
}

var auditActionRE = regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)?$`)

// ValidateAuditQuery checks a query's filters and limit, and sets the
// default limit. ErrInvalid.
func ValidateAuditQuery(q *AuditQuery) error {
	if q.Action != "" && !auditActionRE.MatchString(q.Action) {
		return Errorf(ErrInvalid, "action %q: want an action such as file.upload, or a family such as file", q.Action)
	}
	if len(q.Owner) > maxAuditFilterLen || len(q.Actor) > maxAuditFilterLen {
		return Errorf(ErrInvalid, "owner and actor filters have at most %d characters", maxAuditFilterLen)
	}
	if q.Limit < 0 {
		return Errorf(ErrInvalid, "limit must not be negative")
	}
	if q.Before < 0 || q.After < 0 {
		return Errorf(ErrInvalid, "before and after must not be negative")
	}
	if q.Limit == 0 {
		q.Limit = DefaultAuditLimit
	}
	q.Limit = min(q.Limit, MaxAuditLimit)
	return nil
}

// ParseAuditTime reads a bound of an audit query: an RFC 3339 time, a
// date (midnight UTC), or an age before now (a Go duration, or whole days
// as "7d"). "" is no bound. ErrInvalid.
func ParseAuditTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100*366 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, Errorf(ErrInvalid, "%q is neither a time (RFC 3339 or YYYY-MM-DD) nor an age (e.g. 36h, 7d)", s)
}

// AuditLog returns a page of the whole audit log, for site admins.
// ErrUnauthenticated, ErrForbidden, ErrInvalid.
func (s *Service) AuditLog(ctx context.Context, a *Actor, q AuditQuery) ([]*AuditEvent, error) {
	if err := requireSiteAdmin(a, false); err != nil {
		return nil, err
	}
	return s.AdminAuditLog(ctx, q)
}

// AdminAuditLog returns a page of the audit log without an access check,
// for the admin CLI. ErrInvalid.
func (s *Service) AdminAuditLog(ctx context.Context, q AuditQuery) ([]*AuditEvent, error) {
	if err := ValidateAuditQuery(&q); err != nil {
		return nil, err
	}
	return s.store.ListAuditEvents(ctx, q)
}

// OwnerAuditLog returns a page of one owner's audit log, for its admins
// (the user itself, an organization's admins, site admins); q.Owner is
// set to it. ErrNotFound, ErrUnauthenticated, ErrForbidden, ErrInvalid.
func (s *Service) OwnerAuditLog(ctx context.Context, a *Actor, owner string, q AuditQuery) ([]*AuditEvent, error) {
	o, err := s.hookOwner(ctx, a, owner, false)
	if err != nil {
		return nil, err
	}
	q.Owner = o.Name
	if err := ValidateAuditQuery(&q); err != nil {
		return nil, err
	}
	return s.store.ListAuditEvents(ctx, q)
}
