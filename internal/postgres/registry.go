package postgres

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// RemoveMember implements depot.Store. It locks the organization's admin
// rows before counting them, so two concurrent removals of its last two
// admins cannot both succeed: the second waits, then sees one admin left.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT user_id FROM org_members WHERE org_id = $1 AND role = $2 ORDER BY user_id FOR UPDATE`,
			orgID, int(depot.AccessAdmin))
		if err != nil {
			return err
		}
		var admins []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			admins = append(admins, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		if slices.Contains(admins, userID) && len(admins) <= 1 {
			return depot.ErrConflict // rolls the removal back
		}
		return nil
	})
}

// OrgsOfUser implements depot.Store.
func (s *Store) OrgsOfUser(ctx context.Context, userID int64) ([]*depot.Owner, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.id, o.name, o.kind, o.visibility, o.email, o.password_hash, o.is_admin, o.disabled, o.created_at
		FROM org_members m JOIN owners o ON o.id = m.org_id
		WHERE m.user_id = $1 ORDER BY o.lower_name COLLATE "C"`, userID)
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
// owner's matching packages; its page tests the entries of the owner's
// index against those packages, which the planner, knowing from its
// statistics how many match, may instead read and sort (SQLite, without
// statistics, is told which by the count). The count and the page are read
// in one snapshot so they agree.
func (s *Store) SearchVersions(ctx context.Context, q depot.VersionQuery) ([]*depot.PackageVersion, int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
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
	page, args := versionPage(q)
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

// versionSelection returns what SearchVersions selects for q: the owner's
// versions v of q's type and the owner's packages p of q's type and name,
// as WHERE clauses that share their arguments.
func versionSelection(q depot.VersionQuery) (versions, pkgs string, args []any) {
	args = []any{q.OwnerID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	versions = ` FROM versions v WHERE v.owner_id = $1`
	pkgs = ` WHERE p.owner_id = $1`
	if q.Type != "" {
		t := arg(string(q.Type))
		versions += ` AND v.type = ` + t
		pkgs += ` AND p.type = ` + t
	}
	switch {
	case q.ExactName:
		pkgs += ` AND p.lower_name = ` + arg(strings.ToLower(q.Name))
	case q.Name != "":
		pkgs += ` AND p.lower_name LIKE ` + arg("%"+likeEscape.Replace(strings.ToLower(q.Name))+"%") + ` ESCAPE '\'`
	}
	return versions, pkgs, args
}

// versionCount returns the query of SearchVersions' total.
func versionCount(q depot.VersionQuery) (string, []any) {
	versions, pkgs, args := versionSelection(q)
	if q.Name == "" {
		return `SELECT COUNT(*)` + versions, args
	}
	return `SELECT COUNT(*) FROM packages p JOIN versions v ON v.package_id = p.id` + pkgs, args
}

// versionPage returns the query of SearchVersions' page.
func versionPage(q depot.VersionQuery) (string, []any) {
	from, pkgs, args := versionSelection(q)
	switch {
	case q.ExactName:
		from = ` FROM packages p JOIN versions v ON v.package_id = p.id` + pkgs
	case q.Name != "":
		from += ` AND v.package_id IN (SELECT p.id FROM packages p` + pkgs + `)`
	}
	ids := `SELECT v.id` + from + ` ORDER BY v.created_at DESC, v.id`
	if q.Limit > 0 {
		ids += ` LIMIT $` + strconv.Itoa(len(args)+1)
		args = append(args, q.Limit)
	}
	if q.Offset > 0 {
		ids += ` OFFSET $` + strconv.Itoa(len(args)+1)
		args = append(args, q.Offset)
	}
	return pageQuery(versionFields, ids) + ` ORDER BY v.created_at DESC, v.id`, args
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
	return scanVersion(s.db.QueryRowContext(ctx, `SELECT `+versionCols+`
		WHERE p.owner_id = $1 AND p.type = $2 AND p.lower_name = $3 AND v.lower_version = $4`,
		ownerID, string(typ), strings.ToLower(pkg), strings.ToLower(version)))
}

// ListFiles implements depot.Store.
func (s *Store) ListFiles(ctx context.Context, versionID int64) ([]*depot.File, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT f.id, f.version_id, f.name, f.creator_id, f.created_at,
		b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at
		FROM files f JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE f.version_id = $1 ORDER BY f.id`, versionID)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanFile)
}

// PackageByName implements depot.Store.
func (s *Store) PackageByName(ctx context.Context, ownerID int64, typ depot.PackageType, name string) (*depot.Package, error) {
	var p depot.Package
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, owner_id, type, name, created_at, COALESCE(project_id, 0) FROM packages
		WHERE owner_id = $1 AND type = $2 AND lower_name = $3`, ownerID, string(typ), strings.ToLower(name)).
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
			res, err = tx.ExecContext(ctx, `UPDATE packages SET project_id = NULL WHERE id = $1`, packageID)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE packages SET project_id = $1 WHERE id = $2
				AND EXISTS (SELECT 1 FROM projects pr WHERE pr.id = $3 AND pr.owner_id = packages.owner_id)`, projectID, packageID, projectID)
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
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, p.OwnerID, p.Name, strings.ToLower(p.Name), vis, micros(p.CreatedAt)).Scan(&p.ID)
	})
}

const projectQuery = `SELECT pr.id, pr.owner_id, o.name, pr.name, pr.visibility, pr.created_at
	FROM projects pr JOIN owners o ON o.id = pr.owner_id`

// ProjectByName implements depot.Store.
func (s *Store) ProjectByName(ctx context.Context, ownerID int64, name string) (*depot.Project, error) {
	return scanProject(s.db.QueryRowContext(ctx, projectQuery+` WHERE pr.owner_id = $1 AND pr.lower_name = $2`, ownerID, strings.ToLower(name)))
}

// ListProjects implements depot.Store.
func (s *Store) ListProjects(ctx context.Context) ([]*depot.Project, error) {
	rows, err := s.db.QueryContext(ctx, projectQuery+` ORDER BY o.lower_name COLLATE "C", pr.lower_name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanProject)
}
