package sqlite

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
	q, err := sqlrow.QuotaOverride(s.r.QueryRowContext(ctx, `SELECT max_versions, max_size, max_file_size FROM owner_quotas WHERE owner_id = ?`, ownerID))
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
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM owners WHERE id = ?`, ownerID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return depot.ErrNotFound
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM owner_quotas WHERE owner_id = ?`, ownerID)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO owner_quotas (owner_id, max_versions, max_size, max_file_size) VALUES (?, ?, ?, ?)
			ON CONFLICT (owner_id) DO UPDATE SET max_versions = excluded.max_versions, max_size = excluded.max_size, max_file_size = excluded.max_file_size`,
			ownerID, q.MaxVersions, q.MaxSize, q.MaxFileSize)
		return err
	})
}

// usageQuery counts an owner's versions and the bytes of its files (the
// packages' total_size, migration 00006), each through an index.
const usageQuery = `SELECT (SELECT COUNT(*) FROM versions WHERE owner_id = ?1),
	(SELECT COALESCE(SUM(total_size), 0) FROM packages WHERE owner_id = ?1)`

// OwnerUsage implements depot.QuotaStore.
func (s *Store) OwnerUsage(ctx context.Context, ownerID int64) (depot.Usage, error) {
	var u depot.Usage
	err := s.r.QueryRowContext(ctx, usageQuery, ownerID).Scan(&u.Versions, &u.Bytes)
	return u, err
}

// checkQuota applies nf.Quota at the end of an upload's statements in tx.
// SQLite's single writer runs every upload's statements one after the
// other (a group commit's too, each under its savepoint), so the usage it
// reads includes every upload recorded before and this one.
func checkQuota(ctx context.Context, tx *sql.Tx, nf depot.NewFile, versionID int64) error {
	if nf.Quota == nil {
		return nil
	}
	var u depot.Usage
	if err := tx.QueryRowContext(ctx, usageQuery, nf.OwnerID).Scan(&u.Versions, &u.Bytes); err != nil {
		return err
	}
	// A version holding only this file's row was created by this upload
	// (a version goes with its last file, superseded files stay rows).
	var files int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM files WHERE version_id = ?`, versionID).Scan(&files); err != nil {
		return err
	}
	return depot.CheckQuota(nf.Quota, u, files == 1, nf.Blob.Size)
}

// OwnerSettings implements depot.OwnerSettingsStore.
func (s *Store) OwnerSettings(ctx context.Context, ownerID int64) (*depot.OwnerSettings, error) {
	set := &depot.OwnerSettings{OwnerID: ownerID}
	var grace sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT immutable_grace_seconds FROM owner_settings WHERE owner_id = ?`, ownerID).Scan(&grace)
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
		_, err := tx.ExecContext(ctx, `INSERT INTO owner_settings (owner_id, immutable_grace_seconds) VALUES (?, ?)
			ON CONFLICT (owner_id) DO UPDATE SET immutable_grace_seconds = excluded.immutable_grace_seconds`, set.OwnerID, grace)
		return err
	})
}
