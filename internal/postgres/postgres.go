// Package postgres implements depot.Store on PostgreSQL through pgx (pure
// Go), used as a database/sql driver over a pgxpool so that goose can apply
// the migrations.
//
// Several depot replicas may share one database. Correctness then comes from
// transactions, row locks and constraints only (see "PostgreSQL" in
// docs/design.md):
//
//   - every transaction runs at READ COMMITTED, so each statement sees what
//     committed before it started;
//   - CreateFile holds FOR KEY SHARE locks on its package and version and an
//     exclusive lock on its blob row (an upsert) from before it inserts the
//     file until it commits, and calls commitBlob last;
//   - DeleteFile and DeleteVersion lock the package and the version FOR
//     UPDATE, then the blob rows FOR UPDATE in digest order, and only then,
//     in new statements, look for remaining files, so they see every file of
//     every CreateFile that held those locks before them;
//   - a transaction that fails with a serialization failure or a deadlock is
//     run again, a bounded number of times.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// errFull is what a write to a database whose disk is full answers.
var errFull = &depot.Error{Kind: depot.ErrInsufficientStorage, Message: "insufficient storage: the metadata database's disk is full"}

// SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeForeignKeyViolation  = "23503"
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeDiskFull             = "53100"
)

const (
	// defaultMaxConns is the pool size when the URL sets no pool_max_conns.
	// CreateFile holds a connection while commitBlob runs, so uploads need
	// more connections than there are cores; several replicas share the
	// server's max_connections (100 by default).
	defaultMaxConns = 16
	// maxAttempts bounds how many times a transaction runs when it fails
	// with a serialization failure or a deadlock.
	maxAttempts = 5
	// maxLockOrInsert bounds the select-then-insert loop of lockOrInsert.
	// Each turn needs a concurrent transaction to insert or delete the row
	// between two statements, so a few turns are plenty.
	maxLockOrInsert = 10
)

// errRace reports that concurrent transactions kept changing a row that a
// transaction needed. tx runs the transaction again.
var errRace = errors.New("row kept changing under concurrent transactions")

// Store is a depot.Store on a PostgreSQL database (the first existing schema
// of the connection's search_path).
type Store struct {
	pool *pgxpool.Pool
	db   *sql.DB
}

var _ depot.Store = (*Store)(nil)

// Open connects to the database at rawURL, a postgres:// or postgresql://
// URL as libpq and pgx take it (for example
// postgres://depot:secret@db:5432/depot?sslmode=verify-full), checks the
// connection and applies pending migrations. The URL may set pgxpool's
// settings (pool_max_conns, default 16; pool_max_conn_lifetime; ...) and
// server settings such as search_path, which chooses the schema. Several
// processes may Open the same database at once: migrations run under a
// PostgreSQL advisory lock.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not echoing rawURL: it may hold a password.
		return nil, errors.New("postgres: the database URL must be a postgres:// or postgresql:// URL")
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err) // pgconn redacts the password
	}
	if !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, db: stdlib.OpenDBFromPool(pool)}
	if err := s.db.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", redacted(u), err)
	}
	if err := migrate(ctx, s.db); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// redacted is u without its password, for messages.
func redacted(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment = "", ""
	return v.Redacted()
}

func migrate(ctx context.Context, db *sql.DB) error {
	// goose's version table lands in the current schema, so the advisory
	// lock is per schema too: stores in other schemas of the same database
	// (tests, several installations) do not queue behind each other.
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: current schema: %w", err)
	}
	if !schema.Valid {
		return errors.New("postgres: no schema of the search_path exists; create it or fix search_path in the database URL")
	}
	h := fnv.New64a()
	h.Write([]byte("depot migrations\x00" + schema.String))
	// Poll the lock every second for up to five minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: apply migrations to schema %s: %w", schema.String, err)
	}
	return nil
}

// DB returns the database, for tools that copy whole tables (admin
// migrate). Its connections come from the store's pool.
func (s *Store) DB() *sql.DB { return s.db }

// Close implements depot.Store.
func (s *Store) Close() error {
	err := s.db.Close()
	s.pool.Close()
	return err
}

