package sqlite

import (
	"context"
	"database/sql"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// BlobPage implements depot.Store.
func (s *Store) BlobPage(ctx context.Context, after string, limit int, ownerID int64) ([]depot.Blob, error) {
	q := `SELECT ` + sqlrow.BlobCols + ` FROM blobs b WHERE b.sha256 > ?`
	args := []any{after}
	if ownerID != 0 {
		q += ` AND EXISTS (SELECT 1 FROM files f JOIN versions v ON v.id = f.version_id
			WHERE f.blob_sha256 = b.sha256 AND v.owner_id = ?)`
		args = append(args, ownerID)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY b.sha256 LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Blob)
}

// BlobFiles implements depot.Store.
func (s *Store) BlobFiles(ctx context.Context, sha256 string) ([]depot.BlobFile, error) {
	rows, err := s.r.QueryContext(ctx, sqlrow.BlobFileQuery, sha256)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.BlobFile)
}

// MarkBlobDamaged implements depot.Store.
func (s *Store) MarkBlobDamaged(ctx context.Context, d depot.BlobDamage) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO damaged_blobs (sha256, problem, found_at)
			SELECT sha256, ?, ? FROM blobs WHERE sha256 = ?
			ON CONFLICT (sha256) DO UPDATE SET problem = excluded.problem, found_at = excluded.found_at`,
			string(d.Problem), micros(d.FoundAt), d.SHA256)
		return err
	})
}

// ClearBlobDamage implements depot.Store.
func (s *Store) ClearBlobDamage(ctx context.Context, sha256 string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM damaged_blobs WHERE sha256 = ?`, sha256)
		return err
	})
}

// DamagedBlobs implements depot.Store.
func (s *Store) DamagedBlobs(ctx context.Context) ([]depot.BlobDamage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.DamageCols+` FROM damaged_blobs ORDER BY sha256`)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.BlobDamage)
}
