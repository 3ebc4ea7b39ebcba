package depot

import (
	"context"
	"errors"
	"fmt"
)

// NoLimit is the value of a limit that is not set (Gitea's -1).
const NoLimit = -1

// Limits are the server-wide package limits, Gitea's [packages] settings
// of the same names. Each is NoLimit (-1) when not set; 0 allows nothing.
// Site admins bypass them, as in Gitea.
type Limits struct {
	// TotalOwnerCount is the most versions an owner may have
	// (LIMIT_TOTAL_OWNER_COUNT); only an upload that creates a version is
	// refused, as in Gitea.
	TotalOwnerCount int64
	// TotalOwnerSize is the most bytes an owner's files may take
	// (LIMIT_TOTAL_OWNER_SIZE): every file counted, as the owner page's
	// storage used (a blob shared by two files counts twice).
	TotalOwnerSize int64
	// SizeGeneric is the largest generic package file
	// (LIMIT_SIZE_GENERIC).
	SizeGeneric int64
}

// Unlimited returns Limits with nothing set.
func Unlimited() Limits { return Limits{NoLimit, NoLimit, NoLimit} }

// QuotaOverride is a site admin's per-owner override of the server's
// limits: a nil field keeps the server's value, NoLimit lifts it.
type QuotaOverride struct {
	MaxVersions *int64
	MaxSize     *int64
	MaxFileSize *int64
}

// Usage is what an owner stores: its versions (of every package) and the
// bytes of its files (each file counted).
type Usage struct {
	Versions int64
	Bytes    int64
}

// Quota is the limits an upload is checked against, with the name of the
// setting each comes from for error messages. NoLimit: not checked.
type Quota struct {
	Owner                  string
	MaxVersions, MaxSize   int64
	VersionsFrom, SizeFrom string
	MaxFileSize            int64
	FileSizeFrom           string
}

// Quota errors, as Gitea names them (services/packages: ErrQuotaTypeSize,
// ErrQuotaTotalSize, ErrQuotaTotalCount); Gitea's generic API answers them
// 403 with the message as plain text. Errors returned wrap one of these
// with a message naming the limit and the usage.
var (
	ErrQuotaTypeSize   = &Error{Kind: ErrForbidden, Message: "maximum allowed package type size exceeded"}
	ErrQuotaTotalSize  = &Error{Kind: ErrForbidden, Message: "maximum allowed package storage quota exceeded"}
	ErrQuotaTotalCount = &Error{Kind: ErrForbidden, Message: "maximum allowed package count exceeded"}
)

// QuotaStore keeps per-owner quota overrides and reports usage.
type QuotaStore interface {
	// OwnerQuota returns an owner's override, all nil when none was set.
	OwnerQuota(ctx context.Context, ownerID int64) (QuotaOverride, error)
	// SetOwnerQuota stores an owner's override (all nil removes it).
	// ErrNotFound if the owner does not exist.
	SetOwnerQuota(ctx context.Context, ownerID int64, q QuotaOverride) error
	// OwnerUsage returns what an owner stores, read in one snapshot.
	OwnerUsage(ctx context.Context, ownerID int64) (Usage, error)
}

// CheckQuota applies q to an upload of size bytes at commit: u is the
// owner's usage with the upload counted, newVersion whether the upload
// created its version. A nil q checks nothing.
// Stores call it inside the transaction that records the file, after the
// file's rows are written and with the owner's uploads serialised, so the
// check sees every upload committed before it.
func CheckQuota(q *Quota, u Usage, newVersion bool, size int64) error {
	if q == nil {
		return nil
	}
	if newVersion && q.MaxVersions >= 0 && u.Versions > q.MaxVersions {
		return quotaCountError(q, u.Versions-1)
	}
	if q.MaxSize >= 0 && u.Bytes > q.MaxSize {
		return quotaSizeError(q, u.Bytes-size, size)
	}
	return nil
}

func quotaCountError(q *Quota, used int64) error {
	return &Error{Kind: ErrQuotaTotalCount, Message: fmt.Sprintf("%s: %s has %d of %d versions (%s)",
		ErrQuotaTotalCount.Message, q.Owner, used, q.MaxVersions, q.VersionsFrom)}
}

func quotaSizeError(q *Quota, used, size int64) error {
	return &Error{Kind: ErrQuotaTotalSize, Message: fmt.Sprintf("%s: %s uses %d of %d bytes (%s), and this file would bring it to %d",
		ErrQuotaTotalSize.Message, q.Owner, used, q.MaxSize, q.SizeFrom, used+size)}
}

