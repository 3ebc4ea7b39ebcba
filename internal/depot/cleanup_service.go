package depot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CleanupItem is a version a cleanup deletes (or would, but for its owner's
// immutable_versions setting), with its files.
type CleanupItem struct {
	RuleID  int64
	Type    PackageType
	Package string
	Version CleanupVersion
	Files   []*File
	// Bytes is the sum of the files' sizes (blobs shared with files that
	// stay are not freed).
	Bytes int64
	// Err is why Apply could not delete it ("" when it did, or in a
	// preview).
	Err string
}

// CleanupPlan is what the enabled rules of an owner delete: exactly the
// versions an Apply at the same moment deletes, in rule, package and rank
// order.
type CleanupPlan struct {
	Owner *Owner
	Rules []*CleanupRule
	// Delete are the versions that go.
	Delete []CleanupItem
	// Immutable are the versions a rule would delete that the owner's
	// immutable_versions setting keeps ("kept: immutable").
	Immutable []CleanupItem
	// Kept counts the versions the rules keep otherwise.
	Kept int64
	At   time.Time
}

// CleanupSender is the webhook sender id of deletes by a cleanup rule: no
// account, so payloads name Gitea's Ghost user (Gitea's cleanup sends no
// event at all).
const CleanupSender int64 = 0

// cleanupPage is how many packages a cleanup reads at a time.
const cleanupPage = 100

// cleanupOwner returns the owner named name if a may manage its cleanup
// rules: owner admins and site admins; with a token, write:organization
// for an organization or write:user for a user (read:… for reads).
// ErrNotFound, ErrForbidden, ErrUnauthenticated.
func (s *Service) cleanupOwner(ctx context.Context, a *Actor, name string, write bool) (*Owner, error) {
	if a.IsAnonymous() {
		return nil, Errorf(ErrUnauthenticated, "authentication required")
	}
	o, err := s.ownerFor(ctx, a, name, AccessRead)
	if err != nil {
		return nil, err
	}
	scope := map[bool]Scope{true: ScopeWriteUser, false: ScopeReadUser}[write]
	if o.Kind == KindOrg {
		scope = map[bool]Scope{true: ScopeWriteOrganization, false: ScopeReadOrganization}[write]
	}
	if err := requireScope(a, scope); err != nil {
		return nil, err
	}
	role, err := s.Access(ctx, a, o)
	if err != nil {
		return nil, err
	}
	if role < AccessAdmin {
		return nil, Errorf(ErrForbidden, "only admins of %q may manage its cleanup rules", o.Name)
	}
	return o, nil
}

// CleanupRules returns an owner's cleanup rules. ErrNotFound, ErrForbidden,
// ErrUnauthenticated.
func (s *Service) CleanupRules(ctx context.Context, a *Actor, owner string) ([]*CleanupRule, error) {
	o, err := s.cleanupOwner(ctx, a, owner, false)
	if err != nil {
		return nil, err
	}
	return s.store.ListCleanupRules(ctx, o.ID)
}

// CleanupRuleOf returns one of an owner's rules. ErrNotFound, ErrForbidden,
// ErrUnauthenticated.
func (s *Service) CleanupRuleOf(ctx context.Context, a *Actor, owner string, id int64) (*CleanupRule, error) {
	o, err := s.cleanupOwner(ctx, a, owner, false)
	if err != nil {
		return nil, err
	}
	return s.ruleOf(ctx, o, id)
}

func (s *Service) ruleOf(ctx context.Context, o *Owner, id int64) (*CleanupRule, error) {
	r, err := s.store.CleanupRule(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && r.OwnerID != o.ID {
		return nil, Errorf(ErrNotFound, "cleanup rule %d of %q not found", id, o.Name)
	}
	return r, err
}

// CreateCleanupRule adds a rule to an owner. ErrInvalid (naming the
// field), ErrConflict (the owner has a rule for the type), ErrNotFound,
// ErrForbidden, ErrUnauthenticated.
func (s *Service) CreateCleanupRule(ctx context.Context, a *Actor, owner string, r CleanupRule) (*CleanupRule, error) {
	if err := ValidateCleanupRule(&r); err != nil {
		return nil, err
	}
	o, err := s.cleanupOwner(ctx, a, owner, true)
	if err != nil {
		return nil, err
	}
	r.ID, r.OwnerID = 0, o.ID
	r.CreatedAt, r.UpdatedAt = s.now(), s.now()
	if err := s.store.CreateCleanupRule(ctx, &r); errors.Is(err, ErrConflict) {
		return nil, Errorf(ErrConflict, "type: %q already has a cleanup rule for %q type", o.Name, r.Type)
	} else if err != nil {
		return nil, fmt.Errorf("create cleanup rule: %w", err)
	}
	return &r, nil
}

// UpdateCleanupRule replaces the fields of an owner's rule id with r's.
// ErrInvalid, ErrConflict, ErrNotFound, ErrForbidden, ErrUnauthenticated.
func (s *Service) UpdateCleanupRule(ctx context.Context, a *Actor, owner string, id int64, r CleanupRule) (*CleanupRule, error) {
	if err := ValidateCleanupRule(&r); err != nil {
		return nil, err
	}
	o, err := s.cleanupOwner(ctx, a, owner, true)
	if err != nil {
		return nil, err
	}
	old, err := s.ruleOf(ctx, o, id)
	if err != nil {
		return nil, err
	}
	r.ID, r.OwnerID, r.CreatedAt, r.UpdatedAt = old.ID, o.ID, old.CreatedAt, s.now()
	if err := s.store.UpdateCleanupRule(ctx, &r); errors.Is(err, ErrConflict) {
		return nil, Errorf(ErrConflict, "type: %q already has a cleanup rule for %q type", o.Name, r.Type)
	} else if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "cleanup rule %d of %q not found", id, o.Name)
	} else if err != nil {
		return nil, fmt.Errorf("update cleanup rule: %w", err)
	}
	return &r, nil
}

