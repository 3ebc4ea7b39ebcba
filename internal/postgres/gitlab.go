package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// OwnerByID implements depot.GitLabStore.
func (s *Store) OwnerByID(ctx context.Context, id int64) (*depot.Owner, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	return &u.Owner, nil
}

// ProjectByID implements depot.GitLabStore.
func (s *Store) ProjectByID(ctx context.Context, id int64) (*depot.Project, error) {
	return scanProject(s.db.QueryRowContext(ctx, projectQuery+` WHERE pr.id = $1`, id))
}

// CreateGitLabFile implements depot.GitLabStore. It takes CreateFile's
// locks in CreateFile's order. Linking the package and setting the
// version's status are non-key updates, which key-share locks allow. With
// duplicates allowed it marks the current file of the name superseded and
// inserts the new one, skipping the insert when a concurrent upload's file
// became current meanwhile (the unique index makes it wait for that
// upload), and tries again.
func (s *Store) CreateGitLabFile(ctx context.Context, nf depot.NewFile, o depot.GitLabFileOptions, commitBlob func(context.Context) error) (*depot.File, error) {
	f := &depot.File{Name: nf.File, Blob: nf.Blob, CreatorID: nf.CreatorID, CreatedAt: nf.CreatedAt}
	lowerPkg, lowerVersion, lowerFile := strings.ToLower(nf.Package), strings.ToLower(nf.Version), strings.ToLower(nf.File)
	status := o.Status
	if status == "" {
		status = depot.StatusDefault
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := lockQuota(ctx, tx, nf); err != nil {
			return err
		}
		pkgID, err := lockOrInsert(ctx, tx, "package",
			`SELECT id FROM packages WHERE owner_id = $1 AND type = $2 AND lower_name = $3 FOR KEY SHARE`,
			[]any{nf.OwnerID, string(nf.Type), lowerPkg},
			`INSERT INTO packages (owner_id, type, name, lower_name, created_at, project_id) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (owner_id, type, lower_name) DO NOTHING RETURNING id`,
			[]any{nf.OwnerID, string(nf.Type), nf.Package, lowerPkg, micros(nf.CreatedAt), o.ProjectID})
		if err != nil {
			return err
		}
		var projectID int64
		// Linking the package and recording the upload (as recordUpload
		// does, here before the file's insert) are one row update.
		err = tx.QueryRowContext(ctx, `UPDATE packages SET project_id = COALESCE(project_id, $4), `+packageUpload+` WHERE id = $1 RETURNING project_id`,
			pkgID, micros(nf.CreatedAt), nf.Blob.Size, o.ProjectID).Scan(&projectID)
		if err != nil {
			return fmt.Errorf("link package: %w", err)
		}
		if projectID != o.ProjectID {
			return depot.Errorf(depot.ErrInvalid, "package %q belongs to another project", nf.Package)
		}
		f.VersionID, err = lockOrInsert(ctx, tx, "version",
			`SELECT id FROM versions WHERE package_id = $1 AND lower_version = $2 FOR KEY SHARE`,
			[]any{pkgID, lowerVersion},
			`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, status, owner_id, type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (package_id, lower_version) DO NOTHING RETURNING id`,
			[]any{pkgID, nf.Version, lowerVersion, nf.CreatorID, micros(nf.CreatedAt), string(status), nf.OwnerID, string(nf.Type)})
		if err != nil {
			return err
		}
		if o.Status != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE versions SET status = $1 WHERE id = $2 AND status <> $1`, string(o.Status), f.VersionID); err != nil {
				return fmt.Errorf("set status: %w", err)
			}
		}
		b := nf.Blob
		_, err = tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256`, b.SHA256, b.Size, b.MD5, b.SHA1, b.SHA512, micros(b.CreatedAt))
		if err != nil {
			return fmt.Errorf("upsert blob: %w", err)
		}
		if err := storeContent(ctx, tx, nf); err != nil {
			return err
		}
		if !o.AllowDuplicate {
			// As CreateFile: the unique index refuses a second current file.
			err = tx.QueryRowContext(ctx, `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
				f.VersionID, nf.File, lowerFile, b.SHA256, nf.CreatorID, micros(nf.CreatedAt)).Scan(&f.ID)
			if err != nil {
				return fmt.Errorf("insert file: %w", err)
			}
			if err := recordPublication(ctx, tx, f.ID, nf.ExchangeID); err != nil {
				return err
			}
			if err := insertAudit(ctx, tx, nf.Audit); err != nil {
				return fmt.Errorf("record audit event: %w", err)
			}
			if err := checkQuota(ctx, tx, nf, f.VersionID, 0); err != nil {
				return err
			}
			if err := recordCreated(ctx, tx, nf, f); err != nil {
				return fmt.Errorf("record event: %w", err)
			}
			return commitBlob(ctx)
		}
		for range maxLockOrInsert {
			if _, err := tx.ExecContext(ctx, `UPDATE files SET superseded = true WHERE version_id = $1 AND lower_name = $2 AND NOT superseded`,
				f.VersionID, lowerFile); err != nil {
				return fmt.Errorf("supersede file: %w", err)
			}
			err = tx.QueryRowContext(ctx, `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (version_id, lower_name) WHERE NOT superseded DO NOTHING RETURNING id`,
				f.VersionID, nf.File, lowerFile, b.SHA256, nf.CreatorID, micros(nf.CreatedAt)).Scan(&f.ID)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("insert file: %w", err)
			}
			if err := recordPublication(ctx, tx, f.ID, nf.ExchangeID); err != nil {
				return err
			}
			if err := insertAudit(ctx, tx, nf.Audit); err != nil {
				return fmt.Errorf("record audit event: %w", err)
			}
			if err := checkQuota(ctx, tx, nf, f.VersionID, 0); err != nil {
				return err
			}
			if err := recordCreated(ctx, tx, nf, f); err != nil {
				return fmt.Errorf("record event: %w", err)
			}
			return commitBlob(ctx)
		}
		return fmt.Errorf("insert file: %w", errRace)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// gitlabCols are gitlabFields from versions v and versionJoins.
const gitlabCols = gitlabFields + "\n\tFROM versions v" + versionJoins

// GitLabPackageByID implements depot.GitLabStore.
func (s *Store) GitLabPackageByID(ctx context.Context, versionID int64) (*depot.GitLabPackage, error) {
	return scanGitLabPackage(s.db.QueryRowContext(ctx, `SELECT `+gitlabCols+` WHERE v.id = $1`, versionID))
}

var gitlabOrder = map[depot.GitLabOrder]string{
	"":                   "v.created_at",
	depot.OrderCreatedAt: "v.created_at",
	depot.OrderName:      `p.lower_name COLLATE "C"`,
	depot.OrderVersion:   `v.lower_version COLLATE "C"`,
	depot.OrderType:      `p.type COLLATE "C"`,
}

// SearchGitLabPackages implements depot.GitLabStore. As in SearchVersions,
// a subquery selects the page's version ids and only those rows are joined.
// A group listing in creation order (the default) can walk
// versions_owner_created (or versions_owner_type_created) backwards or
// forwards, testing each entry's package and status (ties in created_at are
// put in id order by an incremental sort), so that a page costs its offset
// plus its size in entries; the count reads the owner's versions. The other
// listings (one project's, a name or version filter, another order) read
// the selected packages' versions and sort them, as many as the filters
// select. The count and the page are read in one snapshot so they agree.
func (s *Store) SearchGitLabPackages(ctx context.Context, q depot.GitLabPackageQuery) ([]*depot.GitLabPackage, int64, error) {
	lq, err := gitlabListing(q)
	if err != nil {
		return nil, 0, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
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
	args := []any{q.OwnerID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// A group listing in creation order selects by the versions' copy of
	// the owner and type, which the owner's index in that order holds.
	walk := col == "v.created_at" && q.ProjectID == 0 && q.Name == "" && q.Version == ""
	from := ` FROM versions v JOIN packages p ON p.id = v.package_id`
	if q.PublicOnly {
		from += ` JOIN owners o ON o.id = p.owner_id LEFT JOIN projects pr ON pr.id = p.project_id`
	}
	if walk {
		from += ` WHERE v.owner_id = $1 AND p.project_id IS NOT NULL`
		if q.Type != "" {
			from += ` AND v.type = ` + arg(string(q.Type))
		}
	} else {
		from += ` WHERE p.owner_id = $1 AND p.project_id IS NOT NULL`
		if q.ProjectID != 0 {
			from += ` AND p.project_id = ` + arg(q.ProjectID)
		}
		if q.Type != "" {
			from += ` AND p.type = ` + arg(string(q.Type))
		}
		if q.Name != "" {
			from += ` AND p.lower_name LIKE ` + arg("%"+likeEscape.Replace(strings.ToLower(q.Name))+"%") + ` ESCAPE '\'`
		}
		if q.Version != "" {
			from += ` AND v.lower_version = ` + arg(strings.ToLower(q.Version))
		}
	}
	if q.PublicOnly {
		from += ` AND COALESCE(pr.visibility, o.visibility) = 'public'`
	}
	if q.Status != "" {
		from += ` AND v.status = ` + arg(string(q.Status))
	} else {
		from += ` AND v.status <> 'hidden'`
	}
	countArgs := slices.Clip(args)
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	order := ` ORDER BY ` + col + dir + `, v.id` + dir
	ids := `SELECT v.id` + from + order
	if q.Limit > 0 {
		ids += ` LIMIT ` + arg(q.Limit)
	}
	if q.Offset > 0 {
		ids += ` OFFSET ` + arg(q.Offset)
	}
	return listing{
		count: `SELECT COUNT(*)` + from, countArgs: countArgs,
		page: pageQuery(gitlabFields, ids) + order, pageArgs: args,
	}, nil
}

