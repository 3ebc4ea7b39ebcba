package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
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

// SearchVersions implements depot.Store. The owner's packages come from the
// packages (owner_id, type, lower_name) index and their versions from
// versions (package_id, created_at).
func (s *Store) SearchVersions(ctx context.Context, q depot.VersionQuery) ([]*depot.PackageVersion, int64, error) {
	args := []any{q.OwnerID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := ` WHERE p.owner_id = $1`
	if q.Type != "" {
		where += ` AND p.type = ` + arg(string(q.Type))
	}
	switch {
	case q.ExactName:
		where += ` AND p.lower_name = ` + arg(strings.ToLower(q.Name))
	case q.Name != "":
		where += ` AND p.lower_name LIKE ` + arg("%"+likeEscape.Replace(strings.ToLower(q.Name))+"%") + ` ESCAPE '\'`
	}
	// One snapshot for the count and the page, so they agree.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM versions v JOIN packages p ON p.id = v.package_id`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	query := `SELECT ` + versionCols + where + ` ORDER BY v.created_at DESC, v.id ASC`
	if q.Limit > 0 {
		query += ` LIMIT ` + arg(q.Limit)
	}
	if q.Offset > 0 {
		query += ` OFFSET ` + arg(q.Offset)
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*depot.PackageVersion
	for rows.Next() {
		pv, err := scanVersion(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, pv)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return out, total, nil
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
	defer rows.Close()
	var out []*depot.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
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
	defer rows.Close()
	var out []*depot.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
