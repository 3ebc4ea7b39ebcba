package sqlrow

import (
	"database/sql"

	"github.com/depot-registry/depot/internal/depot"
)

// CleanupRuleCols are the columns CleanupRule reads, in its order; the
// first is the id and the others are written in this order by
// CleanupRuleArgs.
const CleanupRuleCols = `id, owner_id, type, enabled, keep_count, keep_pattern, remove_days, remove_pattern,
	match_full_name, sort_order, exclude_prereleases, not_downloaded_days, created_at, updated_at`

// CleanupRuleArgs are r's values for CleanupRuleCols but the id.
func CleanupRuleArgs(r *depot.CleanupRule) []any {
	return []any{r.OwnerID, string(r.Type), r.Enabled, r.KeepCount, r.KeepPattern, r.RemoveDays, r.RemovePattern,
		r.MatchFullName, string(r.Order), r.ExcludePrereleasesFromKeepCount, r.NotDownloadedDays, r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro()}
}

// CleanupRule reads the CleanupRuleCols of a rule.
func CleanupRule(row Scanner) (*depot.CleanupRule, error) {
	var r depot.CleanupRule
	var created, updated int64
	err := row.Scan(&r.ID, &r.OwnerID, &r.Type, &r.Enabled, &r.KeepCount, &r.KeepPattern, &r.RemoveDays, &r.RemovePattern,
		&r.MatchFullName, &r.Order, &r.ExcludePrereleasesFromKeepCount, &r.NotDownloadedDays, &created, &updated)
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &r, nil
}

// CleanupPassCols are the columns CleanupPass reads.
const CleanupPassCols = `id, slot, holder, started_at, lease_until, finished_at, deleted, error`

// CleanupPass reads the CleanupPassCols of a pass.
func CleanupPass(row Scanner) (*depot.CleanupPass, error) {
	var p depot.CleanupPass
	var started, lease int64
	var finished sql.NullInt64
	if err := row.Scan(&p.ID, &p.Slot, &p.Holder, &started, &lease, &finished, &p.Deleted, &p.Error); err != nil {
		return nil, err
	}
	p.StartedAt, p.LeaseUntil = FromMicros(started), FromMicros(lease)
	if finished.Valid {
		t := FromMicros(finished.Int64)
		p.FinishedAt = &t
	}
	return &p, nil
}

// CleanupPackageCols are the package columns CleanupPackage reads.
const CleanupPackageCols = `id, owner_id, type, name, created_at, COALESCE(project_id, 0)`

// CleanupPackage reads the CleanupPackageCols of a package.
func CleanupPackage(row Scanner) (*depot.CleanupPackage, error) {
	var p depot.CleanupPackage
	var created int64
	if err := row.Scan(&p.Package.ID, &p.Package.OwnerID, &p.Package.Type, &p.Package.Name, &created, &p.Package.ProjectID); err != nil {
		return nil, err
	}
	p.Package.CreatedAt = FromMicros(created)
	return &p, nil
}

// CleanupVersionCols are the version columns CleanupVersion reads, with
// its package id first.
const CleanupVersionCols = `package_id, id, version, created_at, last_downloaded_at`

// CleanupVersions reads rows of CleanupVersionCols into the packages of
// byID and closes rows.
func CleanupVersions(rows *sql.Rows, byID map[int64]*depot.CleanupPackage) error {
	defer rows.Close()
	for rows.Next() {
		var pkgID, created int64
		var last sql.NullInt64
		var v depot.CleanupVersion
		if err := rows.Scan(&pkgID, &v.ID, &v.Version, &created, &last); err != nil {
			return err
		}
		v.CreatedAt = FromMicros(created)
		if last.Valid {
			t := FromMicros(last.Int64)
			v.LastDownloadedAt = &t
		}
		if p := byID[pkgID]; p != nil {
			p.Versions = append(p.Versions, v)
		}
	}
	return rows.Err()
}
