// Package sqlite implements depot.Store on SQLite through the pure-Go
// modernc.org/sqlite driver (no cgo). It keeps two pools: one connection for
// writes, whose transactions begin IMMEDIATE so writers queue instead of
// failing, and several read-only connections that WAL mode lets run beside
// the writer. Other processes (the admin CLI) share the file safely through
// SQLite's locks and a busy timeout.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Extended result codes (https://sqlite.org/rescode.html).
const (
	codeConstraintForeignKey = 787
	codeConstraintPrimaryKey = 1555
	codeConstraintUnique     = 2067
	// codeFull is the primary code SQLITE_FULL (the disk is full); its
	// extended codes share the low byte.
	codeFull = 13
)

// errFull is what a write to a full database answers.
var errFull = &depot.Error{Kind: depot.ErrInsufficientStorage, Message: "insufficient storage: the metadata database's disk is full"}

// Store is a depot.Store on one SQLite database file.
type Store struct {
	w, r  *sql.DB
	q     *stmts
	files groupCommit
	cache fileCache
	// searchSortMax is the most versions a name search sorts (see
	// SearchVersions); tests change it to reach the other plan.
	searchSortMax int64
}

var _ depot.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := func(extra string) string {
		q := url.Values{}
		// temp_store(MEMORY): the savepoint journals of a group commit
		// (one savepoint per file) stay in memory instead of a temporary
		// file, a pwrite per page; they only roll a savepoint back within
		// its transaction, so durability does not depend on them.
		for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", "temp_store(MEMORY)"} {
			q.Add("_pragma", p)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode() + extra
	}
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, 2*runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)))
	q, err := prepare(ctx, r, w)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	st := &Store{w: w, r: r, q: q, searchSortMax: defaultSearchSortMax}
	st.files.s = st
	return st, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// RemoveUnrecordedBlob implements depot.Store. SQLite's single writer keeps
// CreateFile out while it runs.
func (s *Store) RemoveUnrecordedBlob(ctx context.Context, sha256 string, removeBlob func(context.Context, string) error) (bool, error) {
	removed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM blobs WHERE sha256 = ?`, sha256).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := removeBlob(ctx, sha256); err != nil {
			return err
		}
		removed = true
		return nil
	})
	return removed && err == nil, err
}

// DB returns the database, for tools that copy whole tables (admin
// migrate). It is the writer connection: using it blocks other writers.
func (s *Store) DB() *sql.DB { return s.w }

// Close implements depot.Store.
func (s *Store) Close() error { return errors.Join(s.q.close(), s.r.Close(), s.w.Close()) }

// translate maps SQLite errors onto depot kinds by extended result code.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return depot.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case codeConstraintUnique, codeConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", depot.ErrConflict, err)
		case codeConstraintForeignKey:
			return fmt.Errorf("%w: %v", depot.ErrNotFound, err)
		}
		if se.Code()&0xff == codeFull {
			return fmt.Errorf("%w: %w", errFull, err)
		}
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// tx runs fn in a write transaction and commits when fn returns nil. Every
// write goes through it (or commitBatch), which keeps fileCache exact.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer s.cache.invalidate()
	if err := fn(tx); err != nil {
		tx.Rollback()
		return translate(err)
	}
	return translate(tx.Commit())
}

// CreateUser implements depot.Store.
func (s *Store) CreateUser(ctx context.Context, u *depot.User) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO owners (name, lower_name, kind, visibility, email, password_hash, is_admin, disabled, created_at)
			VALUES (?, ?, 'user', ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Name, strings.ToLower(u.Name), u.Visibility, u.Email, u.PasswordHash, u.IsAdmin, u.Disabled, micros(u.CreatedAt)).Scan(&u.ID)
	})
}

// CreateOrg implements depot.Store.
func (s *Store) CreateOrg(ctx context.Context, org *depot.Owner, adminUserID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO owners (name, lower_name, kind, visibility, created_at)
			VALUES (?, ?, 'org', ?, ?) RETURNING id`,
			org.Name, strings.ToLower(org.Name), org.Visibility, micros(org.CreatedAt)).Scan(&org.ID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role)
			SELECT ?, id, ? FROM owners WHERE id = ? AND kind = 'user'`, org.ID, depot.AccessAdmin, adminUserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound // no such user: roll the organization back
		}
		return nil
	})
}

// OwnerByName implements depot.Store.
func (s *Store) OwnerByName(ctx context.Context, name string) (*depot.Owner, error) {
	u, err := scanUser(s.q.ownerByName.QueryRowContext(quick(ctx), strings.ToLower(name)))
	if err != nil {
		return nil, err
	}
	return &u.Owner, nil
}

// UserByName implements depot.Store.
func (s *Store) UserByName(ctx context.Context, name string) (*depot.User, error) {
	return scanUser(s.r.QueryRowContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE lower_name = ? AND kind = 'user'`, strings.ToLower(name)))
}