// FileByID implements depot.GitLabStore.
func (s *Store) FileByID(ctx context.Context, id int64) (*depot.File, error) {
	return scanFile(s.db.QueryRowContext(ctx, `SELECT f.id, f.version_id, f.name, f.creator_id, f.created_at,
		b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at
		FROM files f JOIN blobs b ON b.sha256 = f.blob_sha256 WHERE f.id = $1`, id))
}

// DeleteFileByID implements depot.GitLabStore. It locks the package and the
// version FOR UPDATE first, as DeleteFile does.
func (s *Store) DeleteFileByID(ctx context.Context, id, actorID int64, removeBlob func(context.Context, string) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var versionID, pkgID int64
		err := tx.QueryRowContext(ctx, `SELECT f.version_id, v.package_id FROM files f JOIN versions v ON v.id = f.version_id WHERE f.id = $1`, id).
			Scan(&versionID, &pkgID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM packages WHERE id = $1 FOR UPDATE`, pkgID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM versions WHERE id = $1 FOR UPDATE`, versionID); err != nil {
			return err
		}
		ev, err := versionEvent(ctx, tx, versionID, actorID)
		if err != nil {
			return err
		}
		var lowerName, sha string
		err = tx.QueryRowContext(ctx, `DELETE FROM files WHERE id = $1 AND version_id = $2 RETURNING lower_name, blob_sha256`, id, versionID).
			Scan(&lowerName, &sha)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE files SET superseded = false WHERE id = (SELECT MAX(id) FROM files WHERE version_id = $1 AND lower_name = $2)
			AND NOT EXISTS (SELECT 1 FROM files WHERE version_id = $1 AND lower_name = $2 AND NOT superseded)`, versionID, lowerName); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM versions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM files WHERE version_id = $1)`, versionID); err != nil {
			return err
		}
		if err := settlePackage(ctx, tx, pkgID); err != nil {
			return err
		}
		if err := recordDeleted(ctx, tx, ev); err != nil {
			return err
		}
		return releaseBlobs(ctx, tx, []string{sha}, removeBlob)
	})
}