// sqlState returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether running the transaction again may succeed.
func retryable(err error) bool {
	switch sqlState(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return errors.Is(err, errRace)
}

// translate maps PostgreSQL errors onto depot kinds by SQLSTATE.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return depot.ErrNotFound
	}
	switch sqlState(err) {
	case codeUniqueViolation:
		return fmt.Errorf("%w: %v", depot.ErrConflict, err)
	case codeForeignKeyViolation:
		// A missing parent: the owner of a package, the user of a token.
		return fmt.Errorf("%w: %v", depot.ErrNotFound, err)
	case codeDiskFull:
		return fmt.Errorf("%w: %w", errFull, err)
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// tx runs fn in a READ COMMITTED transaction and commits when fn returns nil.
// It runs fn again (at most maxAttempts times in all) when the transaction
// fails with a serialization failure or a deadlock, so fn must be safe to
// repeat: the callbacks of CreateFile and DeleteFile are (committing a blob
// twice is a no-op; removing a blob that a retry then finds referenced again
// is repaired by that CreateFile's commitBlob, which runs after this
// transaction).
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			// Back off a little, with jitter, so the transactions that
			// collided do not collide again.
			d := time.Duration(attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		if err = s.try(ctx, fn); !retryable(err) {
			return translate(err)
		}
	}
	return fmt.Errorf("postgres: gave up after %d attempts: %w", maxAttempts, err)
}

func (s *Store) try(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CreateUser implements depot.Store.
func (s *Store) CreateUser(ctx context.Context, u *depot.User) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO owners (name, lower_name, kind, visibility, email, password_hash, is_admin, disabled, created_at)
			VALUES ($1, $2, 'user', $3, $4, $5, $6, $7, $8) RETURNING id`,
			u.Name, strings.ToLower(u.Name), string(u.Visibility), u.Email, u.PasswordHash, u.IsAdmin, u.Disabled, micros(u.CreatedAt)).Scan(&u.ID)
	})
}

// CreateOrg implements depot.Store.
func (s *Store) CreateOrg(ctx context.Context, org *depot.Owner, adminUserID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO owners (name, lower_name, kind, visibility, created_at)
			VALUES ($1, $2, 'org', $3, $4) RETURNING id`,
			org.Name, strings.ToLower(org.Name), string(org.Visibility), micros(org.CreatedAt)).Scan(&org.ID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role)
			SELECT $1, id, $2 FROM owners WHERE id = $3 AND kind = 'user'`, org.ID, int(depot.AccessAdmin), adminUserID)
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
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE lower_name = $1`, strings.ToLower(name)))
	if err != nil {
		return nil, err
	}
	return &u.Owner, nil
}

// UserByName implements depot.Store.
func (s *Store) UserByName(ctx context.Context, name string) (*depot.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE lower_name = $1 AND kind = 'user'`, strings.ToLower(name)))
}

// UserByID implements depot.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (*depot.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE id = $1 AND kind = 'user'`, id))
}

// ListUsers implements depot.Store. Names sort by byte, as in SQLite,
// whatever the database's collation.
func (s *Store) ListUsers(ctx context.Context) ([]*depot.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+ownerCols+` FROM owners WHERE kind = 'user' ORDER BY lower_name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, scanUser)
}

// SearchOwners implements depot.Store.
func (s *Store) SearchOwners(ctx context.Context, q depot.OwnerQuery) ([]*depot.User, int64, error) {
	args := []any{string(q.Kind)}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := ` FROM owners WHERE kind = $1`
	if q.PublicOnly {
		where += ` AND visibility = 'public'`
	}
	if q.Search != "" {
		like := arg("%" + likeEscape.Replace(strings.ToLower(q.Search)) + "%")
		where += ` AND (lower_name LIKE ` + like + ` ESCAPE '\' OR lower(email) LIKE ` + like + ` ESCAPE '\')`
	}
	if q.Admin != nil {
		where += ` AND is_admin = ` + arg(*q.Admin)
	}
	if q.Disabled != nil {
		where += ` AND disabled = ` + arg(*q.Disabled)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	query := `SELECT ` + ownerCols + where + ` ORDER BY lower_name COLLATE "C"`
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
	out, err := sqlrow.All(rows, scanUser)
	return out, total, err
}

// SetMember implements depot.Store.
func (s *Store) SetMember(ctx context.Context, m depot.Member) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role)
			SELECT o.id, u.id, $1 FROM owners o, owners u WHERE o.id = $2 AND o.kind = 'org' AND u.id = $3 AND u.kind = 'user'
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role`, int(m.Role), m.OrgID, m.UserID)
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
	var role int
	err := s.db.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return depot.AccessNone, nil
	}
	return depot.Role(role), err
}

func (s *Store) queryTokens(ctx context.Context, query string, args ...any) ([]*depot.Token, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
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
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			t.UserID, t.Name, t.Hash, t.LastEight, t.Scopes.String(), micros(t.CreatedAt), expires).Scan(&t.ID)
	})
}

// TokensByLastEight implements depot.Store.
func (s *Store) TokensByLastEight(ctx context.Context, lastEight string) ([]*depot.Token, error) {
	return s.queryTokens(ctx, `SELECT `+tokenCols+` FROM tokens WHERE last_eight = $1`, lastEight)
}

// ListTokens implements depot.Store. Names sort by byte, as in SQLite.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]*depot.Token, error) {
	return s.queryTokens(ctx, `SELECT `+tokenCols+` FROM tokens WHERE user_id = $1 ORDER BY name COLLATE "C"`, userID)
}

// DeleteToken implements depot.Store.
func (s *Store) DeleteToken(ctx context.Context, userID int64, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = $1 AND name = $2`, userID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return notifyAuth(ctx, tx)
	})
}