// UserByID implements depot.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (*depot.User, error) {
	return scanUser(s.q.userByID.QueryRowContext(quick(ctx), id))
}

// ListUsers implements depot.Store.
func (s *Store) ListUsers(ctx context.Context) ([]*depot.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE kind = 'user' ORDER BY lower_name`)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanUser)
}

// SearchOwners implements depot.Store.
func (s *Store) SearchOwners(ctx context.Context, q depot.OwnerQuery) ([]*depot.User, int64, error) {
	where := ` FROM owners WHERE kind = ?`
	args := []any{string(q.Kind)}
	if q.PublicOnly {
		where += ` AND visibility = 'public'`
	}
	if q.Search != "" {
		like := "%" + likeEscape.Replace(strings.ToLower(q.Search)) + "%"
		where += ` AND (lower_name LIKE ? ESCAPE '\' OR lower(email) LIKE ? ESCAPE '\')`
		args = append(args, like, like)
	}
	if q.Admin != nil {
		where += ` AND is_admin = ?`
		args = append(args, *q.Admin)
	}
	if q.Disabled != nil {
		where += ` AND disabled = ?`
		args = append(args, *q.Disabled)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	query := `SELECT ` + ownerCols + where + ` ORDER BY lower_name`
	query, args = limitOffset(query, args, q.Limit, q.Offset)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := sqlrow.All(rows, scanUser)
	return out, total, err
}

// SetMember implements depot.Store.
func (s *Store) SetMember(ctx context.Context, m depot.Member) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role)
			SELECT o.id, u.id, ? FROM owners o, owners u WHERE o.id = ? AND o.kind = 'org' AND u.id = ? AND u.kind = 'user'
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`, m.Role, m.OrgID, m.UserID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return nil
	})
}

// MemberRole implements depot.Store.
func (s *Store) MemberRole(ctx context.Context, orgID, userID int64) (depot.Role, error) {
	var role depot.Role
	err := s.q.memberRole.QueryRowContext(quick(ctx), orgID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return depot.AccessNone, nil
	}
	return role, err
}

// querier is a *sql.DB or a prepared *sql.Stmt bound to its query.
type querier interface {
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

// dbQuery is a query to run on db unprepared.
type dbQuery struct {
	db    *sql.DB
	query string
}

func (q dbQuery) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return q.db.QueryContext(ctx, q.query, args...)
}

func queryTokens(ctx context.Context, q querier, args ...any) ([]*depot.Token, error) {
	rows, err := q.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanToken)
}

// CreateToken implements depot.Store.
func (s *Store) CreateToken(ctx context.Context, t *depot.Token) error {
	var expires sql.NullInt64
	if t.ExpiresAt != nil {
		expires = sql.NullInt64{Int64: micros(*t.ExpiresAt), Valid: true}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO tokens (user_id, name, hash, last_eight, scopes, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.UserID, t.Name, t.Hash, t.LastEight, t.Scopes.String(), micros(t.CreatedAt), expires).Scan(&t.ID)
	})
}

// TokensByLastEight implements depot.Store.
func (s *Store) TokensByLastEight(ctx context.Context, lastEight string) ([]*depot.Token, error) {
	return queryTokens(quick(ctx), s.q.tokensByLastEight, lastEight)
}

// ListTokens implements depot.Store.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]*depot.Token, error) {
	return queryTokens(ctx, dbQuery{s.r, `SELECT ` + tokenCols + ` FROM tokens WHERE user_id = ? ORDER BY name`}, userID)
}

// DeleteToken implements depot.Store.
func (s *Store) DeleteToken(ctx context.Context, userID int64, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND name = ?`, userID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return nil
	})
}

