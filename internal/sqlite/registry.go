package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// RemoveMember implements depot.Store.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var role depot.Role
		err := tx.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&role)
		if err != nil {
			return err // sql.ErrNoRows: not a member
		}
		if role == depot.AccessAdmin {
			var admins int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM org_members WHERE org_id = ? AND role = ?`, orgID, depot.AccessAdmin).Scan(&admins)
			if err != nil {
				return err
			}
			if admins <= 1 {
				return depot.ErrConflict
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID)
		return err
	})
}

// OrgsOfUser implements depot.Store.
func (s *Store) OrgsOfUser(ctx context.Context, userID int64) ([]*depot.Owner, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT o.id, o.name, o.kind, o.visibility, o.email, o.password_hash, o.is_admin, o.disabled, o.created_at
		FROM org_members m JOIN owners o ON o.id = m.org_id
		WHERE m.user_id = ? ORDER BY o.lower_name`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*depot.Owner
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, &u.Owner)
	}
	return out, rows.Err()
}

// likeEscape escapes LIKE's wildcards so a search matches them literally.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchVersions implements depot.Store. The page is found by walking an
// index in listing order (migration 00005): a subquery selects the page's
// version ids, skipping the offset inside the index, and only those rows
// are joined to their package, owner, creator and project. Without a name
// the page and the count read versions_owner_type_created (or
// versions_owner_created) alone. An exact name reads its package's versions
// from versions_package_created. A name search counts the versions of the
// owner's matching packages (a scan of packages' (owner_id, type,
// lower_name) index), then either sorts them, when there are at most
// Store.searchSortMax, or walks the owner's index testing each entry
// against the matching packages. The count and the page are read in one
// read transaction so they agree.
func (s *Store) SearchVersions(ctx context.Context, q depot.VersionQuery) ([]*depot.PackageVersion, int64, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int64
	count, args := versionCount(q)
	if err := tx.QueryRowContext(ctx, count, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if int64(q.Offset) >= total {
		return nil, total, nil
	}
	page, args := versionPage(q, total <= s.searchSortMax)
	rows, err := tx.QueryContext(ctx, page, args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := sqlrow.All(rows, scanVersion)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// defaultSearchSortMax is the most versions a name search sorts. Up to this
// many, the page reads the matching packages' versions and sorts them, so
// that a rare name costs what it matches; beyond, the page walks the
// owner's index and tests each entry, so that a common name costs the
// offset and the page size in entries rather than a sort of every match.
const defaultSearchSortMax = 1000

// ownerPackages selects the packages p of q's owner, type and name.
func ownerPackages(q depot.VersionQuery) (string, []any) {
	where := ` WHERE p.owner_id = ?`
	args := []any{q.OwnerID}
	if q.Type != "" {
		where += ` AND p.type = ?`
		args = append(args, q.Type)
	}
	switch {
	case q.ExactName:
		where += ` AND p.lower_name = ?`
		args = append(args, strings.ToLower(q.Name))
	case q.Name != "":
		where += ` AND p.lower_name LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscape.Replace(strings.ToLower(q.Name))+"%")
	}
	return where, args
}

// versionCount returns the query of SearchVersions' total.
func versionCount(q depot.VersionQuery) (string, []any) {
	if q.Name == "" {
		from, args := ownerVersions(q)
		return `SELECT COUNT(*)` + from, args
	}
	where, args := ownerPackages(q)
	return `SELECT COUNT(*) FROM packages p JOIN versions v ON v.package_id = p.id` + where, args
}

// versionPage returns the query of SearchVersions' page; a name search
// sorts its matches or walks the owner's index.
func versionPage(q depot.VersionQuery, sortMatches bool) (string, []any) {
	var from string
	var args []any
	switch {
	case q.Name == "":
		from, args = ownerVersions(q)
	case q.ExactName || sortMatches:
		where, pkgArgs := ownerPackages(q)
		from, args = ` FROM packages p JOIN versions v ON v.package_id = p.id`+where, pkgArgs
	default:
		where, pkgArgs := ownerPackages(q)
		from, args = ownerVersions(q)
		from += ` AND v.package_id IN (SELECT p.id FROM packages p` + where + `)`
		args = append(args, pkgArgs...)
	}
	ids := `SELECT v.id` + from + ` ORDER BY v.created_at DESC, v.id`
	ids, args = limitOffset(ids, args, q.Limit, q.Offset)
	return pageQuery(versionFields, ids) + ` ORDER BY v.created_at DESC, v.id`, args
}

// ownerVersions selects the versions v of q's owner and type, for a walk of
// versions_owner_type_created or versions_owner_created.
func ownerVersions(q depot.VersionQuery) (string, []any) {
	if q.Type != "" {
		return ` FROM versions v WHERE v.owner_id = ? AND v.type = ?`, []any{q.OwnerID, q.Type}
	}
	return ` FROM versions v WHERE v.owner_id = ?`, []any{q.OwnerID}
}

// pageQuery selects fields of the versions whose ids the query ids selects,
// joined as sqlrow.VersionJoins joins them; ids are selected first so that
// the rows an offset skips are never read, let alone joined.
func pageQuery(fields, ids string) string {
	return `SELECT ` + fields + `
	FROM (` + ids + `) page
	JOIN versions v ON v.id = page.id` + versionJoins
}

// VersionByName implements depot.Store.
func (s *Store) VersionByName(ctx context.Context, ownerID int64, typ depot.PackageType, pkg, version string) (*depot.PackageVersion, error) {
	return scanVersion(s.r.QueryRowContext(ctx, `SELECT `+versionCols+`
		WHERE p.owner_id = ? AND p.type = ? AND p.lower_name = ? AND v.lower_version = ?`,
		ownerID, typ, strings.ToLower(pkg), strings.ToLower(version)))
}

// ListFiles implements depot.Store.
func (s *Store) ListFiles(ctx context.Context, versionID int64) ([]*depot.File, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT f.id, f.version_id, f.name, f.creator_id, f.created_at,
		b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at
		FROM files f JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE f.version_id = ? ORDER BY f.id`, versionID)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanFile)
}

// PackageByName implements depot.Store.
func (s *Store) PackageByName(ctx context.Context, ownerID int64, typ depot.PackageType, name string) (*depot.Package, error) {
	var p depot.Package
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, owner_id, type, name, created_at, COALESCE(project_id, 0) FROM packages
		WHERE owner_id = ? AND type = ? AND lower_name = ?`, ownerID, typ, strings.ToLower(name)).
		Scan(&p.ID, &p.OwnerID, &p.Type, &p.Name, &created, &p.ProjectID)
	if err != nil {
		return nil, translate(err)
	}
	p.CreatedAt = fromMicros(created)
	return &p, nil
}

// SetPackageProject implements depot.Store.
func (s *Store) SetPackageProject(ctx context.Context, packageID, projectID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if projectID == 0 {
			res, err = tx.ExecContext(ctx, `UPDATE packages SET project_id = NULL WHERE id = ?`, packageID)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE packages SET project_id = ? WHERE id = ?
				AND EXISTS (SELECT 1 FROM projects pr WHERE pr.id = ? AND pr.owner_id = packages.owner_id)`, projectID, packageID, projectID)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return nil
	})
}