const fileQuery = `SELECT f.id, f.version_id, f.name, f.creator_id, f.created_at,
	b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at
	FROM files f
	JOIN versions v ON v.id = f.version_id
	JOIN packages p ON p.id = v.package_id
	JOIN blobs b ON b.sha256 = f.blob_sha256
	WHERE p.owner_id = $1 AND p.type = $2 AND p.lower_name = $3 AND v.lower_version = $4 AND f.lower_name = $5 AND NOT f.superseded`

// FileByName implements depot.Store.
func (s *Store) FileByName(ctx context.Context, ownerID int64, typ depot.PackageType, pkg, version, file string) (*depot.File, error) {
	return scanFile(s.db.QueryRowContext(ctx, fileQuery, ownerID, string(typ), strings.ToLower(pkg), strings.ToLower(version), strings.ToLower(file)))
}

// lockOrInsert returns the id of the row that sel finds, locking it FOR KEY
// SHARE, or else of the row that ins inserts (ins ends ON CONFLICT DO
// NOTHING RETURNING id). A key-share lock keeps the row from being deleted
// until commit without blocking other transactions that take it too, so
// uploads into one version run side by side.
//
// Between the two statements another transaction may insert the row
// (ins then waits for it and inserts nothing) or delete it (sel waits for
// it and finds nothing); each statement sees what committed before it
// started, so looking again settles it.
func lockOrInsert(ctx context.Context, tx *sql.Tx, what, sel string, selArgs []any, ins string, insArgs []any) (int64, error) {
	for range maxLockOrInsert {
		var id int64
		err := tx.QueryRowContext(ctx, sel, selArgs...).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			if err != nil {
				err = fmt.Errorf("lock %s: %w", what, err)
			}
			return id, err
		}
		err = tx.QueryRowContext(ctx, ins, insArgs...).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			if err != nil {
				err = fmt.Errorf("insert %s: %w", what, err)
			}
			return id, err
		}
	}
	return 0, fmt.Errorf("lock %s: %w", what, errRace)
}

// CreateFile implements depot.Store. It locks, in this order, the package
// and the version (FOR KEY SHARE, inserting them when missing) and the blob
// row (exclusively, by an upsert), inserts the file and calls commitBlob last,
// holding every lock until commit. DeleteFile and DeleteVersion lock in the
// same order.
func (s *Store) CreateFile(ctx context.Context, nf depot.NewFile, commitBlob func(context.Context) error) (*depot.File, error) {
	f := &depot.File{Name: nf.File, Blob: nf.Blob, CreatorID: nf.CreatorID, CreatedAt: nf.CreatedAt}
	lowerPkg, lowerVersion := strings.ToLower(nf.Package), strings.ToLower(nf.Version)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := lockQuota(ctx, tx, nf); err != nil {
			return err
		}
		pkgID, err := lockOrInsert(ctx, tx, "package",
			`SELECT id FROM packages WHERE owner_id = $1 AND type = $2 AND lower_name = $3 FOR KEY SHARE`,
			[]any{nf.OwnerID, string(nf.Type), lowerPkg},
			`INSERT INTO packages (owner_id, type, name, lower_name, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (owner_id, type, lower_name) DO NOTHING RETURNING id`,
			[]any{nf.OwnerID, string(nf.Type), nf.Package, lowerPkg, micros(nf.CreatedAt)})
		if err != nil {
			return err
		}
		f.VersionID, err = lockOrInsert(ctx, tx, "version",
			`SELECT id FROM versions WHERE package_id = $1 AND lower_version = $2 FOR KEY SHARE`,
			[]any{pkgID, lowerVersion},
			`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (package_id, lower_version) DO NOTHING RETURNING id`,
			[]any{pkgID, nf.Version, lowerVersion, nf.CreatorID, micros(nf.CreatedAt), nf.OwnerID, string(nf.Type)})
		if err != nil {
			return err
		}
		// Insert the blob record or lock the existing one: either way no
		// deleter can remove it, or its bytes, before this commits; a deleter
		// that locked it first has committed by the time this returns, and
		// the record is then inserted anew.
		b := nf.Blob
		_, err = tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256`, b.SHA256, b.Size, b.MD5, b.SHA1, b.SHA512, micros(b.CreatedAt))
		if err != nil {
			return fmt.Errorf("upsert blob: %w", err)
		}
		if err := storeContent(ctx, tx, nf); err != nil {
			return err
		}
		// The unique constraint on (version_id, lower_name) settles two
		// uploads of one path: the second waits for the first and fails if
		// it committed.
		err = tx.QueryRowContext(ctx, `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			f.VersionID, nf.File, strings.ToLower(nf.File), b.SHA256, nf.CreatorID, micros(nf.CreatedAt)).Scan(&f.ID)
		if err != nil {
			return fmt.Errorf("insert file: %w", err)
		}
		if err := recordPublication(ctx, tx, f.ID, nf.ExchangeID); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, nf.Audit); err != nil {
			return fmt.Errorf("record audit event: %w", err)
		}
		if err := checkQuota(ctx, tx, nf, f.VersionID, nf.Blob.Size); err != nil {
			return err
		}
		if err := recordCreated(ctx, tx, nf, f); err != nil {
			return fmt.Errorf("record event: %w", err)
		}
		if err := commitBlob(ctx); err != nil {
			return err
		}
		return recordUpload(ctx, tx, pkgID, nf)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// lockVersion finds a version and locks it and its package FOR UPDATE, in
