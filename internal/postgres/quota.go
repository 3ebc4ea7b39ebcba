package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// OwnerQuota implements depot.QuotaStore.
func (s *Store) OwnerQuota(ctx context.Context, ownerID int64) (depot.QuotaOverride, error) {
	q, err := sqlrow.QuotaOverride(s.db.QueryRowContext(ctx, `SELECT max_versions, max_size, max_file_size FROM owner_quotas WHERE owner_id = $1`, ownerID))
	if errors.Is(err, sql.ErrNoRows) {
		return depot.QuotaOverride{}, nil
	}
	return q, err
}

// SetOwnerQuota implements depot.QuotaStore.
func (s *Store) SetOwnerQuota(ctx context.Context, ownerID int64, q depot.QuotaOverride) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if q.MaxVersions == nil && q.MaxSize == nil && q.MaxFileSize == nil {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM owners WHERE id = $1`, ownerID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return depot.ErrNotFound
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM owner_quotas WHERE owner_id = $1`, ownerID)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO owner_quotas (owner_id, max_versions, max_size, max_file_size) VALUES ($1, $2, $3, $4)
			ON CONFLICT (owner_id) DO UPDATE SET max_versions = EXCLUDED.max_versions, max_size = EXCLUDED.max_size, max_file_size = EXCLUDED.max_file_size`,
			ownerID, q.MaxVersions, q.MaxSize, q.MaxFileSize)
		return err
	})
}

// usageQuery counts an owner's versions and the bytes of its files (the
// packages' total_size, migration 00006), each through an index.
const usageQuery = `SELECT (SELECT COUNT(*) FROM versions WHERE owner_id = $1),
	(SELECT COALESCE(SUM(total_size), 0)::bigint FROM packages WHERE owner_id = $1)`

// OwnerUsage implements depot.QuotaStore.
func (s *Store) OwnerUsage(ctx context.Context, ownerID int64) (depot.Usage, error) {
	var u depot.Usage
	err := s.db.QueryRowContext(ctx, usageQuery, ownerID).Scan(&u.Versions, &u.Bytes)
	return u, err
}

// lockQuota serialises the quota-checked uploads of nf's owner: when nf
// has a quota, it locks the owner's row FOR NO KEY UPDATE as the
// transaction's first statement (so it waits for no row lock while
// holding it, and holds no row lock another quota-checked upload waits
// for). Foreign-key checks take only KEY SHARE on the row, so uploads
// without a quota (site admins') and other writes do not wait for it.
func lockQuota(ctx context.Context, tx *sql.Tx, nf depot.NewFile) error {
	if nf.Quota == nil {
		return nil
	}
	var id int64
	return tx.QueryRowContext(ctx, `SELECT id FROM owners WHERE id = $1 FOR NO KEY UPDATE`, nf.OwnerID).Scan(&id)
}

// checkQuota applies nf.Quota once the upload's rows are written, before
// its blob is committed. Under the owner's lock (lockQuota) every
// quota-checked upload of the owner before this one has committed, and
// READ COMMITTED gives this statement a snapshot that includes them.
// pending is what the package's total_size does not count yet (this
// file's size when recordUpload runs later).
func checkQuota(ctx context.Context, tx *sql.Tx, nf depot.NewFile, versionID, pending int64) error {
	if nf.Quota == nil {
		return nil
	}
	var u depot.Usage
	var files int64
	err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM versions WHERE owner_id = $1),
		(SELECT COALESCE(SUM(total_size), 0)::bigint FROM packages WHERE owner_id = $1),
		(SELECT COUNT(*) FROM files WHERE version_id = $2)`, nf.OwnerID, versionID).Scan(&u.Versions, &u.Bytes, &files)
	if err != nil {
		return err
	}
	u.Bytes += pending
	// A version holding only this file's row was created by this upload.
	return depot.CheckQuota(nf.Quota, u, files == 1, nf.Blob.Size)
}

// OwnerSettings implements depot.OwnerSettingsStore.
func (s *Store) OwnerSettings(ctx context.Context, ownerID int64) (*depot.OwnerSettings, error) {
	set := &depot.OwnerSettings{OwnerID: ownerID}
	var grace sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT immutable_grace_seconds FROM owner_settings WHERE owner_id = $1`, ownerID).Scan(&grace)
	if errors.Is(err, sql.ErrNoRows) {
		return set, nil
	} else if err != nil {
		return nil, err
	}
	if grace.Valid {
		set.ImmutableVersions, set.ImmutableGrace = true, time.Duration(grace.Int64)*time.Second
	}
	return set, nil
}

// SetOwnerSettings implements depot.OwnerSettingsStore.
func (s *Store) SetOwnerSettings(ctx context.Context, set *depot.OwnerSettings) error {
	var grace sql.NullInt64
	if set.ImmutableVersions {
		grace = sql.NullInt64{Int64: int64(set.ImmutableGrace / time.Second), Valid: true}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO owner_settings (owner_id, immutable_grace_seconds) VALUES ($1, $2)
			ON CONFLICT (owner_id) DO UPDATE SET immutable_grace_seconds = EXCLUDED.immutable_grace_seconds`, set.OwnerID, grace)
		return err
	})
}
