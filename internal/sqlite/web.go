package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// CreateSession implements depot.Store.
func (s *Store) CreateSession(ctx context.Context, sess *depot.Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			sess.Hash, sess.UserID, micros(sess.CreatedAt), micros(sess.ExpiresAt))
		return err
	})
}

// SessionByHash implements depot.Store.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*depot.Session, error) {
	var sess depot.Session
	var created, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT hash, user_id, created_at, expires_at FROM sessions WHERE hash = ?`, hash).
		Scan(&sess.Hash, &sess.UserID, &created, &expires)
	if err != nil {
		return nil, translate(err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &sess, nil
}

// DeleteSession implements depot.Store.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
		return err
	})
}

// DeleteExpiredSessions implements depot.Store.
func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// SetUserFlags implements depot.Store.
func (s *Store) SetUserFlags(ctx context.Context, userID int64, isAdmin, disabled bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE owners SET is_admin = ?, disabled = ? WHERE id = ? AND kind = 'user'`, isAdmin, disabled, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return depot.ErrNotFound
		}
		return nil
	})
}

// ExplorePackages implements depot.Store. The count and the page are read
// in one read transaction so they agree.
func (s *Store) ExplorePackages(ctx context.Context, q depot.ExploreQuery) ([]*depot.PackageSummary, int64, error) {
	where := ` WHERE (? OR o.visibility = 'public' OR o.id = ? OR EXISTS (SELECT 1 FROM org_members m WHERE m.org_id = o.id AND m.user_id = ?))`
	args := []any{q.All, q.ViewerID, q.ViewerID}
	if q.Search != "" {
		like := "%" + likeEscape.Replace(strings.ToLower(q.Search)) + "%"
		where += ` AND (p.lower_name LIKE ? ESCAPE '\' OR o.lower_name LIKE ? ESCAPE '\')`
		args = append(args, like, like)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	from := ` FROM packages p JOIN owners o ON o.id = p.owner_id`
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+from+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	// The page walks packages_upload (migration 00019) and stops after it;
	// only its packages' versions are counted.
	query := `SELECT p.id, p.owner_id, p.type, p.name, p.created_at, COALESCE(p.project_id, 0), o.name,
		(SELECT COUNT(*) FROM versions v WHERE v.package_id = p.id), p.last_upload_at` + from +
		where + ` ORDER BY p.last_upload_at DESC, p.id ASC`
	query, args = limitOffset(query, args, q.Limit, q.Offset)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := sqlrow.All(rows, sqlrow.PackageSummary)
	return out, total, err
}

// VersionStats implements depot.Store.
func (s *Store) VersionStats(ctx context.Context, packageID int64) ([]depot.VersionStat, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT v.id, COUNT(f.id), COALESCE(SUM(b.size), 0), COALESCE(MAX(f.created_at), v.created_at)
		FROM versions v
		LEFT JOIN files f ON f.version_id = v.id
		LEFT JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE v.package_id = ? GROUP BY v.id, v.created_at ORDER BY v.id`, packageID)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.VersionStat)
}

// OwnerPackageStats implements depot.Store. The page's package ids are
// selected by walking packages_owner_type_upload (migration 00006), which
// skips the offset inside the index and tests a name filter on the entries
// themselves, and only those packages' versions and files are aggregated.
// The total and the storage used are one pass over the owner's entries of
// the same index. Both are read in one read transaction so they agree.
func (s *Store) OwnerPackageStats(ctx context.Context, q depot.OwnerPackageQuery) (*depot.OwnerPackagePage, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	out := &depot.OwnerPackagePage{}
	query, args := ownerPackageTotals(q)
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&out.Total, &out.StorageUsed); err != nil {
		return nil, err
	}
	if int64(q.Offset) >= out.Total {
		return out, nil
	}
	query, args = ownerPackagePage(q)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	if out.Packages, err = sqlrow.All(rows, sqlrow.PackageStat); err != nil {
		return nil, err
	}
	return out, nil
}

// ownerPackageFilter selects the owner's packages of q's type and name.
func ownerPackageFilter(q depot.OwnerPackageQuery) (string, []any) {
	where := ` WHERE owner_id = ? AND type = ?`
	args := []any{q.OwnerID, q.Type}
	if q.Search != "" {
		where += ` AND lower_name LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscape.Replace(strings.ToLower(q.Search))+"%")
	}
	return where, args
}

// ownerPackageTotals returns the query of OwnerPackageStats' total and
// storage used.
func ownerPackageTotals(q depot.OwnerPackageQuery) (string, []any) {
	total := `COUNT(*)`
	var args []any
	if q.Search != "" {
		total = `COUNT(*) FILTER (WHERE lower_name LIKE ? ESCAPE '\')`
		args = append(args, "%"+likeEscape.Replace(strings.ToLower(q.Search))+"%")
	}
	return `SELECT ` + total + `, COALESCE(SUM(total_size), 0) FROM packages
		WHERE owner_id = ? AND type = ?`, append(args, q.OwnerID, q.Type)
}

// ownerPackagePage returns the query of OwnerPackageStats' page.
func ownerPackagePage(q depot.OwnerPackageQuery) (string, []any) {
	where, args := ownerPackageFilter(q)
	ids := `SELECT id FROM packages` + where + ` ORDER BY last_upload_at DESC, id`
	ids, args = limitOffset(ids, args, q.Limit, q.Offset)
	return `SELECT p.id, p.owner_id, p.type, p.name, p.created_at, COALESCE(p.project_id, 0),
		COUNT(DISTINCT v.id), COUNT(f.id), COALESCE(SUM(b.size), 0), COALESCE(MAX(COALESCE(f.created_at, v.created_at)), p.created_at)
	FROM (` + ids + `) page
	JOIN packages p ON p.id = page.id
	LEFT JOIN versions v ON v.package_id = p.id
	LEFT JOIN files f ON f.version_id = v.id
	LEFT JOIN blobs b ON b.sha256 = f.blob_sha256
	GROUP BY p.id ORDER BY p.last_upload_at DESC, p.id`, args
}

// VersionsOf implements depot.Store.
func (s *Store) VersionsOf(ctx context.Context, packageIDs []int64) ([]depot.Version, error) {
	if len(packageIDs) == 0 {
		return nil, nil
	}
	ids, err := json.Marshal(packageIDs)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, package_id, version, creator_id, created_at FROM versions
		WHERE package_id IN (SELECT value FROM json_each(?)) ORDER BY package_id, id`, string(ids))
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.BareVersion)
}

// OrgMembers implements depot.Store.
func (s *Store) OrgMembers(ctx context.Context, orgID int64) ([]*depot.OrgMember, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT o.id, o.name, o.kind, o.visibility, o.email, o.password_hash, o.is_admin, o.disabled, o.created_at, m.role
		FROM org_members m JOIN owners o ON o.id = m.user_id
		WHERE m.org_id = ? ORDER BY o.lower_name`, orgID)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanOrgMember)
}