// CreateProject implements depot.Store.
func (s *Store) CreateProject(ctx context.Context, p *depot.Project) error {
	var vis sql.NullString
	if p.Visibility != "" {
		vis = sql.NullString{String: string(p.Visibility), Valid: true}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO projects (owner_id, name, lower_name, visibility, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, p.OwnerID, p.Name, strings.ToLower(p.Name), vis, micros(p.CreatedAt)).Scan(&p.ID)
	})
}

const projectQuery = `SELECT pr.id, pr.owner_id, o.name, pr.name, pr.visibility, pr.created_at
	FROM projects pr JOIN owners o ON o.id = pr.owner_id`

// ProjectByName implements depot.Store.
func (s *Store) ProjectByName(ctx context.Context, ownerID int64, name string) (*depot.Project, error) {
	return scanProject(s.r.QueryRowContext(ctx, projectQuery+` WHERE pr.owner_id = ? AND pr.lower_name = ?`, ownerID, strings.ToLower(name)))
}

// ListProjects implements depot.Store.
func (s *Store) ListProjects(ctx context.Context) ([]*depot.Project, error) {
	rows, err := s.r.QueryContext(ctx, projectQuery+` ORDER BY o.lower_name, pr.lower_name`)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanProject)
}

// limitOffset appends a page's LIMIT and OFFSET to query (none for a zero
// limit and offset; SQLite needs LIMIT -1 before an OFFSET alone).
func limitOffset(query string, args []any, limit, offset int) (string, []any) {
	switch {
	case limit > 0:
		return query + ` LIMIT ? OFFSET ?`, append(args, limit, offset)
	case offset > 0:
		return query + ` LIMIT -1 OFFSET ?`, append(args, offset)
	}
	return query, args
}