// FileByName implements depot.Store.
// Files found are cached: see fileCache.
func (s *Store) FileByName(ctx context.Context, ownerID int64, typ depot.PackageType, pkg, version, file string) (*depot.File, error) {
	key := fileKey(ownerID, typ, pkg, version, file)
	f, gen := s.cache.get(key)
	if f != nil {
		return f, nil
	}
	f, err := scanFile(s.q.fileByName.QueryRowContext(quick(ctx), ownerID, typ, strings.ToLower(pkg), strings.ToLower(version), strings.ToLower(file)))
	if err == nil {
		s.cache.put(key, f, gen)
	}
	return f, err
}

// CreateFile implements depot.Store. Concurrent calls share transactions:
// see groupCommit.
func (s *Store) CreateFile(ctx context.Context, nf depot.NewFile, commitBlob func(context.Context) error) (*depot.File, error) {
	return s.files.submit(ctx, func(ctx context.Context, tx *sql.Tx) (*depot.File, error) {
		return withQuota(ctx, tx, nf)(s.insertFile(ctx, tx, nf))
	}, commitBlob)
}

// withQuota returns a function that passes an insert's outcome on after
// checking nf's quota in tx.
func withQuota(ctx context.Context, tx *sql.Tx, nf depot.NewFile) func(*depot.File, error) (*depot.File, error) {
	return func(f *depot.File, err error) (*depot.File, error) {
		if err != nil {
			return nil, err
		}
		if err := checkQuota(ctx, tx, nf, f.VersionID); err != nil {
			return nil, err
		}
		return f, nil
	}
}

// insertFile runs the statements that record a new file in tx.
func (s *Store) insertFile(ctx context.Context, tx *sql.Tx, nf depot.NewFile) (*depot.File, error) {
	f := &depot.File{Name: nf.File, Blob: nf.Blob, CreatorID: nf.CreatorID, CreatedAt: nf.CreatedAt}
	var pkgID int64
	err := tx.StmtContext(ctx, s.q.upsertPackage).QueryRowContext(ctx,
		nf.OwnerID, nf.Type, nf.Package, strings.ToLower(nf.Package), micros(nf.CreatedAt), micros(nf.CreatedAt), nf.Blob.Size).Scan(&pkgID)
	if err != nil {
		return nil, fmt.Errorf("upsert package: %w", err)
	}
	err = tx.StmtContext(ctx, s.q.upsertVersion).QueryRowContext(ctx,
		pkgID, nf.Version, strings.ToLower(nf.Version), nf.CreatorID, micros(nf.CreatedAt), nf.OwnerID, nf.Type).Scan(&f.VersionID)
	if err != nil {
		return nil, fmt.Errorf("upsert version: %w", err)
	}
	b := nf.Blob
	_, err = tx.StmtContext(ctx, s.q.insertBlob).ExecContext(ctx, b.SHA256, b.Size, b.MD5, b.SHA1, b.SHA512, micros(b.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("insert blob: %w", err)
	}
	if err := s.storeContent(ctx, tx, nf); err != nil {
		return nil, err
	}
	err = tx.StmtContext(ctx, s.q.insertFile).QueryRowContext(ctx,
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

// DeleteFile implements depot.Store. It deletes every file of that name,
// the current one and those a GitLab upload superseded.
func (s *Store) DeleteFile(ctx context.Context, ownerID int64, typ depot.PackageType, pkg, version, file string, actorID int64, removeBlob func(context.Context, string) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var versionID, pkgID int64
		err := tx.QueryRowContext(ctx, `SELECT v.id, p.id FROM versions v JOIN packages p ON p.id = v.package_id
			WHERE p.owner_id = ? AND p.type = ? AND p.lower_name = ? AND v.lower_version = ?`,
			ownerID, typ, strings.ToLower(pkg), strings.ToLower(version)).Scan(&versionID, &pkgID)
		if err != nil {
			return err
		}
		ev, err := versionEvent(ctx, tx, versionID, actorID)
		if err != nil {
			return err
		}
		shas, err := deleteReturningBlobs(ctx, tx, `DELETE FROM files WHERE version_id = ? AND lower_name = ? RETURNING blob_sha256`, versionID, strings.ToLower(file))
		if err != nil {
			return err
		}
		if len(shas) == 0 {
			return depot.ErrNotFound
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
		return releaseBlobs(ctx, tx, shas, removeBlob)
	})
}

// deleteReturningBlobs runs a DELETE ... RETURNING blob_sha256 and collects
// the digests.
func deleteReturningBlobs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.String)
}

