package depot

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// CleanupRule is a retention rule of one owner and package type: Gitea's
// package cleanup rule, plus an ordering, a prerelease switch and GitLab's
// "not downloaded in N days" criterion. See EvaluateCleanup for what it
// keeps.
type CleanupRule struct {
	ID      int64
	OwnerID int64
	Type    PackageType
	Enabled bool
	// KeepCount keeps the first KeepCount versions of each package (in
	// Order); 0 keeps none by count.
	KeepCount int
	// KeepPattern keeps the versions it matches; "" matches none.
	KeepPattern string
	// RemoveDays keeps the versions created less than RemoveDays days ago;
	// 0 keeps none by age.
	RemoveDays int
	// RemovePattern, when set, keeps the versions it does not match.
	RemovePattern string
	// MatchFullName matches the patterns against "package/version" instead
	// of the version.
	MatchFullName bool
	// Order ranks a package's versions for KeepCount: CleanupOrderCreated
	// (newest first, Gitea's) or CleanupOrderSemver.
	Order CleanupOrder
	// ExcludePrereleasesFromKeepCount makes prereleases (semantic versions
	// with a pre-release part) neither count towards nor be kept by
	// KeepCount.
	ExcludePrereleasesFromKeepCount bool
	// NotDownloadedDays, when positive, keeps the versions downloaded (or,
	// never downloaded, created) less than that many days ago (GitLab's
	// "not downloaded in N days").
	NotDownloadedDays int
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// CleanupOrder is how a rule ranks a package's versions for keep_count.
type CleanupOrder string

// Cleanup orders.
const (
	// CleanupOrderCreated is newest first (ties: higher ID first), Gitea's.
	CleanupOrderCreated CleanupOrder = "created"
	// CleanupOrderSemver is the highest semantic version first; versions
	// that are not semantic versions come after them, newest first.
	CleanupOrderSemver CleanupOrder = "semver"
)

// CleanupRuleStore keeps cleanup rules and the passes of the scheduled
// cleanup.
type CleanupRuleStore interface {
	// CreateCleanupRule inserts r and sets its ID. ErrConflict if the owner
	// has a rule for that type; ErrNotFound if the owner does not exist.
	CreateCleanupRule(ctx context.Context, r *CleanupRule) error
	// CleanupRule returns a rule. ErrNotFound.
	CleanupRule(ctx context.Context, id int64) (*CleanupRule, error)
	// ListCleanupRules returns an owner's rules ordered by type, then ID;
	// with ownerID 0, every owner's enabled rules ordered by owner, type.
	ListCleanupRules(ctx context.Context, ownerID int64) ([]*CleanupRule, error)
	// UpdateCleanupRule stores every field of r but OwnerID and CreatedAt.
	// ErrNotFound; ErrConflict if the owner has another rule for the type.
	UpdateCleanupRule(ctx context.Context, r *CleanupRule) error
	// DeleteCleanupRule removes a rule. ErrNotFound.
	DeleteCleanupRule(ctx context.Context, id int64) error
	// CleanupPackages returns up to limit packages of the owner and type
	// with ID above afterID, in ID order, each with every one of its
	// versions (no cap), in a fixed number of queries.
	CleanupPackages(ctx context.Context, ownerID int64, typ PackageType, afterID int64, limit int) ([]*CleanupPackage, error)

	// StartCleanupPass records the start of the scheduled pass of slot by
	// holder, leased until leaseUntil. It reports false, recording nothing,
	// when slot already has a pass or another pass is unfinished with its
	// lease after now; of concurrent calls, from any process sharing the
	// store, at most one reports true for a slot, and none while another
	// pass holds its lease.
	StartCleanupPass(ctx context.Context, p *CleanupPass) (bool, error)
	// ExtendCleanupPass moves an unfinished pass's lease to until.
	// ErrNotFound if the pass does not exist or is finished.
	ExtendCleanupPass(ctx context.Context, id int64, until time.Time) error
	// FinishCleanupPass records the end of a pass. ErrNotFound.
	FinishCleanupPass(ctx context.Context, id int64, finished time.Time, deleted int64, errText string) error
	// ListCleanupPasses returns the last limit passes, newest first.
	ListCleanupPasses(ctx context.Context, limit int) ([]*CleanupPass, error)
}

// CleanupPackage is a package and all its versions, for a cleanup.
type CleanupPackage struct {
	Package  Package
	Versions []CleanupVersion
}

// CleanupVersion is what a rule looks at in a version.
type CleanupVersion struct {
	ID        int64
	Version   string
	CreatedAt time.Time
	// LastDownloadedAt is nil until the first download.
	LastDownloadedAt *time.Time
}

// CleanupPass is one run of the scheduled cleanup.
type CleanupPass struct {
	ID int64
	// Slot numbers the scheduled passes: the start time divided by the
	// interval. A pass started by hand has slot -(its start in µs).
	Slot       int64
	Holder     string
	StartedAt  time.Time
	LeaseUntil time.Time
	// FinishedAt is nil while the pass runs (or if its process died).
	FinishedAt *time.Time
	Deleted    int64
	Error      string
}

// CleanupDecision is what a rule does with one version.
type CleanupDecision struct {
	Package string
	Version CleanupVersion
	// Delete is true for the versions the rule removes.
	Delete bool
	// Reason says why: for a kept version the first criterion that keeps
	// it ("keep_count", "keep_pattern", "remove_days", "remove_pattern",
	// "not_downloaded_days", "immutable"), for a deleted one "rule N".
	Reason string
}

// Limits of rule fields (Gitea offers keep_count up to 100 and remove_days
// up to 180 in its form; depot takes anything up to these).
const (
	MaxCleanupKeepCount = 1 << 20
	MaxCleanupDays      = 100 * 366
	maxCleanupPattern   = 1024
)

// ValidateCleanupRule checks r's fields and fills defaults (Order). It
// returns ErrInvalid naming the first bad field.
func ValidateCleanupRule(r *CleanupRule) error {
	switch r.Type {
	case "":
		r.Type = TypeGeneric
	case TypeGeneric:
	default:
		return Errorf(ErrInvalid, "type: unknown package type %q (depot has %q)", r.Type, TypeGeneric)
	}
	switch r.Order {
	case "":
		r.Order = CleanupOrderCreated
	case CleanupOrderCreated, CleanupOrderSemver:
	default:
		return Errorf(ErrInvalid, "order: must be %q or %q, not %q", CleanupOrderCreated, CleanupOrderSemver, r.Order)
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{{"keep_count", r.KeepCount, MaxCleanupKeepCount}, {"remove_days", r.RemoveDays, MaxCleanupDays}, {"not_downloaded_days", r.NotDownloadedDays, MaxCleanupDays}} {
		if f.v < 0 || f.v > f.max {
			return Errorf(ErrInvalid, "%s: must be between 0 and %d, not %d", f.name, f.max, f.v)
		}
	}
	for _, p := range []struct{ name, pat string }{{"keep_pattern", r.KeepPattern}, {"remove_pattern", r.RemovePattern}} {
		if len(p.pat) > maxCleanupPattern {
			return Errorf(ErrInvalid, "%s: longer than %d bytes", p.name, maxCleanupPattern)
		}
		if _, err := compileCleanupPattern(p.pat); err != nil {
			return Errorf(ErrInvalid, "%s: invalid regular expression: %v", p.name, err)
		}
	}
	return nil
}

// compileCleanupPattern compiles a rule pattern as RE2, case-insensitive
// and anchored at both ends; "" gives nil.
func compileCleanupPattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, nil
	}
	return regexp.Compile(`(?i)^(?:` + p + `)$`)
}

