package depot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEvaluateCleanup checks EvaluateCleanup against Gitea's semantics
// (services/packages/cleanup/cleanup.go, v1.26.0) and depot's additions.
func TestEvaluateCleanup(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// v builds a version created age ago; downloaded, when not 0, is how
	// long ago it was last downloaded.
	type ver struct {
		name       string
		age        time.Duration
		downloaded time.Duration
	}
	build := func(vs []ver) *CleanupPackage {
		p := &CleanupPackage{Package: Package{ID: 1, Name: "App"}}
		for i, v := range vs {
			cv := CleanupVersion{ID: int64(i + 1), Version: v.name, CreatedAt: now.Add(-v.age)}
			if v.downloaded != 0 {
				t := now.Add(-v.downloaded)
				cv.LastDownloadedAt = &t
			}
			p.Versions = append(p.Versions, cv)
		}
		return p
	}
	// Five versions, oldest first, a day apart, the newest an hour old.
	five := []ver{{"1.0.0", 40 * day, 0}, {"1.1.0", 30 * day, 0}, {"2.0.0-rc.1", 20 * day, 0}, {"2.0.0", 10 * day, 0}, {"nightly", time.Hour, 0}}
	for _, tc := range []struct {
		name     string
		rule     CleanupRule
		versions []ver
		deleted  string // deleted versions, comma-separated, in rank order
		reasons  string // every decision's reason, in rank order, when set
	}{
		{"empty rule removes everything older than now", CleanupRule{}, five, "nightly,2.0.0,2.0.0-rc.1,1.1.0,1.0.0", ""},
		{"keep_count keeps the newest", CleanupRule{KeepCount: 2}, five, "2.0.0-rc.1,1.1.0,1.0.0", "keep_count,keep_count,rule 7,rule 7,rule 7"},
		{"keep_count above the number of versions", CleanupRule{KeepCount: 10}, five, "", ""},
		{"keep_pattern", CleanupRule{KeepPattern: `1\..*`}, five, "nightly,2.0.0,2.0.0-rc.1", ""},
		{"keep_pattern is anchored", CleanupRule{KeepPattern: `1\.0`}, five, "nightly,2.0.0,2.0.0-rc.1,1.1.0,1.0.0", ""},
		{"keep_pattern alternation is anchored as a whole", CleanupRule{KeepPattern: `1\.0\.0|nightly`}, append(five, ver{"11.0.0x", 50 * day, 0}), "2.0.0,2.0.0-rc.1,1.1.0,11.0.0x", ""},
		{"patterns are case-insensitive", CleanupRule{KeepPattern: `NIGHTLY|2\.0\.0-RC\.1`}, five, "2.0.0,1.1.0,1.0.0", ""},
		{"remove_days keeps the young", CleanupRule{RemoveDays: 15}, five, "2.0.0-rc.1,1.1.0,1.0.0", "remove_days,remove_days,rule 7,rule 7,rule 7"},
		{"remove_pattern keeps what it does not match", CleanupRule{RemovePattern: `.*-rc\..*|nightly`}, five, "nightly,2.0.0-rc.1", ""},
		{"match_full_name matches package/version, lower-cased", CleanupRule{KeepPattern: `app/1\..*`, MatchFullName: true}, five, "nightly,2.0.0,2.0.0-rc.1", ""},
		{"without match_full_name the package name does not match", CleanupRule{KeepPattern: `app/1\..*`}, five, "nightly,2.0.0,2.0.0-rc.1,1.1.0,1.0.0", ""},
		{"criteria combine: any keep wins", CleanupRule{KeepCount: 1, KeepPattern: `1\.0\.0`, RemoveDays: 25, RemovePattern: `2\..*|1\..*`}, five,
			"1.1.0", "keep_count,remove_days,remove_days,rule 7,keep_pattern"},
		{"semver order ranks by precedence, non-semver last", CleanupRule{KeepCount: 2, Order: CleanupOrderSemver}, five, "1.1.0,1.0.0,nightly", ""},
		{"semver order, versions uploaded out of order", CleanupRule{KeepCount: 1, Order: CleanupOrderSemver},
			[]ver{{"3.0.0", 9 * day, 0}, {"1.0.0", 2 * day, 0}, {"v2.0.0", 5 * day, 0}}, "v2.0.0,1.0.0", ""},
		{"created order, same versions", CleanupRule{KeepCount: 1},
			[]ver{{"3.0.0", 9 * day, 0}, {"1.0.0", 2 * day, 0}, {"v2.0.0", 5 * day, 0}}, "v2.0.0,3.0.0", ""},
		{"prereleases out of keep_count", CleanupRule{KeepCount: 2, Order: CleanupOrderSemver, ExcludePrereleasesFromKeepCount: true},
			[]ver{{"1.0.0", 40 * day, 0}, {"1.1.0", 30 * day, 0}, {"2.0.0-rc.1", 20 * day, 0}, {"2.0.0-rc.2", 15 * day, 0}, {"1.2.0", 10 * day, 0}},
			"2.0.0-rc.2,2.0.0-rc.1,1.0.0", "rule 7,rule 7,keep_count,keep_count,rule 7"},
		{"prereleases counted by default", CleanupRule{KeepCount: 2, Order: CleanupOrderSemver},
			[]ver{{"1.0.0", 40 * day, 0}, {"1.1.0", 30 * day, 0}, {"2.0.0-rc.1", 20 * day, 0}, {"2.0.0-rc.2", 15 * day, 0}, {"1.2.0", 10 * day, 0}},
			"1.2.0,1.1.0,1.0.0", ""},
		{"not_downloaded_days: last download, else creation", CleanupRule{NotDownloadedDays: 7},
			[]ver{{"old-used", 90 * day, 2 * day}, {"old-unused", 90 * day, 30 * day}, {"old-never", 90 * day, 0}, {"new-never", 3 * day, 0}},
			"old-never,old-unused", "not_downloaded_days,rule 7,rule 7,not_downloaded_days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rule
			r.ID = 7
			if err := ValidateCleanupRule(&r); err != nil {
				t.Fatalf("ValidateCleanupRule: %v", err)
			}
			ds := EvaluateCleanup(&r, build(tc.versions), now)
			if len(ds) != len(tc.versions) {
				t.Fatalf("%d decisions for %d versions", len(ds), len(tc.versions))
			}
			var del, reasons []string
			for _, d := range ds {
				if d.Delete {
					del = append(del, d.Version.Version)
				}
				reasons = append(reasons, d.Reason)
				if d.Delete != strings.HasPrefix(d.Reason, "rule ") {
					t.Errorf("%s: Delete %v with reason %q", d.Version.Version, d.Delete, d.Reason)
				}
			}
			if got := strings.Join(del, ","); got != tc.deleted {
				t.Errorf("deleted %q, want %q (reasons %v)", got, tc.deleted, reasons)
			}
			if tc.reasons != "" {
				if got := strings.Join(reasons, ","); got != tc.reasons {
					t.Errorf("reasons %q, want %q", got, tc.reasons)
				}
			}
		})
	}
}