// that order. Once it returns, no CreateFile is adding to either (they hold
// key-share locks until commit) and none will until this transaction ends.
func lockVersion(ctx context.Context, tx *sql.Tx, ownerID int64, typ depot.PackageType, pkg, version string) (pkgID, versionID int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT id FROM packages WHERE owner_id = $1 AND type = $2 AND lower_name = $3 FOR UPDATE`,
		ownerID, string(typ), strings.ToLower(pkg)).Scan(&pkgID)
	if err != nil {
		return 0, 0, err
	}
	err = tx.QueryRowContext(ctx, `SELECT id FROM versions WHERE package_id = $1 AND lower_version = $2 FOR UPDATE`,
		pkgID, strings.ToLower(version)).Scan(&versionID)
	return pkgID, versionID, err
}

// DeleteFile implements depot.Store.
func (s *Store) DeleteFile(ctx context.Context, ownerID int64, typ depot.PackageType, pkg, version, file string, actorID int64, removeBlob func(context.Context, string) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		pkgID, versionID, err := lockVersion(ctx, tx, ownerID, typ, pkg, version)
		if err != nil {
			return err
		}
		ev, err := versionEvent(ctx, tx, versionID, actorID)
		if err != nil {
			return err
		}
		// Every file of that name: the current one and those a GitLab
		// upload superseded.
		shas, err := deleteReturningBlobs(ctx, tx, `DELETE FROM files WHERE version_id = $1 AND lower_name = $2 RETURNING blob_sha256`,
			versionID, strings.ToLower(file))
		if err != nil {
			return err
		}
		if len(shas) == 0 {
			return depot.ErrNotFound
		}
		// The version and package are locked, so these statements, which
		// wait for nothing, see every file and version there is.
		if _, err := tx.ExecContext(ctx, `DELETE FROM versions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM files WHERE version_id = $1)`, versionID); err != nil {
			return err
		}
		if err := settlePackage(ctx, tx, pkgID); err != nil {
			return err
		}
		if err := recordDeleted(ctx, tx, ev); err != nil {
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
		pkgID, versionID, err := lockVersion(ctx, tx, ownerID, typ, pkg, version)
		if err != nil {
			return err
		}
		ev, err := versionEvent(ctx, tx, versionID, actorID)
		if err != nil {
			return err
		}
		shas, err := deleteReturningBlobs(ctx, tx, `DELETE FROM files WHERE version_id = $1 RETURNING blob_sha256`, versionID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM versions WHERE id = $1`, versionID); err != nil {
			return err
		}
		if err := settlePackage(ctx, tx, pkgID); err != nil {
			return err
		}
		if err := recordDeleted(ctx, tx, ev); err != nil {
			return err
		}
		return releaseBlobs(ctx, tx, shas, removeBlob)
	})
}

