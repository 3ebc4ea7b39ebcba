package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

var _ depot.DigestStore = (*Store)(nil)

// stmts are the statements of the hot paths (authentication, the lookups of
// a download, the inserts of an upload), prepared once when the store opens:
// each call then skips SQLite's parsing and planning, which the profile of
// small downloads showed as the largest cost. database/sql prepares a
// statement again on each pooled connection the first time it runs there.
type stmts struct {
	// On the read-only pool.
	ownerByName, userByID, memberRole, tokensByLastEight, fileByName, inlineBlob *sql.Stmt
	// On the writer connection, used through tx.StmtContext.
	upsertPackage, upsertVersion, insertBlob, insertContent, insertFile, insertAudit, countHooks *sql.Stmt
	all                                                                                          []*sql.Stmt
}

const fileQuery = `SELECT f.id, f.version_id, f.name, f.creator_id, f.created_at,
	b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at
	FROM files f
	JOIN versions v ON v.id = f.version_id
	JOIN packages p ON p.id = v.package_id
	JOIN blobs b ON b.sha256 = f.blob_sha256
	WHERE p.owner_id = ? AND p.type = ? AND p.lower_name = ? AND v.lower_version = ? AND f.lower_name = ? AND f.superseded = 0`

func prepare(ctx context.Context, r, w *sql.DB) (*stmts, error) {
	q := &stmts{}
	list := []struct {
		db    *sql.DB
		dst   **sql.Stmt
		query string
	}{
		{r, &q.ownerByName, `SELECT ` + ownerCols + ` FROM owners WHERE lower_name = ?`},
		{r, &q.userByID, `SELECT ` + ownerCols + ` FROM owners WHERE id = ? AND kind = 'user'`},
		{r, &q.memberRole, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`},
		{r, &q.tokensByLastEight, `SELECT ` + tokenCols + ` FROM tokens WHERE last_eight = ?`},
		{r, &q.fileByName, fileQuery},
		{r, &q.inlineBlob, `SELECT content FROM blob_contents WHERE sha256 = ?`},
		{w, &q.upsertPackage, `INSERT INTO packages (owner_id, type, name, lower_name, created_at, last_upload_at, total_size) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (owner_id, type, lower_name) DO UPDATE SET ` + packageUpload + ` RETURNING id`},
		{w, &q.upsertVersion, `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (package_id, lower_version) DO UPDATE SET lower_version = excluded.lower_version RETURNING id`},
		{w, &q.insertBlob, `INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (sha256) DO NOTHING`},
		{w, &q.insertContent, insertContent},
		{w, &q.insertAudit, insertAuditQuery},
		{w, &q.countHooks, `SELECT COUNT(*)` + hooksOf},
		{w, &q.insertFile, `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`},
	}
	for _, s := range list {
		st, err := s.db.PrepareContext(ctx, s.query)
		if err != nil {
			q.close()
			return nil, fmt.Errorf("prepare %q: %w", s.query, err)
		}
		*s.dst = st
		q.all = append(q.all, st)
	}
	return q, nil
}

func (q *stmts) close() error {
	if q == nil {
		return nil
	}
	var err error
	for _, s := range q.all {
		err = errors.Join(err, s.Close())
	}
	return err
}

// insertContent keeps a blob's content inline (depot.NewFile.Content),
// replacing different bytes kept under the digest (found damaged: the new
// ones hash to it) and leaving the same ones alone.
const insertContent = `INSERT INTO blob_contents (sha256, content) VALUES (?, ?)
	ON CONFLICT (sha256) DO UPDATE SET content = excluded.content WHERE content <> excluded.content`

// storeContent writes nf's inline content, if any, in tx, after its blob
// record.
func (s *Store) storeContent(ctx context.Context, tx *sql.Tx, nf depot.NewFile) error {
	if nf.Content == nil {
		return nil
	}
	if _, err := tx.StmtContext(ctx, s.q.insertContent).ExecContext(ctx, nf.Blob.SHA256, nf.Content); err != nil {
		return fmt.Errorf("keep blob inline: %w", err)
	}
	return nil
}

// InlineBlob implements depot.Store.
func (s *Store) InlineBlob(ctx context.Context, sha256 string) ([]byte, error) {
	var b []byte
	if err := s.q.inlineBlob.QueryRowContext(quick(ctx), sha256).Scan(&b); err != nil {
		return nil, translate(err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// SetBlobDigests implements depot.DigestStore.
func (s *Store) SetBlobDigests(ctx context.Context, b depot.Blob) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE blobs SET md5 = ?, sha1 = ?, sha512 = ? WHERE sha256 = ? AND md5 = ''`,
			b.MD5, b.SHA1, b.SHA512, b.SHA256)
		return err
	})
}

// BlobsMissingDigests implements depot.DigestStore.
func (s *Store) BlobsMissingDigests(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT sha256 FROM blobs WHERE md5 = '' ORDER BY created_at LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.String)
}

// quick returns ctx without its cancellation, for the point lookups of the
// hot paths (an indexed row or two, microseconds). Given a cancellable
// context, the driver starts a goroutine per query to interrupt it when the
// context ends; for queries this short that costs more than the query (the
// scheduler profile of small downloads showed it) and can never help.
func quick(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