// DeleteCleanupRule removes an owner's rule. ErrNotFound, ErrForbidden,
// ErrUnauthenticated.
func (s *Service) DeleteCleanupRule(ctx context.Context, a *Actor, owner string, id int64) error {
	o, err := s.cleanupOwner(ctx, a, owner, true)
	if err != nil {
		return err
	}
	if _, err := s.ruleOf(ctx, o, id); err != nil {
		return err
	}
	if err := s.store.DeleteCleanupRule(ctx, id); errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "cleanup rule %d of %q not found", id, o.Name)
	} else if err != nil {
		return fmt.Errorf("delete cleanup rule: %w", err)
	}
	return nil
}

// PreviewCleanup returns what applying rule ruleID of owner (0: every
// enabled rule of it) would delete now, deleting nothing. ErrNotFound,
// ErrForbidden, ErrUnauthenticated.
func (s *Service) PreviewCleanup(ctx context.Context, a *Actor, owner string, ruleID int64) (*CleanupPlan, error) {
	o, err := s.cleanupOwner(ctx, a, owner, false)
	if err != nil {
		return nil, err
	}
	rules, err := s.planRules(ctx, o, ruleID)
	if err != nil {
		return nil, err
	}
	return s.plan(ctx, o, rules, nil)
}

// ApplyCleanup deletes what PreviewCleanup lists, each version through
// the path of a user's DELETE (webhooks, blob reclaim; immutable versions
// are never deleted), each in its own transaction. The plan returned has
// the versions deleted in Delete, and those that failed with Err set.
// ErrNotFound, ErrForbidden, ErrUnauthenticated.
func (s *Service) ApplyCleanup(ctx context.Context, a *Actor, owner string, ruleID int64) (*CleanupPlan, error) {
	o, err := s.cleanupOwner(ctx, a, owner, true)
	if err != nil {
		return nil, err
	}
	rules, err := s.planRules(ctx, o, ruleID)
	if err != nil {
		return nil, err
	}
	return s.plan(ctx, o, rules, func(it *CleanupItem) error { return s.cleanupDelete(ctx, o, it) })
}