// RecordDownloads implements depot.GitLabStore.
func (s *Store) RecordDownloads(ctx context.Context, at map[int64]time.Time) error {
	ids := make([]int64, 0, len(at))
	times := make([]int64, 0, len(at))
	for id, t := range at {
		ids = append(ids, id)
		times = append(times, micros(t))
	}
	_, err := s.db.ExecContext(ctx, `UPDATE versions v SET last_downloaded_at = GREATEST(COALESCE(v.last_downloaded_at, 0), d.at)
		FROM unnest($1::bigint[], $2::bigint[]) AS d(id, at) WHERE v.id = d.id`, ids, times)
	return err
}

// PackageSettings implements depot.GitLabStore.
func (s *Store) PackageSettings(ctx context.Context, ownerID int64) (*depot.PackageSettings, error) {
	ps := &depot.PackageSettings{OwnerID: ownerID, GenericDuplicatesAllowed: true}
	err := s.db.QueryRowContext(ctx, `SELECT generic_duplicates_allowed, generic_duplicate_exception_regex FROM package_settings WHERE owner_id = $1`, ownerID).
		Scan(&ps.GenericDuplicatesAllowed, &ps.GenericDuplicateExceptionRegex)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return ps, nil
}

// SetPackageSettings implements depot.GitLabStore.
func (s *Store) SetPackageSettings(ctx context.Context, ps *depot.PackageSettings) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO package_settings (owner_id, generic_duplicates_allowed, generic_duplicate_exception_regex) VALUES ($1, $2, $3)
			ON CONFLICT (owner_id) DO UPDATE SET generic_duplicates_allowed = EXCLUDED.generic_duplicates_allowed,
			generic_duplicate_exception_regex = EXCLUDED.generic_duplicate_exception_regex`,
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
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			string(t.Kind), t.OwnerID, project, t.Name, t.Hash, t.LastEight, t.Scopes.String(), micros(t.CreatedAt), expires).Scan(&t.ID)
	})
}

// ProjectTokensByLastEight implements depot.GitLabStore.
func (s *Store) ProjectTokensByLastEight(ctx context.Context, lastEight string) ([]*depot.ProjectToken, error) {
	return s.queryProjectTokens(ctx, `WHERE last_eight = $1`, lastEight)
}

// ListProjectTokens implements depot.GitLabStore.
func (s *Store) ListProjectTokens(ctx context.Context, ownerID int64) ([]*depot.ProjectToken, error) {
	return s.queryProjectTokens(ctx, `WHERE owner_id = $1 ORDER BY id`, ownerID)
}

// DeleteProjectToken implements depot.GitLabStore.
func (s *Store) DeleteProjectToken(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM project_tokens WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return notifyAuth(ctx, tx)
	})
}

func (s *Store) queryProjectTokens(ctx context.Context, where string, arg any) ([]*depot.ProjectToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.ProjectTokenCols+` FROM project_tokens `+where, arg)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.ProjectToken)
}