func fileSizeError(q *Quota) error {
	return &Error{Kind: ErrQuotaTypeSize, Message: fmt.Sprintf("%s: the largest generic file is %d bytes (%s)",
		ErrQuotaTypeSize.Message, q.MaxFileSize, q.FileSizeFrom)}
}

// Setting names used in quota messages and usage reports.
const (
	settingCount    = "LIMIT_TOTAL_OWNER_COUNT"
	settingSize     = "LIMIT_TOTAL_OWNER_SIZE"
	settingFileSize = "LIMIT_SIZE_GENERIC"
	settingOverride = "owner quota"
)

// quotaFor returns the quota an upload by a to owner is checked against;
// nil for site admins, who bypass quotas as in Gitea, and when nothing is
// limited.
func (s *Service) quotaFor(ctx context.Context, a *Actor, owner *Owner) (*Quota, error) {
	if !a.IsAnonymous() && a.User.IsAdmin {
		return nil, nil
	}
	q, err := s.effectiveQuota(ctx, owner)
	if err != nil {
		return nil, err
	}
	if q.MaxVersions < 0 && q.MaxSize < 0 && q.MaxFileSize < 0 {
		return nil, nil
	}
	return q, nil
}

func (s *Service) effectiveQuota(ctx context.Context, owner *Owner) (*Quota, error) {
	o, err := s.store.OwnerQuota(ctx, owner.ID)
	if err != nil {
		return nil, fmt.Errorf("read owner quota: %w", err)
	}
	l := s.limits()
	pick := func(override *int64, server int64, setting string) (int64, string) {
		if override != nil {
			return *override, settingOverride
		}
		return server, setting
	}
	q := &Quota{Owner: owner.Name}
	q.MaxVersions, q.VersionsFrom = pick(o.MaxVersions, l.TotalOwnerCount, settingCount)
	q.MaxSize, q.SizeFrom = pick(o.MaxSize, l.TotalOwnerSize, settingSize)
	q.MaxFileSize, q.FileSizeFrom = pick(o.MaxFileSize, l.SizeGeneric, settingFileSize)
	return q, nil
}

func (s *Service) limits() Limits {
	if s.opts.Limits == nil {
		return Unlimited()
	}
	return *s.opts.Limits
}

// streamLimit bounds how much of an upload's body is read: the hard limit
// (--max-upload-size, or GitLab's), the quota's largest file, and the room
// left in the owner's size quota. Each is -1 when not set.
type streamLimit struct {
	hard, file, room int64
	used             int64 // the owner's bytes when room was computed
	q                *Quota
}

func noStreamLimit(hard int64) streamLimit { return streamLimit{hard: hard, file: -1, room: -1} }

// n is the smallest limit set, -1 if none.
func (l streamLimit) n() int64 {
	n := int64(-1)
	for _, v := range []int64{l.hard, l.file, l.room} {
		if v >= 0 && (n < 0 || v < n) {
			n = v
		}
	}
	return n
}

// exceeded returns the error of the limit a body of n bytes passed: the
// smallest one, the hard limit on a tie (its 413 predates quotas).
func (l streamLimit) exceeded(n int64) error {
	switch m := l.n(); {
	case l.hard >= 0 && l.hard == m:
		return Errorf(ErrTooLarge, "file is larger than the limit of %d bytes", l.hard)
	case l.file >= 0 && l.file == m:
		return fileSizeError(l.q)
	default:
		return quotaSizeError(l.q, l.used, n)
	}
}

// limitUpload checks an upload against q before its body is read (a
// declared size over a limit, a new version over the count) and returns
// the limits its body streams under. hard is -1 when there is none.
func (s *Service) limitUpload(ctx context.Context, q *Quota, ownerID int64, ref VersionRef, size, hard int64) (streamLimit, error) {
	lim := noStreamLimit(hard)
	if q != nil {
		lim.q, lim.file = q, q.MaxFileSize
		if q.MaxVersions >= 0 || q.MaxSize >= 0 {
			u, err := s.store.OwnerUsage(ctx, ownerID)
			if err != nil {
				return lim, fmt.Errorf("read owner usage: %w", err)
			}
			if q.MaxVersions >= 0 && u.Versions >= q.MaxVersions {
				if _, err := s.store.VersionByName(ctx, ownerID, ref.Type, ref.Package, ref.Version); errors.Is(err, ErrNotFound) {
					return lim, quotaCountError(q, u.Versions)
				} else if err != nil {
					return lim, fmt.Errorf("look up version: %w", err)
				}
			}
			if q.MaxSize >= 0 {
				lim.used, lim.room = u.Bytes, max(q.MaxSize-u.Bytes, 0)
				if size >= 0 && u.Bytes+size > q.MaxSize {
					return lim, quotaSizeError(q, u.Bytes, size)
				}
			}
		}
	}
	if n := lim.n(); n >= 0 && size > n {
		return lim, lim.exceeded(size)
	}
	return lim, nil
}

