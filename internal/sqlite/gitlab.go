package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// OwnerByID implements depot.GitLabStore.
func (s *Store) OwnerByID(ctx context.Context, id int64) (*depot.Owner, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	return &u.Owner, nil
}

// ProjectByID implements depot.GitLabStore.
func (s *Store) ProjectByID(ctx context.Context, id int64) (*depot.Project, error) {
	return scanProject(s.r.QueryRowContext(ctx, projectQuery+` WHERE pr.id = ?`, id))
}

// CreateGitLabFile implements depot.GitLabStore. The single writer
// connection serialises it against every other upload, so superseding the
// current file and inserting the new one cannot interleave with another;
// concurrent uploads share transactions (see groupCommit).
func (s *Store) CreateGitLabFile(ctx context.Context, nf depot.NewFile, o depot.GitLabFileOptions, commitBlob func(context.Context) error) (*depot.File, error) {
	return s.files.submit(ctx, func(ctx context.Context, tx *sql.Tx) (*depot.File, error) {
		return withQuota(ctx, tx, nf)(s.insertGitLabFile(ctx, tx, nf, o))
	}, commitBlob)
}

// insertGitLabFile runs the statements that record a GitLab upload in tx.
func (s *Store) insertGitLabFile(ctx context.Context, tx *sql.Tx, nf depot.NewFile, o depot.GitLabFileOptions) (*depot.File, error) {
	f := &depot.File{Name: nf.File, Blob: nf.Blob, CreatorID: nf.CreatorID, CreatedAt: nf.CreatedAt}
	var pkgID, projectID int64
	err := tx.QueryRowContext(ctx, `INSERT INTO packages (owner_id, type, name, lower_name, created_at, project_id, last_upload_at, total_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_id, type, lower_name) DO UPDATE SET project_id = COALESCE(project_id, excluded.project_id), `+packageUpload+`
		RETURNING id, project_id`,
		nf.OwnerID, nf.Type, nf.Package, strings.ToLower(nf.Package), micros(nf.CreatedAt), o.ProjectID, micros(nf.CreatedAt), nf.Blob.Size).Scan(&pkgID, &projectID)
	if err != nil {
		return nil, fmt.Errorf("upsert package: %w", err)
	}
	if projectID != o.ProjectID {
		return nil, depot.Errorf(depot.ErrInvalid, "package %q belongs to another project", nf.Package)
	}
	status := o.Status
	if status == "" {
		status = depot.StatusDefault
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, status, owner_id, type) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (package_id, lower_version) DO UPDATE SET status = CASE WHEN ? = '' THEN status ELSE excluded.status END RETURNING id`,
		pkgID, nf.Version, strings.ToLower(nf.Version), nf.CreatorID, micros(nf.CreatedAt), status, nf.OwnerID, nf.Type, o.Status).Scan(&f.VersionID)
	if err != nil {
		return nil, fmt.Errorf("upsert version: %w", err)
	}
	b := nf.Blob
	_, err = tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (sha256) DO NOTHING`, b.SHA256, b.Size, b.MD5, b.SHA1, b.SHA512, micros(b.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("insert blob: %w", err)
	}
	if err := s.storeContent(ctx, tx, nf); err != nil {
		return nil, err
	}
	if o.AllowDuplicate {
		if _, err := tx.ExecContext(ctx, `UPDATE files SET superseded = 1 WHERE version_id = ? AND lower_name = ? AND superseded = 0`,
			f.VersionID, strings.ToLower(nf.File)); err != nil {
			return nil, fmt.Errorf("supersede file: %w", err)
		}
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		f.VersionID, nf.File, strings.ToLower(nf.File), b.SHA256, nf.CreatorID, micros(nf.CreatedAt)).Scan(&f.ID)
	if err != nil {
		return nil, fmt.Errorf("insert file: %w", err)
	}
	if err := recordPublication(ctx, tx, f.ID, nf.ExchangeID); err != nil {
		return nil, err
	}
	if err := s.insertAudit(ctx, tx, nf.Audit); err != nil {
		return nil, fmt.Errorf("record audit event: %w", err)
	}
	if err := s.recordCreated(ctx, tx, nf, f); err != nil {
		return nil, fmt.Errorf("record event: %w", err)
	}
	return f, nil
}

// gitlabCols are gitlabFields from versions v and versionJoins.
const gitlabCols = gitlabFields + "\n\tFROM versions v" + versionJoins

// GitLabPackageByID implements depot.GitLabStore.
func (s *Store) GitLabPackageByID(ctx context.Context, versionID int64) (*depot.GitLabPackage, error) {
	return scanGitLabPackage(s.r.QueryRowContext(ctx, `SELECT `+gitlabCols+` WHERE v.id = ?`, versionID))
}

