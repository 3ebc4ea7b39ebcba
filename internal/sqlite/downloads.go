package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// AddDownloads implements depot.DownloadStore: one transaction of single
// row updates (SQLite's single writer keeps them cheap).
func (s *Store) AddDownloads(ctx context.Context, d depot.DownloadCounts) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for id, n := range d.Versions {
			if _, err := tx.ExecContext(ctx, `UPDATE versions SET download_count = download_count + ? WHERE id = ?`, n, id); err != nil {
				return err
			}
		}
		for id, n := range d.Files {
			if _, err := tx.ExecContext(ctx, `UPDATE files SET download_count = download_count + ? WHERE id = ?`, n, id); err != nil {
				return err
			}
		}
		for k, n := range d.Days {
			if _, err := tx.ExecContext(ctx, `INSERT INTO download_days (version_id, day, count) SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM versions WHERE id = ?1)
				ON CONFLICT (version_id, day) DO UPDATE SET count = count + excluded.count`, k.VersionID, k.Day, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func idList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(ids)), ","), args
}

// VersionDownloads implements depot.DownloadStore.
func (s *Store) VersionDownloads(ctx context.Context, versionIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(versionIDs) == 0 {
		return out, nil
	}
	in, args := idList(versionIDs)
	return sqlrow.Counts(s.r.QueryContext(ctx, `SELECT id, download_count FROM versions WHERE id IN (`+in+`)`, args...))
}

// FileDownloads implements depot.DownloadStore.
func (s *Store) FileDownloads(ctx context.Context, versionID int64) (map[int64]int64, error) {
	return sqlrow.Counts(s.r.QueryContext(ctx, `SELECT id, download_count FROM files WHERE version_id = ?`, versionID))
}

// PackageDownloadDays implements depot.DownloadStore.
func (s *Store) PackageDownloadDays(ctx context.Context, packageID, from int64) ([]depot.DayCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT d.day, SUM(d.count) FROM download_days d JOIN versions v ON v.id = d.version_id
		WHERE v.package_id = ? AND d.day >= ? GROUP BY d.day ORDER BY d.day`, packageID, from)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.DayCount)
}