// TestEvaluateCleanupEveryVersion: every version is considered, not the
// first 200 (Gitea's bug #31961).
func TestEvaluateCleanupEveryVersion(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	p := &CleanupPackage{Package: Package{Name: "big"}}
	for i := range 1000 {
		p.Versions = append(p.Versions, CleanupVersion{ID: int64(i + 1), Version: fmt.Sprintf("0.0.%d", i), CreatedAt: now.Add(-time.Duration(1000-i) * time.Hour)})
	}
	r := &CleanupRule{KeepCount: 10, Order: CleanupOrderCreated}
	n := 0
	for _, d := range EvaluateCleanup(r, p, now) {
		if d.Delete {
			n++
			if d.Version.ID > 990 {
				t.Errorf("deleted one of the newest ten, %s", d.Version.Version)
			}
		}
	}
	if n != 990 {
		t.Errorf("deleted %d of 1000 with keep_count 10, want 990", n)
	}
}

func TestValidateCleanupRule(t *testing.T) {
	for _, tc := range []struct {
		rule  CleanupRule
		field string // "" for valid
	}{
		{CleanupRule{}, ""},
		{CleanupRule{Type: "generic", Order: "semver", KeepCount: 5, KeepPattern: `v\d+`, RemovePattern: `.*`}, ""},
		{CleanupRule{KeepPattern: `v(`}, "keep_pattern"},
		{CleanupRule{RemovePattern: `[a-`}, "remove_pattern"},
		{CleanupRule{KeepPattern: `(?<name>x)`}, ""},
		{CleanupRule{KeepPattern: `(a)\1`}, "keep_pattern"}, // backreferences are not RE2
		{CleanupRule{KeepPattern: strings.Repeat("a", 2000)}, "keep_pattern"},
		{CleanupRule{KeepCount: -1}, "keep_count"},
		{CleanupRule{RemoveDays: -7}, "remove_days"},
		{CleanupRule{NotDownloadedDays: -1}, "not_downloaded_days"},
		{CleanupRule{RemoveDays: MaxCleanupDays + 1}, "remove_days"},
		{CleanupRule{Order: "newest"}, "order"},
		{CleanupRule{Type: "npm"}, "type"},
	} {
		r := tc.rule
		err := ValidateCleanupRule(&r)
		if tc.field == "" {
			if err != nil {
				t.Errorf("ValidateCleanupRule(%+v) = %v, want nil", tc.rule, err)
			} else if r.Order == "" || r.Type == "" {
				t.Errorf("ValidateCleanupRule(%+v) left defaults unset: %+v", tc.rule, r)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(ErrorMessage(err), tc.field+":") {
			t.Errorf("ValidateCleanupRule(%+v) = %v, want ErrInvalid naming %s", tc.rule, err, tc.field)
		}
	}
}