// UsageReport is an owner's usage with the limits that apply to it (for
// uploads by anyone but a site admin). A limit is NoLimit when not set.
type UsageReport struct {
	Owner    *Owner
	Usage    Usage
	Quota    Quota
	Override QuotaOverride
}

// OwnerUsage returns an owner's usage and limits. Anyone who may read the
// owner's packages may read it (the owner page shows the storage used).
// ErrNotFound, ErrForbidden.
func (s *Service) OwnerUsage(ctx context.Context, a *Actor, owner string) (*UsageReport, error) {
	o, err := s.ownerFor(ctx, a, owner, AccessRead)
	if err != nil {
		return nil, err
	}
	return s.usageReport(ctx, o)
}

func (s *Service) usageReport(ctx context.Context, o *Owner) (*UsageReport, error) {
	u, err := s.store.OwnerUsage(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("read owner usage: %w", err)
	}
	q, err := s.effectiveQuota(ctx, o)
	if err != nil {
		return nil, err
	}
	ov, err := s.store.OwnerQuota(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("read owner quota: %w", err)
	}
	return &UsageReport{Owner: o, Usage: u, Quota: *q, Override: ov}, nil
}

// ValidateQuotaOverride refuses limits below NoLimit.
func ValidateQuotaOverride(q QuotaOverride) error {
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_versions", q.MaxVersions}, {"max_size", q.MaxSize}, {"max_file_size", q.MaxFileSize}} {
		if f.v != nil && *f.v < NoLimit {
			return Errorf(ErrInvalid, "%s must be -1 (no limit) or at least 0, not %d", f.name, *f.v)
		}
	}
	return nil
}

// SetOwnerQuota stores a site admin's override of an owner's limits and
// returns the owner's report. A quota below the current usage is allowed,
// as in Gitea: nothing is removed, and the next upload that needs room
// fails. a must be a site admin (with write:admin when a token
// authenticated it). ErrInvalid, ErrNotFound, ErrForbidden,
// ErrUnauthenticated.
func (s *Service) SetOwnerQuota(ctx context.Context, a *Actor, owner string, q QuotaOverride) (*UsageReport, error) {
	if a.IsAnonymous() {
		return nil, Errorf(ErrUnauthenticated, "authentication required")
	}
	if err := requireScope(a, ScopeWriteAdmin); err != nil {
		return nil, err
	}
	if !a.User.IsAdmin {
		return nil, Errorf(ErrForbidden, "only site admins may set quotas")
	}
	return s.AdminSetOwnerQuota(actingAs(ctx, a), owner, q)
}

// AdminSetOwnerQuota is SetOwnerQuota for the admin CLI, which needs no
// actor. ErrInvalid, ErrNotFound.
func (s *Service) AdminSetOwnerQuota(ctx context.Context, owner string, q QuotaOverride) (*UsageReport, error) {
	if err := ValidateQuotaOverride(q); err != nil {
		return nil, err
	}
	o, err := s.ownerNamed(ctx, owner)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetOwnerQuota(ctx, o.ID, q); errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", owner)
	} else if err != nil {
		return nil, fmt.Errorf("set owner quota: %w", err)
	}
	s.audit(ctx, nil, AuditQuotaSet, o.Name, "quota", map[string]any{
		"max_versions": q.MaxVersions, "max_size": q.MaxSize, "max_file_size": q.MaxFileSize})
	return s.usageReport(ctx, o)
}

// AdminOwnerUsage is OwnerUsage for the admin CLI. ErrNotFound.
func (s *Service) AdminOwnerUsage(ctx context.Context, owner string) (*UsageReport, error) {
	o, err := s.ownerNamed(ctx, owner)
	if err != nil {
		return nil, err
	}
	return s.usageReport(ctx, o)
}

// OwnerLimits returns the limits that apply to an owner's uploads (by
// anyone but a site admin), without counting its usage. ErrNotFound,
// ErrForbidden.
func (s *Service) OwnerLimits(ctx context.Context, a *Actor, owner string) (*Quota, error) {
	o, err := s.ownerFor(ctx, a, owner, AccessRead)
	if err != nil {
		return nil, err
	}
	return s.effectiveQuota(ctx, o)
}

// ownerNamed looks an owner up by name for the admin CLI, which needs no
// access check. ErrNotFound.
func (s *Service) ownerNamed(ctx context.Context, name string) (*Owner, error) {
	o, err := s.store.OwnerByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("look up owner: %w", err)
	}
	return o, nil
}
