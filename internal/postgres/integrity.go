package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// BlobPage implements depot.Store.
func (s *Store) BlobPage(ctx context.Context, after string, limit int, ownerID int64) ([]depot.Blob, error) {
	q := `SELECT ` + sqlrow.BlobCols + ` FROM blobs b WHERE b.sha256 > $1`
	args := []any{after}
	if ownerID != 0 {
		q += ` AND EXISTS (SELECT 1 FROM files f JOIN versions v ON v.id = f.version_id
			WHERE f.blob_sha256 = b.sha256 AND v.owner_id = $2)`
		args = append(args, ownerID)
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY b.sha256 LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Blob)
}

// BlobFiles implements depot.Store.
func (s *Store) BlobFiles(ctx context.Context, sha256 string) ([]depot.BlobFile, error) {
	rows, err := s.db.QueryContext(ctx, strings.Replace(sqlrow.BlobFileQuery, "?", "$1", 1), sha256)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.BlobFile)
}

// MarkBlobDamaged implements depot.Store. A blob record deleted meanwhile
// (the foreign key fails) records nothing, as documented.
func (s *Store) MarkBlobDamaged(ctx context.Context, d depot.BlobDamage) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO damaged_blobs (sha256, problem, found_at)
			SELECT sha256, $1, $2 FROM blobs WHERE sha256 = $3
			ON CONFLICT (sha256) DO UPDATE SET problem = excluded.problem, found_at = excluded.found_at`,
			string(d.Problem), micros(d.FoundAt), d.SHA256)
		return err
	})
	if errors.Is(err, depot.ErrNotFound) { // 23503: the blob record went
		return nil
	}
	return err
}

// ClearBlobDamage implements depot.Store.
func (s *Store) ClearBlobDamage(ctx context.Context, sha256 string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM damaged_blobs WHERE sha256 = $1`, sha256)
		return err
	})
}

// DamagedBlobs implements depot.Store.
func (s *Store) DamagedBlobs(ctx context.Context) ([]depot.BlobDamage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.DamageCols+` FROM damaged_blobs ORDER BY sha256`)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.BlobDamage)
}

// storeContent writes nf's inline content (depot.NewFile.Content), if
// any, in tx, once the blob row is locked: it replaces different bytes
// kept under the digest (found damaged: the new ones hash to it) and
// leaves the same ones alone.
func storeContent(ctx context.Context, tx *sql.Tx, nf depot.NewFile) error {
	if nf.Content == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO blob_contents (sha256, content) VALUES ($1, $2)
		ON CONFLICT (sha256) DO UPDATE SET content = EXCLUDED.content WHERE blob_contents.content <> EXCLUDED.content`,
		nf.Blob.SHA256, nf.Content)
	if err != nil {
		return fmt.Errorf("keep blob inline: %w", err)
	}
	return nil
}

// InlineBlob implements depot.Store.
func (s *Store) InlineBlob(ctx context.Context, sha256 string) ([]byte, error) {
	var b []byte
	if err := s.db.QueryRowContext(ctx, `SELECT content FROM blob_contents WHERE sha256 = $1`, sha256).Scan(&b); err != nil {
		return nil, translate(err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// TryLease takes the session advisory lock named name (per schema) on a
// connection of its own, if no other session holds it, and returns the
// function that releases it. Replicas take it to run a pass of a job
// (the continuous verifier) one at a time; a replica that dies releases it
// with its connection.
func (s *Store) TryLease(ctx context.Context, name string) (release func(), ok bool, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close()
		return nil, false, err
	}
	h := fnv.New64a()
	h.Write([]byte("depot lease\x00" + schema + "\x00" + name))
	key := int64(h.Sum64())
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, true, nil
}