// DeleteVersion implements depot.Store.
func (s *Store) DeleteVersion(ctx context.Context, ownerID int64, typ depot.PackageType, pkg, version string, actorID int64, removeBlob func(context.Context, string) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var versionID, pkgID int64
		err := tx.QueryRowContext(ctx, `SELECT v.id, p.id FROM versions v JOIN packages p ON p.id = v.package_id
			WHERE p.owner_id = ? AND p.type = ? AND p.lower_name = ? AND v.lower_version = ?`,
			ownerID, typ, strings.ToLower(pkg), strings.ToLower(version)).Scan(&versionID, &pkgID)
		if err != nil {
			return err
		}
		ev, err := versionEvent(ctx, tx, versionID, actorID)
		if err != nil {
			return err
		}
		shas, err := deleteReturningBlobs(ctx, tx, `DELETE FROM files WHERE version_id = ? RETURNING blob_sha256`, versionID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM versions WHERE id = ?`, versionID); err != nil {
			return err
		}
		if err := settlePackage(ctx, tx, pkgID); err != nil {
			return err
		}
		if err := s.recordDeleted(ctx, tx, ev); err != nil {
			return err
		}
		return releaseBlobs(ctx, tx, shas, removeBlob)
	})
}

// packageUpload is the SET clause of a package upsert that records one
// more file (migration 00006): its creation time and its blob's size are
// the inserted row's last_upload_at and total_size.
const packageUpload = `last_upload_at = MAX(packages.last_upload_at, excluded.last_upload_at), total_size = packages.total_size + excluded.total_size`

// settlePackage ends a delete of files or versions of a package: it deletes
// the package if no version is left, else recomputes its last upload and
// total size from the files that are (migration 00006).
func settlePackage(ctx context.Context, tx *sql.Tx, pkgID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM packages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM versions WHERE package_id = ?)`, pkgID, pkgID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE packages SET (last_upload_at, total_size) = (
		SELECT COALESCE(MAX(COALESCE(f.created_at, v.created_at)), packages.created_at), COALESCE(SUM(b.size), 0)
		FROM versions v
		LEFT JOIN files f ON f.version_id = v.id
		LEFT JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE v.package_id = packages.id) WHERE id = ?`, pkgID)
	return err
}

// releaseBlobs deletes the records of the given blobs that no file references
// any more and calls removeBlob for each, inside the transaction: the single
// writer connection serialises this against uploads that would reference the
// blob again, so a blob is never removed under a new reference.
func releaseBlobs(ctx context.Context, tx *sql.Tx, shas []string, removeBlob func(context.Context, string) error) error {
	seen := map[string]bool{}
	for _, sha := range shas {
		if seen[sha] {
			continue
		}
		seen[sha] = true
		res, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM files WHERE blob_sha256 = ?)`, sha, sha)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := removeBlob(ctx, sha); err != nil {
				return err
			}
		}
	}
	return nil
}

// BlobExists implements depot.Store.
func (s *Store) BlobExists(ctx context.Context, sha256 string) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs WHERE sha256 = ?`, sha256).Scan(&n)
	return n > 0, err
}