var gitlabOrder = map[depot.GitLabOrder]string{
	"":                   "v.created_at",
	depot.OrderCreatedAt: "v.created_at",
	depot.OrderName:      "p.lower_name",
	depot.OrderVersion:   "v.lower_version",
	depot.OrderType:      "p.type",
}

// SearchGitLabPackages implements depot.GitLabStore. As in SearchVersions,
// a subquery selects the page's version ids and only those rows are joined.
// A group listing in creation order (the default) walks
// versions_owner_created (or versions_owner_type_created) backwards or
// forwards, testing each entry's package and status, so a page costs its
// offset plus its size in entries (ties in created_at are put in id order
// by a sort of each run of equal times), and the count reads the owner's
// versions. The other listings (one project's, a name or version filter,
// another order) read the selected packages' versions and sort them, as
// many as the filters select. The count and the page are read in one read
// transaction so they agree.
func (s *Store) SearchGitLabPackages(ctx context.Context, q depot.GitLabPackageQuery) ([]*depot.GitLabPackage, int64, error) {
	lq, err := gitlabListing(q)
	if err != nil {
		return nil, 0, err
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return sqlrow.Page(ctx, tx, lq.count, lq.countArgs, lq.page, lq.pageArgs, scanGitLabPackage)
}

// listing is the two queries of a listing: its total and its page.
type listing struct {
	count, page         string
	countArgs, pageArgs []any
}

// gitlabListing returns SearchGitLabPackages' queries for q. ErrInvalid for
// an unknown order.
func gitlabListing(q depot.GitLabPackageQuery) (listing, error) {
	col, ok := gitlabOrder[q.OrderBy]
	if !ok {
		return listing{}, depot.Errorf(depot.ErrInvalid, "unknown order %q", q.OrderBy)
	}
	// A group listing in creation order walks the owner's index: the owner
	// is taken from versions (the same as the package's), so the planner
	// starts there rather than at the owner's packages.
	walk := col == "v.created_at" && q.ProjectID == 0 && q.Name == "" && q.Version == ""
	from := ` FROM versions v JOIN packages p ON p.id = v.package_id`
	if q.PublicOnly {
		from += ` JOIN owners o ON o.id = p.owner_id LEFT JOIN projects pr ON pr.id = p.project_id`
	}
	var args []any
	if walk {
		from += ` WHERE v.owner_id = ?`
		args = append(args, q.OwnerID)
		if q.Type != "" {
			from += ` AND v.type = ?`
			args = append(args, q.Type)
		}
		from += ` AND p.project_id IS NOT NULL`
	} else {
		from += ` WHERE p.owner_id = ? AND p.project_id IS NOT NULL`
		args = append(args, q.OwnerID)
		if q.ProjectID != 0 {
			from += ` AND p.project_id = ?`
			args = append(args, q.ProjectID)
		}
		if q.Type != "" {
			from += ` AND p.type = ?`
			args = append(args, q.Type)
		}
		if q.Name != "" {
			from += ` AND p.lower_name LIKE ? ESCAPE '\'`
			args = append(args, "%"+likeEscape.Replace(strings.ToLower(q.Name))+"%")
		}
		if q.Version != "" {
			from += ` AND v.lower_version = ?`
			args = append(args, strings.ToLower(q.Version))
		}
	}
	if q.PublicOnly {
		from += ` AND COALESCE(pr.visibility, o.visibility) = 'public'`
	}
	if q.Status != "" {
		from += ` AND v.status = ?`
		args = append(args, q.Status)
	} else {
		from += ` AND v.status <> 'hidden'`
	}
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	order := ` ORDER BY ` + col + dir + `, v.id` + dir
	ids := `SELECT v.id` + from + order
	pageArgs := append([]any(nil), args...)
	ids, pageArgs = limitOffset(ids, pageArgs, q.Limit, q.Offset)
	return listing{
		count: `SELECT COUNT(*)` + from, countArgs: args,
		page: pageQuery(gitlabFields, ids) + order, pageArgs: pageArgs,
	}, nil
}

// FileByID implements depot.GitLabStore.
func (s *Store) FileByID(ctx context.Context, id int64) (*depot.File, error) {
	return scanFile(s.r.QueryRowContext(ctx, `SELECT f.id, f.version_id, f.name, f.creator_id, f.created_at,
		b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at
		FROM files f JOIN blobs b ON b.sha256 = f.blob_sha256 WHERE f.id = ?`, id))
}

// DeleteFileByID implements depot.GitLabStore.
func (s *Store) DeleteFileByID(ctx context.Context, id, actorID int64, removeBlob func(context.Context, string) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var versionID, pkgID int64
		var lowerName, sha string
		err := tx.QueryRowContext(ctx, `SELECT f.version_id, v.package_id, f.lower_name, f.blob_sha256 FROM files f
			JOIN versions v ON v.id = f.version_id WHERE f.id = ?`, id).Scan(&versionID, &pkgID, &lowerName, &sha)
		if err != nil {
			return err
		}
		ev, err := versionEvent(ctx, tx, versionID, actorID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, id); err != nil {
			return err
		}
		// Promote the newest remaining file of the name when none is current.
		if _, err := tx.ExecContext(ctx, `UPDATE files SET superseded = 0 WHERE id = (SELECT MAX(id) FROM files WHERE version_id = ? AND lower_name = ?)
			AND NOT EXISTS (SELECT 1 FROM files WHERE version_id = ? AND lower_name = ? AND superseded = 0)`,
			versionID, lowerName, versionID, lowerName); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM versions WHERE id = ? AND NOT EXISTS (SELECT 1 FROM files WHERE version_id = ?)`, versionID, versionID); err != nil {
			return err
		}
		if err := settlePackage(ctx, tx, pkgID); err != nil {
			return err
		}
		if err := s.recordDeleted(ctx, tx, ev); err != nil {
			return err
		}
		return releaseBlobs(ctx, tx, []string{sha}, removeBlob)
	})
}

// RecordDownloads implements depot.GitLabStore.
func (s *Store) RecordDownloads(ctx context.Context, at map[int64]time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for id, t := range at {
			if _, err := tx.ExecContext(ctx, `UPDATE versions SET last_downloaded_at = MAX(COALESCE(last_downloaded_at, 0), ?) WHERE id = ?`,
				micros(t), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// PackageSettings implements depot.GitLabStore.
func (s *Store) PackageSettings(ctx context.Context, ownerID int64) (*depot.PackageSettings, error) {
	ps := &depot.PackageSettings{OwnerID: ownerID, GenericDuplicatesAllowed: true}
	err := s.r.QueryRowContext(ctx, `SELECT generic_duplicates_allowed, generic_duplicate_exception_regex FROM package_settings WHERE owner_id = ?`, ownerID).
		Scan(&ps.GenericDuplicatesAllowed, &ps.GenericDuplicateExceptionRegex)
	if err != nil && err != sql.ErrNoRows {
		return nil, err
	}
	return ps, nil
}

// SetPackageSettings implements depot.GitLabStore.
func (s *Store) SetPackageSettings(ctx context.Context, ps *depot.PackageSettings) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO package_settings (owner_id, generic_duplicates_allowed, generic_duplicate_exception_regex) VALUES (?, ?, ?)
			ON CONFLICT (owner_id) DO UPDATE SET generic_duplicates_allowed = excluded.generic_duplicates_allowed,
			generic_duplicate_exception_regex = excluded.generic_duplicate_exception_regex`,
			ps.OwnerID, ps.GenericDuplicatesAllowed, ps.GenericDuplicateExceptionRegex)
		return err
	})
}