func (s *Service) planRules(ctx context.Context, o *Owner, ruleID int64) ([]*CleanupRule, error) {
	if ruleID != 0 {
		r, err := s.ruleOf(ctx, o, ruleID)
		if err != nil {
			return nil, err
		}
		return []*CleanupRule{r}, nil
	}
	all, err := s.store.ListCleanupRules(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("list cleanup rules: %w", err)
	}
	var rules []*CleanupRule
	for _, r := range all {
		if r.Enabled {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// plan evaluates rules over every package of o, a page of packages at a
// time; when apply is not nil, it calls it for each version to delete
// after evaluating the page (a failure is recorded in the item's Err and
// the cleanup goes on).
func (s *Service) plan(ctx context.Context, o *Owner, rules []*CleanupRule, apply func(*CleanupItem) error) (*CleanupPlan, error) {
	now := s.now()
	p := &CleanupPlan{Owner: o, Rules: rules, At: now}
	set, err := s.store.OwnerSettings(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("read owner settings: %w", err)
	}
	for _, r := range rules {
		for after := int64(0); ; {
			pkgs, err := s.store.CleanupPackages(ctx, o.ID, r.Type, after, cleanupPage)
			if err != nil {
				return nil, fmt.Errorf("list packages for cleanup: %w", err)
			}
			if len(pkgs) == 0 {
				break
			}
			after = pkgs[len(pkgs)-1].Package.ID
			for _, pkg := range pkgs {
				for _, d := range EvaluateCleanup(r, pkg, now) {
					if !d.Delete {
						p.Kept++
						continue
					}
					it := CleanupItem{RuleID: r.ID, Type: r.Type, Package: pkg.Package.Name, Version: d.Version}
					files, err := s.store.ListFiles(ctx, d.Version.ID)
					if err != nil {
						return nil, fmt.Errorf("list files: %w", err)
					}
					it.Files = files
					for _, f := range files {
						it.Bytes += f.Blob.Size
					}
					if set.Sealed(d.Version.CreatedAt, now) {
						p.Immutable = append(p.Immutable, it)
						continue
					}
					if apply != nil {
						if err := ctx.Err(); err != nil {
							return p, err
						}
						if err := apply(&it); err != nil {
							it.Err = ErrorMessage(err)
							s.opts.Logger.Warn("cleanup: delete failed", "owner", o.Name, "package", it.Package, "version", it.Version.Version, "rule", r.ID, "err", err)
						}
					}
					p.Delete = append(p.Delete, it)
				}
			}
		}
	}
	return p, nil
}

// cleanupDelete deletes a version a rule selected, through deleteVersion
// with no actor: no site-admin bypass of immutability. A delete that has
// begun is not cancelled with ctx (the cleanup stops after it): the blob
// store's delete happens before the metadata commit, which must then
// happen too.
//
// The store deletes by name: a version deleted and published again since
// the rule looked at it (another id) is kept, so a cleanup never deletes
// what it did not evaluate (but for a re-publication in the moment between
// this check and the delete).
func (s *Service) cleanupDelete(ctx context.Context, o *Owner, it *CleanupItem) error {
	ctx = context.WithoutCancel(ctx)
	pv, err := s.store.VersionByName(ctx, o.ID, it.Type, it.Package, it.Version.Version)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "package %q version %q was deleted meanwhile", it.Package, it.Version.Version)
	} else if err != nil {
		return fmt.Errorf("look up version: %w", err)
	}
	if pv.Version.ID != it.Version.ID {
		return Errorf(ErrConflict, "package %q version %q was published again since the rule looked at it; kept", it.Package, it.Version.Version)
	}
	return s.deleteVersion(ctx, nil, o, VersionRef{Owner: o.Name, Type: it.Type, Package: it.Package, Version: it.Version.Version},
		Deletion{ActorID: CleanupSender, Reason: fmt.Sprintf("cleanup rule %d", it.RuleID)})
}

// Deletion says who deleted a version and why: a user's DELETE has the
// user's id and no reason; a cleanup has CleanupSender and
// "cleanup rule N". The audit log records it (deleteVersion's
// recordDeletion).
type Deletion struct {
	ActorID int64
	Reason  string
}

// CleanupPasses returns the last limit passes of the scheduled cleanup.
func (s *Service) CleanupPasses(ctx context.Context, limit int) ([]*CleanupPass, error) {
	return s.store.ListCleanupPasses(ctx, limit)
}

// StartCleanupPass, ExtendCleanupPass and FinishCleanupPass are the
// scheduler's bookkeeping (CleanupRuleStore's, which says what they
// guarantee).
func (s *Service) StartCleanupPass(ctx context.Context, p *CleanupPass) (bool, error) {
	return s.store.StartCleanupPass(ctx, p)
}

// ExtendCleanupPass moves a running pass's lease (see StartCleanupPass).
func (s *Service) ExtendCleanupPass(ctx context.Context, id int64, until time.Time) error {
	return s.store.ExtendCleanupPass(ctx, id, until)
}

// FinishCleanupPass records a pass's end (see StartCleanupPass).
func (s *Service) FinishCleanupPass(ctx context.Context, id int64, finished time.Time, deleted int64, errText string) error {
	return s.store.FinishCleanupPass(ctx, id, finished, deleted, errText)
}

// RunCleanupRules applies every owner's enabled rules, as the scheduler
// does. It returns how many versions it deleted; a failure of one owner
// is logged and the others still run.
func (s *Service) RunCleanupRules(ctx context.Context) (int64, error) {
	rules, err := s.store.ListCleanupRules(ctx, 0)
	if err != nil {
		return 0, fmt.Errorf("list enabled cleanup rules: %w", err)
	}
	var deleted int64
	var errs []error
	for i := 0; i < len(rules); {
		j := i
		for j < len(rules) && rules[j].OwnerID == rules[i].OwnerID {
			j++
		}
		o, err := s.store.OwnerByID(ctx, rules[i].OwnerID)
		if err == nil {
			var p *CleanupPlan
			p, err = s.plan(ctx, o, rules[i:j], func(it *CleanupItem) error { return s.cleanupDelete(ctx, o, it) })
			if p != nil {
				for _, it := range p.Delete {
					if it.Err == "" {
						deleted++
					}
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return deleted, err
			}
			errs = append(errs, fmt.Errorf("owner %d: %w", rules[i].OwnerID, err))
			s.opts.Logger.Error("cleanup: owner failed", "owner_id", rules[i].OwnerID, "err", err)
		}
		i = j
	}
	return deleted, errors.Join(errs...)
}