// EvaluateCleanup decides, for every version of pkg, whether rule r keeps
// it at now, with Gitea's semantics: the versions ranked (r.Order, newest
// first by default), a version is kept if it is among the first
// r.KeepCount, or matches r.KeepPattern, or is younger than r.RemoveDays,
// or r.RemovePattern is set and it does not match; beyond Gitea, it is
// also kept if r.NotDownloadedDays is set and it was downloaded (else
// created) within that many days; everything else is deleted. Every
// version is considered (Gitea looked at the first 200 only). Patterns
// match the lower-cased version, or "package/version" with
// r.MatchFullName, as Gitea's do. The decisions come in rank order. r must
// have passed ValidateCleanupRule (a bad pattern deletes nothing: every
// version is kept with reason "invalid rule").
func EvaluateCleanup(r *CleanupRule, pkg *CleanupPackage, now time.Time) []CleanupDecision {
	vs := append([]CleanupVersion(nil), pkg.Versions...)
	sortCleanup(vs, r.Order)
	out := make([]CleanupDecision, len(vs))
	keep, err1 := compileCleanupPattern(r.KeepPattern)
	remove, err2 := compileCleanupPattern(r.RemovePattern)
	if err1 != nil || err2 != nil {
		for i, v := range vs {
			out[i] = CleanupDecision{Package: pkg.Package.Name, Version: v, Reason: "invalid rule"}
		}
		return out
	}
	olderThan := now.AddDate(0, 0, -r.RemoveDays)
	unusedSince := now.AddDate(0, 0, -r.NotDownloadedDays)
	counted := 0
	for i, v := range vs {
		d := CleanupDecision{Package: pkg.Package.Name, Version: v}
		match := strings.ToLower(v.Version)
		if r.MatchFullName {
			match = strings.ToLower(pkg.Package.Name) + "/" + match
		}
		inCount := !(r.ExcludePrereleasesFromKeepCount && isPrerelease(v.Version))
		if inCount {
			counted++
		}
		used := v.CreatedAt
		if v.LastDownloadedAt != nil && v.LastDownloadedAt.After(used) {
			used = *v.LastDownloadedAt
		}
		switch {
		case inCount && counted <= r.KeepCount:
			d.Reason = "keep_count"
		case keep != nil && keep.MatchString(match):
			d.Reason = "keep_pattern"
		case v.CreatedAt.After(olderThan):
			d.Reason = "remove_days"
		case remove != nil && !remove.MatchString(match):
			d.Reason = "remove_pattern"
		case r.NotDownloadedDays > 0 && used.After(unusedSince):
			d.Reason = "not_downloaded_days"
		default:
			d.Delete, d.Reason = true, fmt.Sprintf("rule %d", r.ID)
		}
		out[i] = d
	}
	return out
}

// isPrerelease reports whether v is a semantic version with a pre-release
// part.
func isPrerelease(v string) bool {
	sv, ok := parseSemver(v)
	return ok && len(sv.pre) > 0
}

func sortCleanup(vs []CleanupVersion, order CleanupOrder) {
	newest := func(a, b CleanupVersion) bool {
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.ID > b.ID
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if order == CleanupOrderSemver {
			if c := CompareVersions(vs[i].Version, vs[j].Version); c != 0 {
				return c > 0
			}
		}
		return newest(vs[i], vs[j])
	})
}
