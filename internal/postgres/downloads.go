package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// AddDownloads implements depot.DownloadStore: three statements over
// arrays, in one transaction that locks versions before files (the order
// deletes lock them in), each in id order, so flushes of several replicas
// add up without deadlocking each other; additions are atomic row updates,
// so concurrent flushes never lose a count.
func (s *Store) AddDownloads(ctx context.Context, d depot.DownloadCounts) error {
	vIDs, vNs := sortedCounts(d.Versions)
	fIDs, fNs := sortedCounts(d.Files)
	keys := make([]depot.VersionDay, 0, len(d.Days))
	for k := range d.Days {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b depot.VersionDay) int {
		return cmp.Or(cmp.Compare(a.VersionID, b.VersionID), cmp.Compare(a.Day, b.Day))
	})
	dv, dd, dn := make([]int64, len(keys)), make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		dv[i], dd[i], dn[i] = k.VersionID, k.Day, d.Days[k]
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE versions v SET download_count = v.download_count + d.n
			FROM (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS d(id, n) ORDER BY id) d WHERE v.id = d.id`, vIDs, vNs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE files f SET download_count = f.download_count + d.n
			FROM (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS d(id, n) ORDER BY id) d WHERE f.id = d.id`, fIDs, fNs); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO download_days (version_id, day, count)
			SELECT d.v, d.day, d.n FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(v, day, n)
			WHERE EXISTS (SELECT 1 FROM versions WHERE id = d.v) ORDER BY d.v, d.day
			ON CONFLICT (version_id, day) DO UPDATE SET count = download_days.count + EXCLUDED.count`, dv, dd, dn)
		return err
	})
}

func sortedCounts(m map[int64]int64) (ids, ns []int64) {
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ns = append(ns, m[id])
	}
	return ids, ns
}

// VersionDownloads implements depot.DownloadStore.
func (s *Store) VersionDownloads(ctx context.Context, versionIDs []int64) (map[int64]int64, error) {
	return sqlrow.Counts(s.db.QueryContext(ctx, `SELECT id, download_count FROM versions WHERE id = ANY($1)`, versionIDs))
}

// FileDownloads implements depot.DownloadStore.
func (s *Store) FileDownloads(ctx context.Context, versionID int64) (map[int64]int64, error) {
	return sqlrow.Counts(s.db.QueryContext(ctx, `SELECT id, download_count FROM files WHERE version_id = $1`, versionID))
}

// PackageDownloadDays implements depot.DownloadStore.
func (s *Store) PackageDownloadDays(ctx context.Context, packageID, from int64) ([]depot.DayCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.day, SUM(d.count)::bigint FROM download_days d JOIN versions v ON v.id = d.version_id
		WHERE v.package_id = $1 AND d.day >= $2 GROUP BY d.day ORDER BY d.day`, packageID, from)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.DayCount)
}