// recordUpload raises a package's last upload and total size (migration
// 00006) by one new file. It is an upload's last statement, after the
// blob's commit (which may copy gigabytes inside the object store): its row
// lock makes concurrent uploads into one package wait for each other only
// from there to their commits.
func recordUpload(ctx context.Context, tx *sql.Tx, pkgID int64, nf depot.NewFile) error {
	if _, err := tx.ExecContext(ctx, `UPDATE packages SET `+packageUpload+` WHERE id = $1`, pkgID, micros(nf.CreatedAt), nf.Blob.Size); err != nil {
		return fmt.Errorf("record upload: %w", err)
	}
	return nil
}

// packageUpload is the SET clause that records one more file in a
// package: $2 is its creation time, $3 its blob's size.
const packageUpload = `last_upload_at = GREATEST(last_upload_at, $2), total_size = total_size + $3`

// settlePackage ends a delete of files or versions of a package, locked by
// the caller: it deletes the package if no version is left, else recomputes
// its last upload and total size from the files that are (migration 00006).
// The lock keeps uploads into the package out, so the statements see every
// file there is.
func settlePackage(ctx context.Context, tx *sql.Tx, pkgID int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM packages WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM versions WHERE package_id = $1)`, pkgID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE packages p SET (last_upload_at, total_size) = (
		SELECT COALESCE(MAX(COALESCE(f.created_at, v.created_at)), p.created_at), COALESCE(SUM(b.size), 0)
		FROM versions v
		LEFT JOIN files f ON f.version_id = v.id
		LEFT JOIN blobs b ON b.sha256 = f.blob_sha256
		WHERE v.package_id = p.id) WHERE p.id = $1`, pkgID)
	return err
}

// releaseBlobs deletes the records of the given blobs that no file references
// any more and calls removeBlob for each, inside the transaction.
//
// It first locks the blob rows FOR UPDATE, in digest order so that deleters
// never deadlock each other. A CreateFile that reuses a digest holds its
// row's lock from its upsert until it commits, so the lock waits for it; one
// that comes later waits for this transaction and then inserts the record
// and commits the bytes again. Only then, in a new statement whose snapshot
// includes every file committed so far, does it look for remaining
// references.
func releaseBlobs(ctx context.Context, tx *sql.Tx, shas []string, removeBlob func(context.Context, string) error) error {
	slices.Sort(shas)
	shas = slices.Compact(shas)
	if len(shas) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM blobs WHERE sha256 = ANY($1) ORDER BY sha256 FOR UPDATE`, shas); err != nil {
		return fmt.Errorf("lock blobs: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM blobs b WHERE b.sha256 = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM files f WHERE f.blob_sha256 = b.sha256) RETURNING b.sha256`, shas)
	if err != nil {
		return fmt.Errorf("delete blobs: %w", err)
	}
	var unused []string
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			rows.Close()
			return err
		}
		unused = append(unused, sha)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("delete blobs: %w", err)
	}
	slices.Sort(unused)
	for _, sha := range unused {
		if err := removeBlob(ctx, sha); err != nil {
			return err
		}
	}
	return nil
}

// RemoveUnrecordedBlob implements depot.Store. With no row to lock, it
// inserts a placeholder record for the digest, which it deletes again before
// commit so nobody ever sees it: the unique index makes a CreateFile's upsert
// of that digest wait for this transaction (and then insert its record and
// commit the bytes again), and makes this insert wait for a CreateFile in
// progress (and then find its record).
func (s *Store) RemoveUnrecordedBlob(ctx context.Context, sha256 string, removeBlob func(context.Context, string) error) (bool, error) {
	removed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		removed = false
		res, err := tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES ($1, 0, '', '', '', 0)
			ON CONFLICT (sha256) DO NOTHING`, sha256)
		if err != nil {
			return fmt.Errorf("lock digest: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // recorded
		}
		if err := removeBlob(ctx, sha256); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE sha256 = $1`, sha256); err != nil {
			return fmt.Errorf("delete placeholder: %w", err)
		}
		removed = true
		return nil
	})
	return removed && err == nil, err
}

// BlobExists implements depot.Store.
func (s *Store) BlobExists(ctx context.Context, sha256 string) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1)`, sha256).Scan(&ok)
	return ok, err
}

var _ depot.DigestStore = (*Store)(nil)

// SetBlobDigests implements depot.DigestStore.
func (s *Store) SetBlobDigests(ctx context.Context, b depot.Blob) error {
	_, err := s.db.ExecContext(ctx, `UPDATE blobs SET md5 = $1, sha1 = $2, sha512 = $3 WHERE sha256 = $4 AND md5 = ''`,
		b.MD5, b.SHA1, b.SHA512, b.SHA256)
	return err
}

// BlobsMissingDigests implements depot.DigestStore.
func (s *Store) BlobsMissingDigests(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sha256 FROM blobs WHERE md5 = '' ORDER BY created_at LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.String)
}
