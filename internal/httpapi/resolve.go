package httpapi

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/semverrange"
)

// ParseRange parses a semantic-version range of a range download (`^1.2`,
// `~1.4.0`, `>=2 <3`, `1.x`) into the selector the service resolves with;
// nil (the latest) for "latest". ErrInvalid for anything else.
func ParseRange(spec string) (depot.VersionSelector, error) {
	if semverrange.IsLatest(spec) {
		return nil, nil
	}
	if err := semverrange.Parse(spec); err != nil {
		return nil, depot.Errorf(depot.ErrInvalid, "%v", err)
	}
	return rangeSelector(spec), nil
}

// rangeSelector selects by package semverrange's rule: the highest release
// matching, prereleases only where the range names one (Masterminds/semver).
type rangeSelector string

func (r rangeSelector) String() string { return string(r) }

func (r rangeSelector) Select(vs []*depot.PackageVersion) *depot.PackageVersion {
	// Oldest first, so that semverrange's tie rule (the later wins) is
	// depot's (the newer upload, then the higher ID).
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, func(a, b *depot.PackageVersion) int {
		if c := a.Version.CreatedAt.Compare(b.Version.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Version.ID, b.Version.ID)
	})
	cands := make([]semverrange.Version, len(sorted))
	for i, v := range sorted {
		cands[i] = semverrange.Version{Name: v.Version.Version, Created: v.Version.CreatedAt}
	}
	i, err := semverrange.SelectIndex(string(r), cands)
	if err != nil {
		return nil
	}
	return sorted[i]
}

// ResolvedHeader names the version a latest or range download resolved
// to, on its redirect.
const ResolvedHeader = "X-Depot-Resolved-Version"

// RedirectResolved answers a resolved latest or range download: a 302 to
// the resolved version's own URL, so logs and caches see the real version.
// 302 rather than 307: only GET and HEAD reach these routes, and the
// answer changes whenever a newer version is published, which 302 (never
// cached without explicit freshness) says; Cache-Control: no-store makes
// sure no cache keeps it.
func RedirectResolved(w http.ResponseWriter, r *http.Request, pv *depot.PackageVersion, location string) {
	h := w.Header()
	h.Set("Location", location)
	h.Set("Cache-Control", "no-store")
	h.Set(ResolvedHeader, pv.Version.Version)
	w.WriteHeader(http.StatusFound)
}