// CreateProjectToken implements depot.GitLabStore.
func (s *Store) CreateProjectToken(ctx context.Context, t *depot.ProjectToken) error {
	var expires, project sql.NullInt64
	if t.ExpiresAt != nil {
		expires = sql.NullInt64{Int64: micros(*t.ExpiresAt), Valid: true}
	}
	if t.ProjectID != 0 {
		project = sql.NullInt64{Int64: t.ProjectID, Valid: true}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO project_tokens (kind, owner_id, project_id, name, hash, last_eight, scopes, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.Kind, t.OwnerID, project, t.Name, t.Hash, t.LastEight, t.Scopes.String(), micros(t.CreatedAt), expires).Scan(&t.ID)
	})
}

// ProjectTokensByLastEight implements depot.GitLabStore.
func (s *Store) ProjectTokensByLastEight(ctx context.Context, lastEight string) ([]*depot.ProjectToken, error) {
	return s.queryProjectTokens(ctx, `WHERE last_eight = ?`, lastEight)
}

// ListProjectTokens implements depot.GitLabStore.
func (s *Store) ListProjectTokens(ctx context.Context, ownerID int64) ([]*depot.ProjectToken, error) {
	return s.queryProjectTokens(ctx, `WHERE owner_id = ? ORDER BY id`, ownerID)
}

// DeleteProjectToken implements depot.GitLabStore.
func (s *Store) DeleteProjectToken(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM project_tokens WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return nil
	})
}

func (s *Store) queryProjectTokens(ctx context.Context, where string, arg any) ([]*depot.ProjectToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.ProjectTokenCols+` FROM project_tokens `+where, arg)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.ProjectToken)
}
