package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// CreateResumableUpload implements depot.ResumableStore.
func (s *Store) CreateResumableUpload(ctx context.Context, u *depot.ResumableUpload) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO resumable_uploads (token, dialect, actor_id, owner, package, version, file, status,
			length, max_size, upload_offset, complete, hash_state, repr_sha256, created_at, expires_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id`, sqlrow.ResumableArgs(u)...).Scan(&u.ID)
	})
}

// ResumableUploadByToken implements depot.ResumableStore.
func (s *Store) ResumableUploadByToken(ctx context.Context, token string) (*depot.ResumableUpload, error) {
	return sqlrow.ResumableUpload(s.db.QueryRowContext(ctx, `SELECT `+sqlrow.ResumableCols+` FROM resumable_uploads WHERE token = $1`, token))
}

// AdvanceResumableUpload implements depot.ResumableStore.
func (s *Store) AdvanceResumableUpload(ctx context.Context, token string, from, to int64, hashState []byte, length int64, complete bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE resumable_uploads SET upload_offset = $1, hash_state = $2, length = $3, complete = $4
			WHERE token = $5 AND upload_offset = $6 AND NOT complete`, to, hashState, length, complete, token, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM resumable_uploads WHERE token = $1)`, token).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return depot.ErrNotFound
		}
		return depot.ErrConflict
	})
}

// DeleteResumableUpload implements depot.ResumableStore.
func (s *Store) DeleteResumableUpload(ctx context.Context, token string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `DELETE FROM resumable_uploads WHERE token = $1`, token))
	})
}

// ExpiredResumableUploads implements depot.ResumableStore.
func (s *Store) ExpiredResumableUploads(ctx context.Context, now time.Time, limit int) ([]*depot.ResumableUpload, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.ResumableCols+` FROM resumable_uploads WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2`, now.UnixMicro(), limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.ResumableUpload)
}
